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
//   npm run bench:fanout [-- --step 25 --max 300 --clients 2]      (--smoke: 10 subscribers)

import { startViewers, type ViewerProc } from './lib/viewers.ts';
import { parseArgs } from 'node:util';
import { SyntheticPublisher } from '../workers/clients/webrtc.ts';
import { cpuSeconds, machine, pct, writeResult } from './lib/stats.ts';
import { startServerProc, type ServerProc } from './lib/server-proc.ts';

const { values } = parseArgs({
  options: {
    step: { type: 'string', default: '25' },
    max: { type: 'string', default: '300' },
    clients: { type: 'string', default: '2' },
    measure: { type: 'string', default: '5' },
    smoke: { type: 'boolean', default: false },
  },
});
const step = values.smoke ? 10 : Number(values.step);
const max = values.smoke ? 10 : Number(values.max);
const nClients = values.smoke ? 1 : Number(values.clients);
const measureSec = values.smoke ? 3 : Number(values.measure);

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
  };
}

async function main(): Promise<void> {
  const server = await startServerProc();
  const pub = await SyntheticPublisher.start({ whipUrl: `${server.url}/rooms/fanout/whip?name=noise`, color: [120, 120, 120], toneHz: 440, pattern: 'noise' });
  const viewers: ViewerProc[] = [];
  const steps: any[] = [];
  let limit = `reached --max ${max}`;
  try {
    // The room with its mixer running and one subscriber to start the 720p rung: the floor.
    for (let i = 0; i < nClients; i++) viewers.push(startViewers(`${server.url}/rooms/fanout/whep?level=720p`));
    await viewers[0].ask('add 1');
    await new Promise((r) => setTimeout(r, 4000));
    const floor = await measure(server, viewers);
    console.log(`  floor (1 subscriber): Node ${floor.nodeCores} cores, FFmpeg ${floor.ffmpegCores}, out ${floor.outMbps} Mbps, ${floor.videoPacketsPerSec} video packets/s, event loop p99 ${floor.eventLoopP99Ms} ms`);
    const lateMs = 20;
    const loopLimit = (floor.eventLoopP99Ms ?? 0) + lateMs;
    // The packet delay that decides is the server's own (serverDelayP95Ms); with werift's path
    // (no such figure) the viewers' fan-out spread, which also holds their processes' delay.
    const delayOf = (m: { fanoutDelayP95Ms: number | null; serverDelayP95Ms: number | null }) => m.serverDelayP95Ms ?? m.fanoutDelayP95Ms ?? 0;
    const missed = (m: { fanoutDelayP95Ms: number | null; serverDelayP95Ms: number | null; eventLoopP99Ms: number | null; worstDeliveredPercent: number | null }) =>
      delayOf(m) > lateMs || (m.eventLoopP99Ms ?? 0) > loopLimit || (m.worstDeliveredPercent ?? 100) < 99;
    let total = 1;
    while (total < max) {
      const n = Math.min(step, max - total);
      await Promise.all(viewers.map((v, k) => v.ask(`add ${Math.floor(n / nClients) + (k < n % nClients ? 1 : 0)}`)));
      total += n;
      await new Promise((r) => setTimeout(r, 3000));
      const m = { subscribers: total, ...(await measure(server, viewers)) };
      steps.push(m);
      console.log(`  ${total} subscribers: Node ${m.nodeCores} cores (viewers ${m.viewerCores}), FFmpeg ${m.ffmpegCores}, out ${m.outMbps} Mbps, server packet delay p95 ${m.serverDelayP95Ms} ms, viewers' fan-out spread p95 ${m.fanoutDelayP95Ms} ms, event loop p99 ${m.eventLoopP99Ms} ms, worst viewer got ${m.worstDeliveredPercent} % of its packets`);
      if (missed(m)) {
        limit =
          (m.eventLoopP99Ms ?? 0) > loopLimit
            ? `server event loop p99 ${m.eventLoopP99Ms} ms > floor + ${lateMs} = ${loopLimit} at ${total}`
            : delayOf(m) > lateMs
              ? `${m.serverDelayP95Ms !== null ? 'server packet delay' : 'fan-out delay'} p95 ${delayOf(m)} ms > ${lateMs} at ${total}`
              : `a viewer got ${m.worstDeliveredPercent} % < 99 % at ${total}`;
        break;
      }
    }
    const good = steps.filter((s) => !missed(s));
    const last = good[good.length - 1] ?? steps[steps.length - 1];
    const perSub = (last.nodeCores - floor.nodeCores) / (last.subscribers - 1);
    const result = {
      bench: 'fanout',
      sendPath: process.env.EGRESS_FAST_PATH === '0' ? 'werift (forced)' : 'fast path when built',
      date: new Date().toISOString(),
      machine: machine(),
      subscribersHeld: good.length ? last.subscribers : 0,
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
      steps,
    };
    console.log(
      `fanout: ${result.subscribersHeld} subscribers held (${limit}); ${result.subscribersPerCore} per core of Node (${result.marginalSubscribersPerCore} counting only forwarding), ${result.cpuPer100SubscribersCores} cores per 100 | floor: Node ${floor.nodeCores} cores with 1 | ratio ${result.ratioToFloor}x the floor's CPU at ${last.subscribers} | server packet delay p95 ${last.serverDelayP95Ms} ms at ${last.subscribers} (floor ${floor.serverDelayP95Ms}) | target >= 300 per core`,
    );
    console.log(`wrote ${writeResult(process.env.EGRESS_FAST_PATH === '0' ? 'fanout-werift' : 'fanout', values.smoke, result)}`);
  } finally {
    for (const v of viewers) {
      await v.ask('quit').catch(() => {});
      v.proc.kill();
    }
    await pub.close();
    await server.stop();
  }
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
