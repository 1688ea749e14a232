// Fan-out: how many subscribers one 720p composite feeds. One room, one publisher sending a
// noisy picture (so the 720p rung runs at its 1.5 Mbps cap), subscribers added in steps (RTP
// counted, no decoding, in child processes) until forwarding misses its deadlines: the
// server's event loop delayed 20 ms more than with one subscriber (p99; packets leave late) or subscribers
// receiving < 97 % of the video packets the best-served one got (dropped). Reports
// subscribers per core of the server's Node process (forwarding is Node's work; the encode is
// shared and flat) and CPU per 100 subscribers. Floor, same run: the server idle with the room
// and no subscribers.
//   npm run bench:fanout [-- --step 25 --max 300 --clients 2]      (--smoke: 10 subscribers)

import { spawn, type ChildProcess } from 'node:child_process';
import readline from 'node:readline';
import { parseArgs } from 'node:util';
import { SyntheticPublisher } from '../workers/clients/webrtc.ts';
import { machine, writeResult } from './lib/stats.ts';
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

interface ViewerProc {
  proc: ChildProcess;
  ask(cmd: string): Promise<any>;
}

function startViewers(url: string): ViewerProc {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'bench/lib/viewers-cli.ts', url], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = readline.createInterface({ input: proc.stdout! })[Symbol.asyncIterator]();
  return {
    proc,
    async ask(cmd: string) {
      proc.stdin!.write(`${cmd}\n`);
      return JSON.parse((await lines.next()).value as string);
    },
  };
}

async function measure(server: ServerProc, viewers: ViewerProc[]) {
  const before = await Promise.all(viewers.map((v) => v.ask('report')));
  const c0 = server.cpu();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, measureSec * 1000));
  const dt = (performance.now() - t0) / 1000;
  const c1 = server.cpu();
  const after = await Promise.all(viewers.map((v) => v.ask('report')));
  const stats = (await (await fetch(`${server.url}/stats?fresh`)).json()) as any;
  const got: number[] = [];
  after.forEach((a, k) => a.video.forEach((v: number, i: number) => got.push(v - (before[k].video[i] ?? 0))));
  const best = got.length ? Math.max(...got) : 0;
  const worst = got.length ? Math.min(...got) : 0;
  return {
    nodeCores: Math.round(((c1.node - c0.node) / dt) * 1000) / 1000,
    ffmpegCores: Math.round(((c1.ffmpeg - c0.ffmpeg) / dt) * 1000) / 1000,
    eventLoopP99Ms: stats.server.eventLoopDelayMs?.p99 ?? null,
    worstDeliveredPercent: best ? Math.round((worst / best) * 1000) / 10 : null,
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
    console.log(`  floor (1 subscriber): Node ${floor.nodeCores} cores, FFmpeg ${floor.ffmpegCores}, out ${floor.outMbps} Mbps, event loop p99 ${floor.eventLoopP99Ms} ms`);
    const lateMs = (floor.eventLoopP99Ms ?? 0) + 20;
    const missed = (m: { eventLoopP99Ms: number | null; worstDeliveredPercent: number | null }) => (m.eventLoopP99Ms ?? 0) > lateMs || (m.worstDeliveredPercent ?? 100) < 97;
    let total = 1;
    while (total < max) {
      const n = Math.min(step, max - total);
      await Promise.all(viewers.map((v, k) => v.ask(`add ${Math.floor(n / nClients) + (k < n % nClients ? 1 : 0)}`)));
      total += n;
      await new Promise((r) => setTimeout(r, 3000));
      const m = { subscribers: total, ...(await measure(server, viewers)) };
      steps.push(m);
      console.log(`  ${total} subscribers: Node ${m.nodeCores} cores, FFmpeg ${m.ffmpegCores}, out ${m.outMbps} Mbps, event loop p99 ${m.eventLoopP99Ms} ms, worst got ${m.worstDeliveredPercent} % of the best`);
      if (missed(m)) {
        limit = (m.eventLoopP99Ms ?? 0) > lateMs ? `event loop p99 ${m.eventLoopP99Ms} ms (floor + 20 = ${lateMs}) at ${total}` : `a subscriber got ${m.worstDeliveredPercent} % at ${total}`;
        break;
      }
    }
    const good = steps.filter((s) => !missed(s));
    const last = good[good.length - 1] ?? steps[steps.length - 1];
    const perSub = (last.nodeCores - floor.nodeCores) / (last.subscribers - 1);
    const result = {
      bench: 'fanout',
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
      target: { subscribersPerCore: 300 },
      steps,
    };
    console.log(
      `fanout: ${result.subscribersHeld} subscribers held (${limit}); ${result.subscribersPerCore} per core of Node (${result.marginalSubscribersPerCore} counting only forwarding), ${result.cpuPer100SubscribersCores} cores per 100 | floor: Node ${floor.nodeCores} cores with 1 | ratio ${result.ratioToFloor}x the floor's CPU at ${last.subscribers} | target >= 300 per core`,
    );
    console.log(`wrote ${writeResult('fanout', values.smoke, result)}`);
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
