// Fan-out: how many subscribers one 720p composite feeds. One room, one publisher sending a
// noisy picture (so the 720p rung runs at its 1.5 Mbps cap), subscribers added in steps (RTP
// counted from their clear-text RTP headers, no decryption or decoding, in child processes)
// until forwarding misses its deadlines: any viewer receiving < 99 % of the video packets its
// sequence numbers say were sent, the server's p95 packet delay (a mixer packet reaching the
// fan-out → its last subscriber's copy sent, /stats egressDelayMs; with werift's path, which has
// no such figure, the viewers' fan-out spread: a viewer's copy of a packet against the first
// copy any viewer of its process got) past 20 ms, or the server's event loop p99 20 ms
// past the one-subscriber floor's (a saturated server delays every viewer alike, which the
// fan-out spread does not show; arrival − RTP timestamp does not either: the mixer's RTP clock
// drifts from the wall clock when it falls behind). Reports subscribers per core of
// the server's Node process (forwarding is Node's work; the encode is shared and flat), CPU
// per 100 subscribers, and the viewers' own CPU beside it. Floor, same run: one subscriber.
// EGRESS_FAST_PATH=0 in the environment measures werift's own send path (docs/DEPLOY.md).
// --tracks N (#23): the room gets N more publishers (pre-encoded, from the start) and,
// after the mix viewers, the same ramp runs with viewers taking ?tracks=N (forwarded publisher
// video, no decode or encode) beside one mix subscriber; their subscribers per core are
// reported against the mix viewers' of the same run and their own floor (bench/results/fanout-tracks.json).
//   npm run bench:fanout [-- --step 25 --max 300 --clients 2 --tracks 3]      (--smoke: 10 subscribers)

import { startViewers, type ViewerProc } from './lib/viewers.ts';
import { parseArgs } from 'node:util';
import { SyntheticPublisher } from '../workers/clients/webrtc.ts';
import { cpuSeconds, machine, pct, writeResult } from './lib/stats.ts';
import { startServerProc, type ServerProc } from './lib/server-proc.ts';
import { RtpPublisher } from './lib/RtpPublisher.ts';
import { videoFixture } from './lib/fixtures.ts';
import { FLOOR_COLOURS } from './lib/floor.ts';

const { values } = parseArgs({
  options: {
    step: { type: 'string', default: '25' },
    max: { type: 'string', default: '300' },
    clients: { type: 'string', default: '2' },
    measure: { type: 'string', default: '5' },
    tracks: { type: 'string', default: '0' },
    smoke: { type: 'boolean', default: false },
  },
});
const step = values.smoke ? 10 : Number(values.step);
const max = values.smoke ? 10 : Number(values.max);
const nClients = values.smoke ? 1 : Number(values.clients);
const measureSec = values.smoke ? 3 : Number(values.measure);
/** --tracks N: after the mix viewers, the same ramp of viewers taking ?tracks=N (0: none). */
const tracks = Number(values.tracks);

async function measure(server: ServerProc, viewers: ViewerProc[]) {
  const before = await Promise.all(viewers.map((v) => v.ask('report')));
  const c0 = server.cpu();
  const v0 = viewers.reduce((s, v) => s + cpuSeconds(v.proc.pid!), 0);
  const t0 = performance.now();
  // The server's own fan-out delay, one p95 per second (the Monitor resets it when it samples).
  const serverDelay: number[] = [];
  const loopP99: number[] = [];
  let stats: any = null;
  while (performance.now() - t0 < measureSec * 1000) {
    await new Promise((r) => setTimeout(r, Math.min(1000, t0 + measureSec * 1000 - performance.now())));
    stats = await (await fetch(`${server.url}/stats?fresh`)).json();
    if (typeof stats.server.egressDelayMs?.p95 === 'number') serverDelay.push(stats.server.egressDelayMs.p95);
    if (typeof stats.server.eventLoopDelayMs?.p99 === 'number') loopP99.push(stats.server.eventLoopDelayMs.p99);
  }
  const dt = (performance.now() - t0) / 1000;
  const c1 = server.cpu();
  const v1 = viewers.reduce((s, v) => s + cpuSeconds(v.proc.pid!), 0);
  const after = await Promise.all(viewers.map((v) => v.ask('report')));
  const got: number[] = [];
  after.forEach((a, k) => a.video.forEach((v: number, i: number) => got.push(v - (before[k].video[i] ?? 0))));
  const shares: number[] = [];
  for (const a of after) a.expected.forEach((e: number, i: number) => e > 0 && shares.push(Math.min(1, a.received[i] / e)));
  const delays = after.map((a) => a.delayP95Ms).filter((d): d is number => typeof d === 'number');
  return {
    nodeCores: Math.round(((c1.node - c0.node) / dt) * 1000) / 1000,
    ffmpegCores: Math.round(((c1.ffmpeg - c0.ffmpeg) / dt) * 1000) / 1000,
    /** Per-second p99s, their median (one GC pause does not decide a step). */
    eventLoopP99Ms: loopP99.length ? pct(loopP99, 50) : null,
    viewerCores: Math.round(((v1 - v0) / dt) * 1000) / 1000,
    worstDeliveredPercent: shares.length ? Math.round(Math.min(...shares) * 1000) / 10 : null,
    fanoutDelayP95Ms: delays.length ? Math.max(...delays) : null,
    /** Server side: mixer packet at the fan-out → its last copy sent; per-second p95s, their median (fast path only). */
    serverDelayP95Ms: serverDelay.length ? pct(serverDelay, 50) : null,
    serverDelayWorstSecondP95Ms: serverDelay.length ? Math.max(...serverDelay) : null,
    videoPacketsPerSec: got.length ? Math.round(Math.max(...got) / dt) : 0,
    outMbps: Math.round(stats.server.bandwidthKbps.out / 100) / 10,
    /** The publishers' decoded frame rates (a publisher slowing down would make forwarding look cheaper). */
    publisherFps: (((await (await fetch(`${server.url}/rooms/fanout`)).json()) as any).participants as any[]).map((p) => p.decode?.fps ?? null),
  };
}

type Measured = Awaited<ReturnType<typeof measure>>;
type Step = Measured & { subscribers: number };
const LATE_MS = 20;
// The packet delay that decides is the server's own (serverDelayP95Ms); with werift's path
// (no such figure) the viewers' fan-out spread, which also holds their processes' delay.
const delayOf = (m: Measured) => m.serverDelayP95Ms ?? m.fanoutDelayP95Ms ?? 0;

/**
 * Subscribers added `step` at a time over `viewers` (on top of `base` already connected) until
 * one misses (delay, event loop past the floor's + 20 ms, delivery) or `max` is reached.
 */
async function ramp(server: ServerProc, viewers: ViewerProc[], base: number, floor: Measured, label: string) {
  const loopLimit = (floor.eventLoopP99Ms ?? 0) + LATE_MS;
  const missed = (m: Measured) => delayOf(m) > LATE_MS || (m.eventLoopP99Ms ?? 0) > loopLimit || (m.worstDeliveredPercent ?? 100) < 99;
  const steps: Step[] = [];
  let limit = `reached --max ${max}`;
  let total = base;
  while (total < max) {
    const n = Math.min(step, max - total);
    await Promise.all(viewers.map((v, k) => v.ask(`add ${Math.floor(n / viewers.length) + (k < n % viewers.length ? 1 : 0)}`)));
    total += n;
    await new Promise((r) => setTimeout(r, 3000));
    const m = { subscribers: total, ...(await measure(server, viewers)) };
    steps.push(m);
    console.log(`  ${label}${total} subscribers: Node ${m.nodeCores} cores (viewers ${m.viewerCores}), FFmpeg ${m.ffmpegCores}, out ${m.outMbps} Mbps, server packet delay p95 ${m.serverDelayP95Ms} ms, viewers' fan-out spread p95 ${m.fanoutDelayP95Ms} ms, event loop p99 ${m.eventLoopP99Ms} ms, worst viewer got ${m.worstDeliveredPercent} % of its packets${tracks > 0 ? `, ${m.videoPacketsPerSec} video packets/s (most of a viewer), publishers at ${m.publisherFps.join('/')} fps` : ''}`);
    if (missed(m)) {
      limit =
        (m.eventLoopP99Ms ?? 0) > loopLimit
          ? `server event loop p99 ${m.eventLoopP99Ms} ms > floor + ${LATE_MS} = ${loopLimit} at ${total}`
          : delayOf(m) > LATE_MS
            ? `${m.serverDelayP95Ms !== null ? 'server packet delay' : 'fan-out delay'} p95 ${delayOf(m)} ms > ${LATE_MS} at ${total}`
            : `a viewer got ${m.worstDeliveredPercent} % < 99 % at ${total}`;
      break;
    }
  }
  const good = steps.filter((x) => !missed(x));
  const last = good[good.length - 1] ?? steps[steps.length - 1];
  return { steps, limit, held: good.length ? last.subscribers : 0, last };
}

async function quitAll(viewers: ViewerProc[]): Promise<void> {
  for (const v of viewers) {
    await v.ask('quit').catch(() => {});
    v.proc.kill();
  }
  viewers.length = 0;
}

async function main(): Promise<void> {
  const server = await startServerProc();
  // --tracks N: N more publishers (pre-encoded 360p, answering a PLI with their loop's next
  // keyframe), from the start, so the mix viewers see the same room the tracks viewers do. They
  // join first and the noise publisher is silent: no one speaks, so the N slots hold them (the
  // earliest joiners). The noise publisher's live encoder, in a slot, fell to 0 fps under the
  // keyframe requests of tracks viewers joining (2026-11-27), which made forwarding look cheaper.
  const more: RtpPublisher[] = [];
  for (let i = 0; i < tracks; i++) more.push(await RtpPublisher.whip(`${server.url}/rooms/fanout/whip?name=p${i}`, await videoFixture(FLOOR_COLOURS[i % 4]), null, { keyframeOnPli: true }));
  const pub = await SyntheticPublisher.start({ whipUrl: `${server.url}/rooms/fanout/whip?name=noise`, color: [120, 120, 120], toneHz: tracks > 0 ? null : 440, pattern: 'noise' });
  const viewers: ViewerProc[] = [];
  try {
    // The room with its mixer running and one subscriber to start the 720p rung: the floor.
    for (let i = 0; i < nClients; i++) viewers.push(startViewers(`${server.url}/rooms/fanout/whep?level=720p`));
    await viewers[0].ask('add 1');
    await new Promise((r) => setTimeout(r, 4000));
    const floor = await measure(server, viewers);
    console.log(`  floor (1 subscriber): Node ${floor.nodeCores} cores, FFmpeg ${floor.ffmpegCores}, out ${floor.outMbps} Mbps, ${floor.videoPacketsPerSec} video packets/s, event loop p99 ${floor.eventLoopP99Ms} ms`);
    const mix = await ramp(server, viewers, 1, floor, '');
    const { last, limit } = mix;
    const perSub = (last.nodeCores - floor.nodeCores) / (last.subscribers - 1);
    const result: Record<string, unknown> = {
      bench: 'fanout',
      sendPath: process.env.EGRESS_FAST_PATH === '0' ? 'werift (forced)' : 'fast path when built',
      date: new Date().toISOString(),
      machine: machine(),
      subscribersHeld: mix.held,
      limit,
      compositeMbps: Math.round((last.outMbps / last.subscribers) * 100) / 100,
      subscribersPerCore: Math.round(last.subscribers / last.nodeCores),
      marginalSubscribersPerCore: perSub > 0 ? Math.round(1 / perSub) : null,
      cpuPer100SubscribersCores: Math.round(perSub * 100 * 100) / 100,
      floor,
      /** Node's CPU at the last step held against the floor's (one subscriber). */
      ratioToFloor: Math.round((last.nodeCores / floor.nodeCores) * 100) / 100,
      serverDelayP95Ms: { atHeld: last.serverDelayP95Ms, floor: floor.serverDelayP95Ms },
      target: { subscribersPerCore: 300 },
      steps: mix.steps,
    };
    console.log(
      `fanout: ${result.subscribersHeld} subscribers held (${limit}); ${result.subscribersPerCore} per core of Node (${result.marginalSubscribersPerCore} counting only forwarding), ${result.cpuPer100SubscribersCores} cores per 100 | floor: Node ${floor.nodeCores} cores with 1 | ratio ${result.ratioToFloor}x the floor's CPU at ${last.subscribers} | server packet delay p95 ${last.serverDelayP95Ms} ms at ${last.subscribers} (floor ${floor.serverDelayP95Ms}) | target >= 300 per core`,
    );
    if (tracks > 0) result.tracks = await tracksPhase(server, viewers, result.subscribersPerCore as number, result.marginalSubscribersPerCore as number | null);
    console.log(`wrote ${writeResult(process.env.EGRESS_FAST_PATH === '0' ? 'fanout-werift' : tracks > 0 ? 'fanout-tracks' : 'fanout', values.smoke, result)}`);
  } finally {
    await quitAll(viewers);
    for (const p of more) await p.close();
    await pub.close();
    await server.stop();
  }
  process.exit(0);
}

/**
 * The same ramp with viewers taking ?tracks=N (the publishers' own video forwarded, no decode
 * or encode for them) instead of the mix: the mix viewers leave, one mix subscriber stays (the
 * floor again: the mixer and its 720p rung run as before), then tracks viewers are added.
 */
async function tracksPhase(server: ServerProc, viewers: ViewerProc[], mixPerCore: number, mixMarginal: number | null) {
  await quitAll(viewers);
  viewers.push(startViewers(`${server.url}/rooms/fanout/whep?level=720p`));
  await viewers[0].ask('add 1');
  await new Promise((r) => setTimeout(r, 3000));
  const floor = await measure(server, viewers);
  console.log(`  tracks=${tracks}: floor again (1 mix subscriber): Node ${floor.nodeCores} cores, event loop p99 ${floor.eventLoopP99Ms} ms`);
  const tv: ViewerProc[] = [];
  for (let i = 0; i < nClients; i++) tv.push(startViewers(`${server.url}/rooms/fanout/whep?tracks=${tracks}`));
  viewers.push(...tv);
  const t = await ramp(server, viewers, 1, floor, `tracks=${tracks} (1 of them the mix subscriber): `);
  const n = t.last.subscribers - 1; // tracks viewers at the last step held
  const perSub = (t.last.nodeCores - floor.nodeCores) / n;
  const r = {
    tracks,
    subscribersHeld: t.held ? n : 0,
    limit: t.limit,
    subscribersPerCore: Math.round(t.last.subscribers / t.last.nodeCores),
    marginalSubscribersPerCore: perSub > 0 ? Math.round(1 / perSub) : null,
    cpuPer100SubscribersCores: Math.round(perSub * 100 * 100) / 100,
    floor,
    ratioToFloor: Math.round((t.last.nodeCores / floor.nodeCores) * 100) / 100,
    /** Tracks viewers per core against mix viewers per core, same run (each tracks viewer gets N streams). */
    ratioToMixPerCore: Math.round((t.last.subscribers / t.last.nodeCores / mixPerCore) * 100) / 100,
    ratioToMixMarginal: perSub > 0 && mixMarginal ? Math.round((1 / perSub / mixMarginal) * 100) / 100 : null,
    steps: t.steps,
  };
  console.log(
    `fanout tracks=${tracks}: ${r.subscribersHeld} tracks subscribers held (${t.limit}); ${r.subscribersPerCore} per core of Node (${r.marginalSubscribersPerCore} counting only forwarding), ${r.cpuPer100SubscribersCores} cores per 100 | against the mix: ${r.ratioToMixPerCore}x per core (${r.ratioToMixMarginal}x counting only forwarding) | floor: Node ${floor.nodeCores} cores with 1 mix subscriber | ratio ${r.ratioToFloor}x the floor's CPU at ${t.last.subscribers}`,
  );
  return r;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
