// Cluster: what a webinar edge saves its owner. Two CLUSTER=1 nodes (one private Redis): the
// owner (region a) hosts a webinar with 2 hosts (one sends a noisy picture, so the 720p rung
// runs at its cap); N viewers (RTP counted from clear-text headers in a child process, no
// decryption) watch it first straight from the owner, then through the edge (region b), which
// pulls the mix once. The owner's Node CPU in each phase, against its floor measured in the same
// run (the webinar with no viewer), gives viewers served per owner core with and without the
// edge, printed as their ratio.
//   npm run bench:cluster [-- --viewers 30 --measure 8]      (--smoke: 6 viewers, 3 s)

import { startViewers, type ViewerProc } from './lib/viewers.ts';
import { parseArgs } from 'node:util';
import { SyntheticPublisher } from '../workers/clients/webrtc.ts';
import { cpuSeconds, machine, writeResult } from './lib/stats.ts';
import { startServerProc, type ServerProc } from './lib/server-proc.ts';
import { testRedis } from '../test/helpers/redis.ts';

const { values } = parseArgs({
  options: {
    viewers: { type: 'string', default: '30' },
    measure: { type: 'string', default: '8' },
    smoke: { type: 'boolean', default: false },
  },
});
const N = values.smoke ? 6 : Number(values.viewers);
const measureSec = values.smoke ? 3 : Number(values.measure);
const ROOM = 'bench-cluster';

async function stopViewers(v: ViewerProc): Promise<void> {
  const exited = new Promise((r) => v.proc.once('exit', r));
  await v.ask('quit').catch(() => {});
  await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
  v.proc.kill();
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d;

/** CPU cores of the owner's and the edge's Node processes (and the owner's FFmpeg) over the window; viewers' packets. */
async function measure(owner: ServerProc, edge: ServerProc, viewers: ViewerProc | null) {
  const before = viewers ? await viewers.ask('report') : null;
  const [o0, e0] = [owner.cpu(), edge.cpu()];
  const t0 = performance.now();
  await sleep(measureSec * 1000);
  const dt = (performance.now() - t0) / 1000;
  const [o1, e1] = [owner.cpu(), edge.cpu()];
  const after = viewers ? await viewers.ask('report') : null;
  const got: number[] = after ? after.video.map((v: number, i: number) => v - (before.video[i] ?? 0)) : [];
  const shares: number[] = after ? after.expected.map((e: number, i: number) => (e > 0 ? Math.min(1, after.received[i] / e) : 0)) : [];
  const room = (await (await fetch(`${owner.url}/rooms/${ROOM}`)).json()) as any;
  return {
    ownerNodeCores: round((o1.node - o0.node) / dt),
    ownerFfmpegCores: round((o1.ffmpeg - o0.ffmpeg) / dt),
    edgeNodeCores: round((e1.node - e0.node) / dt),
    ownerSubscriptions: room.subscriptions?.length ?? 0,
    minVideoPacketsPerSec: got.length ? Math.round(Math.min(...got) / dt) : 0,
    worstDeliveredPercent: shares.length ? round(Math.min(...shares) * 100, 1) : null,
  };
}

async function phase(name: string, owner: ServerProc, edge: ServerProc, url: string) {
  const viewers = startViewers(url);
  const added = await viewers.ask(`add ${N}`);
  if (added.failed) throw new Error(`${name}: ${added.failed} of ${N} viewers failed to connect`);
  await sleep(4000);
  const m = await measure(owner, edge, viewers);
  await stopViewers(viewers);
  console.log(
    `  ${name}: ${N} viewers → owner Node ${m.ownerNodeCores} cores (FFmpeg ${m.ownerFfmpegCores}), edge Node ${m.edgeNodeCores}; owner subscriptions ${m.ownerSubscriptions}; slowest viewer ${m.minVideoPacketsPerSec} video packets/s, worst got ${m.worstDeliveredPercent} %`,
  );
  return m;
}

async function main(): Promise<void> {
  const redis = await testRedis();
  const env = (id: string, region: string) => ({ CLUSTER: '1', REDIS_URL: redis.url, NODE_ID: id, REGION: region, ROOM_IDLE_MS: '60000', EDGE_LINGER_MS: '1000' });
  const owner = await startServerProc(env('owner', 'a'));
  const edge = await startServerProc(env('edge', 'b'));
  const hosts: SyntheticPublisher[] = [];
  try {
    const put = await fetch(`${owner.url}/rooms/${ROOM}`, { method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: '{"mode":"webinar"}' });
    if (put.status !== 201) throw new Error(`PUT room: ${put.status} ${await put.text()}`);
    for (const [name, pattern] of [['Noise', 'noise'], ['Grey', undefined]] as const) {
      const grant = (await (await fetch(`${owner.url}/rooms/${ROOM}/hosts`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ name }) })).json()) as any;
      hosts.push(await SyntheticPublisher.start({ whipUrl: `${owner.url}${grant.whip}`, color: [120, 120, 120], toneHz: 440, pattern }));
    }
    // The edge learns the room is a webinar from the owner's next heartbeat.
    await sleep(5000);
    const floor = await measure(owner, edge, null);
    console.log(`  floor (the webinar, no viewer): owner Node ${floor.ownerNodeCores} cores, FFmpeg ${floor.ownerFfmpegCores}; edge Node ${floor.edgeNodeCores}`);
    const direct = await phase('direct', owner, edge, `${owner.url}/rooms/${ROOM}/whep?level=720p`);
    await sleep(3000);
    const viaEdge = await phase('edge', owner, edge, `${edge.url}/rooms/${ROOM}/whep?level=720p&region=b`);
    if (viaEdge.ownerSubscriptions !== 1) throw new Error(`the owner had ${viaEdge.ownerSubscriptions} subscriptions with ${N} edge viewers (expected 1: the edge's pull)`);
    // Viewers per core of the owner's Node process (what forwarding costs it; the encode is shared).
    const perCore = (cores: number) => round(N / Math.max(cores, 0.001), 0);
    const marginal = (cores: number) => round(Math.max(cores - floor.ownerNodeCores, 0), 3);
    const result = {
      bench: 'cluster',
      date: new Date().toISOString(),
      machine: machine(),
      viewers: N,
      measureSec,
      floor,
      direct,
      edge: viaEdge,
      ownerViewersPerCore: { direct: perCore(direct.ownerNodeCores), edge: perCore(viaEdge.ownerNodeCores) },
      /** The owner's Node CPU above its floor: what N viewers cost it. */
      ownerCostCores: { direct: marginal(direct.ownerNodeCores), edge: marginal(viaEdge.ownerNodeCores) },
      /** Owner Node CPU with N direct viewers over the same with N edge viewers. */
      ratio: round(direct.ownerNodeCores / Math.max(viaEdge.ownerNodeCores, 0.001), 2),
      /** Each against the floor's: direct / floor and edge / floor. */
      ratioToFloor: { direct: round(direct.ownerNodeCores / floor.ownerNodeCores, 2), edge: round(viaEdge.ownerNodeCores / floor.ownerNodeCores, 2) },
    };
    console.log(
      `cluster: owner Node ${direct.ownerNodeCores} cores with ${N} direct viewers vs ${viaEdge.ownerNodeCores} with ${N} edge viewers (floor ${floor.ownerNodeCores}): ratio ${result.ratio}x; viewers per owner core ${result.ownerViewersPerCore.direct} direct, ${result.ownerViewersPerCore.edge} through the edge | the edge's Node ${viaEdge.edgeNodeCores} cores`,
    );
    console.log(`wrote ${writeResult('cluster', values.smoke, result)}`);
  } finally {
    await Promise.all(hosts.map((h) => h.close().catch(() => {})));
    await Promise.all([owner.stop(), edge.stop()].map((p) => p.catch(() => {})));
    await redis.stop();
  }
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
