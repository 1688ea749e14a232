// CLUSTER=1 webinar edges: three node processes (one private Redis). A webinar with 2 hosts is
// owned by node 1 (region a); 30 viewers ask nodes 2 (region b) and 3 (region c) — some of them
// node 2 for region c, which it hands to node 3. Every viewer gets the composite (RTP viewers:
// keyframes and packets; one decoding viewer per edge: both hosts' colours), and node 1 has
// exactly one subscription per edge and rung (the edges' pulls). kill -9 of node 3: its viewers
// reconnect through node 2 and are served there. An edge drops its pulls EDGE_LINGER_MS after its
// last viewer left.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startServerProc, type ServerProc } from '../../bench/lib/server-proc.ts';
import { RtpPublisher } from '../../bench/lib/RtpPublisher.ts';
import { audioFixture, videoFixture } from '../../bench/lib/fixtures.ts';
import { testRedis, redisUnavailableReason, type TestRedis } from '../helpers/redis.ts';
import { waitFor } from '../helpers/peers.ts';
import { startRtpSubscriber, type RtpSubscriber } from '../helpers/rtp-subscriber.ts';
import { WhepSubscriber } from '../../workers/clients/webrtc.ts';
import { colorAt, colorDistance, type Rgb } from '../helpers/media.ts';
import { skip } from '../helpers/skip.ts';
import { json } from '../helpers/json.ts';
import { NodeLogs, printingLogs } from '../helpers/node-logs.ts';

const RED: Rgb = [220, 30, 30];
const BLUE: Rgb = [30, 30, 220];
const ROOM = 'edge-webinar';
const LINGER_MS = 3000;

interface Viewer {
  sub: RtpSubscriber;
  /** The node the viewer asked, and the region it gave. */
  asked: ServerProc;
  region: string;
}
interface Ctx {
  redis: TestRedis | null;
  nodes: ServerProc[];
  killed: Set<number>;
  hosts: RtpPublisher[];
  viewers: Viewer[];
  decoders: WhepSubscriber[];
  /** Each node's log (LOG_FILE), printed when a test fails. */
  logs: NodeLogs;
}
const test = suite<Ctx>('cluster-edge');

const origin = (u: string) => new URL(u).origin;
const pullsOf = async (n: ServerProc) => (await json(`${n.url}/cluster/edges`)).pulls.filter((p: any) => p.room === ROOM);
const ownerSubscriptions = async (owner: ServerProc) => (await json(`${owner.url}/rooms/${ROOM}`)).subscriptions as any[];

async function connectViewers(ctx: Ctx, asks: Array<{ node: ServerProc; region: string }>): Promise<Viewer[]> {
  const out: Viewer[] = [];
  // A few at a time: 30 DTLS handshakes at once on a shared 2-core box is a load test, not this one.
  for (let i = 0; i < asks.length; i += 5) {
    const batch = await Promise.all(
      asks.slice(i, i + 5).map(async ({ node, region }) => ({ sub: await startRtpSubscriber(`${node.url}/rooms/${ROOM}/whep?level=360p&region=${region}`, 'VP8'), asked: node, region })),
    );
    out.push(...batch);
  }
  ctx.viewers.push(...out);
  return out;
}

const receiving = (v: Viewer, since: Map<Viewer, number>) => v.sub.keyframeTimes.length > 0 && v.sub.videoPackets() > (since.get(v) ?? 0) + 30 && v.sub.audioPackets() > 20;

/** Every viewer has a keyframe and packets (video and audio) beyond what it had at `since`. */
async function allReceiving(viewers: Viewer[], what: string, since = new Map<Viewer, number>()): Promise<void> {
  await waitFor(() => viewers.every((v) => receiving(v, since)), 30_000, () => {
      const late = viewers.filter((v) => !receiving(v, since));
      const byNode = new Map<string, Viewer[]>();
      for (const v of late) byNode.set(origin(v.sub.location), [...(byNode.get(origin(v.sub.location)) ?? []), v]);
      const detail = [...byNode].map(([node, vs]) => `${node}: ${vs.length} (keyframes ${vs.map((v) => v.sub.keyframeTimes.length).join('/')}; video ${vs.map((v) => v.sub.videoPackets()).join('/')}; audio ${vs.map((v) => v.sub.audioPackets()).join('/')})`);
      return `${what}: ${late.length} of ${viewers.length} viewers without a keyframe and packets; ${detail.join('; ')}`;
    }, 250);
}

const logged = printingLogs(test, (ctx) => ctx.logs);

test.before(async (ctx) => {
  Object.assign(ctx, { nodes: [], killed: new Set(), hosts: [], viewers: [], decoders: [], redis: null, logs: new NodeLogs() });
  if (redisUnavailableReason()) return;
  ctx.redis = await testRedis();
  const regions = ['a', 'b', 'c'];
  for (const i of [1, 2, 3]) {
    ctx.nodes.push(await startServerProc({ CLUSTER: '1', REDIS_URL: ctx.redis.url, NODE_ID: `node${i}`, REGION: regions[i - 1], ROOM_IDLE_MS: '10000', EDGE_LINGER_MS: String(LINGER_MS), LOG_FILE: ctx.logs.file(`node${i}`) }));
  }
  await waitFor(async () => (await json(`${ctx.nodes[0].url}/cluster/nodes`)).nodes.length === 3, 10_000, 'three nodes in Redis');
});

test.after(async (ctx) => {
  await Promise.all([...ctx.viewers.map((v) => v.sub.close()), ...ctx.decoders.map((d) => d.close()), ...ctx.hosts.map((h) => h.close())].map((p) => p.catch(() => {})));
  await Promise.all(ctx.nodes.filter((n) => !ctx.killed.has(n.pid)).map((n) => n.stop().catch(() => {})));
  await ctx.redis?.stop();
  ctx.logs.close();
});

logged('2 hosts on node 1, 30 viewers over nodes 2 and 3: all get the composite; node 1 has one subscription per edge and rung', async (ctx) => {
  const reason = redisUnavailableReason();
  if (reason) return skip(reason);
  const [n1, n2, n3] = ctx.nodes;
  // Fixtures first: an empty room closes after ROOM_IDLE_MS.
  const [red, blue, audio] = await Promise.all([videoFixture(RED), videoFixture(BLUE), audioFixture()]);
  const put = await fetch(`${n2.url}/rooms/${ROOM}?region=a`, { method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: '{"mode":"webinar"}' });
  assert.is(put.status, 201, await put.clone().text());
  assert.is(put.headers.get('x-mcu-node'), 'node1');
  for (const [name, video] of [['Red', red], ['Blue', blue]] as const) {
    const grant = await json(`${n1.url}/rooms/${ROOM}/hosts`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ name }) });
    ctx.hosts.push(await RtpPublisher.whip(`${n1.url}${grant.whip}`, video, audio, { keyframeOnPli: true }));
  }
  // Node 1's heartbeat must list the room as a webinar before the edges serve it.
  await waitFor(async () => (await json(`${n2.url}/rooms`)).rooms.some((r: any) => r.name === ROOM && r.participants === 2), 10_000, 'the webinar in node 1\'s record');

  // One decoding viewer per edge (720p): both hosts' colours in the composite.
  for (const [node, region] of [[n2, 'b'], [n3, 'c']] as const) {
    const d = await WhepSubscriber.start({ whepUrl: `${node.url}/rooms/${ROOM}/whep?region=${region}` });
    ctx.decoders.push(d);
    assert.is(origin(d.location), node.url, `the decoding viewer asked ${node.url} and is served there`);
  }
  const t0 = performance.now();
  const asks = [
    ...Array.from({ length: 10 }, () => ({ node: n2, region: 'b' })),
    ...Array.from({ length: 9 }, () => ({ node: n3, region: 'c' })),
    // Asked node 2 for region c: node 2 hands them to node 3 (the Location says so).
    ...Array.from({ length: 9 }, () => ({ node: n2, region: 'c' })),
  ];
  const viewers = await connectViewers(ctx, asks);
  console.log(`edge: 28 RTP viewers connected in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  for (const v of viewers) assert.is(origin(v.sub.location), v.region === 'b' ? n2.url : n3.url, `a viewer of region ${v.region} asking ${v.asked.url}`);
  await allReceiving(viewers, 'the composite at every edge viewer');

  const tiles = (await json(`${n1.url}/rooms/${ROOM}`)).layout.tiles;
  assert.is(tiles.length, 2);
  for (const d of ctx.decoders) {
    let seen = 'no frame';
    await waitFor(() => {
      const f = d.lastFrame();
      if (!f) return false;
      const colours = tiles.map((t: any) => colorAt(f, t.video.x + t.video.width / 2, t.video.y + t.video.height / 2, 6));
      seen = `${f.width}x${f.height}, tiles ${colours.map((c: Rgb) => c.join(',')).join(' / ')}`;
      return [RED, BLUE].every((c) => colours.some((x: Rgb) => colorDistance(x, c) < 60));
    }, 20_000, () => `both hosts' colours decoded from ${origin(d.location)} (last frame: ${seen}; ${d.frameCount()} frames decoded)`);
  }

  // The owner: one subscription per edge and rung (720p, 360p), each an edge's pull.
  const subs = await ownerSubscriptions(n1);
  const pulls = [...(await pullsOf(n2)), ...(await pullsOf(n3))];
  console.log(`edge: owner subscriptions ${subs.length} for 30 viewers; pulls ${pulls.map((p: any) => `${p.key}×${p.viewers} (PLI up ${p.keyframeRequests.sent}, absorbed ${p.keyframeRequests.absorbed})`).join(', ')}`);
  assert.is(subs.length, 4);
  assert.equal(new Set(subs.map((s: any) => s.rung)), new Set(['720p', '360p']));
  assert.equal(new Set(pulls.map((p: any) => new URL(p.upstream).pathname.split('/').pop())), new Set(subs.map((s: any) => s.id)));
  assert.is(pulls.reduce((n: number, p: any) => n + p.viewers, 0), 30);
  assert.equal((await pullsOf(n2)).map((p: any) => p.viewers).sort(), [1, 10]);
  assert.equal((await pullsOf(n3)).map((p: any) => p.viewers).sort(), [1, 18]);
  // Keyframe requests upstream: at most one per 500 ms per pull.
  const elapsedS = (performance.now() - t0) / 1000;
  for (const p of pulls) assert.ok(p.keyframeRequests.sent <= 2 * (elapsedS + 30) + 2, `${p.key}: ${p.keyframeRequests.sent} PLIs upstream in ${elapsedS.toFixed(0)} s`);

  // The heartbeat carries the edges' viewers and egress bit/s.
  const nodes = await waitFor(async () => {
    const list = (await json(`${n1.url}/cluster/nodes`)).nodes;
    return list.find((n: any) => n.id === 'node3')?.edgeViewers === 19 && list.find((n: any) => n.id === 'node3').egressBps > 0 ? list : null;
  }, 10_000, 'edge viewers and egress bit/s in the records');
  for (const n of nodes) console.log(`edge: ${n.id} edgeViewers ${n.edgeViewers}, subscribers ${n.subscribers}, egress ${(n.egressBps / 1e6).toFixed(2)} Mbit/s`);
});

logged('kill -9 an edge: its viewers reconnect through another node and are served there', async (ctx) => {
  const reason = redisUnavailableReason();
  if (reason) return skip(reason);
  const [n1, n2, n3] = ctx.nodes;
  const victims = ctx.viewers.filter((v) => origin(v.sub.location) === n3.url);
  assert.is(victims.length, 18);
  process.kill(n3.pid, 'SIGKILL');
  ctx.killed.add(n3.pid);
  const t0 = performance.now();
  // A client reconnects when its media stops for a second (as the room page does on a stall).
  let last = victims.map((v) => v.sub.videoPackets());
  await waitFor(async () => {
    await new Promise((r) => setTimeout(r, 1000));
    const now = victims.map((v) => v.sub.videoPackets());
    const stalled = now.every((n, i) => n === last[i]);
    last = now;
    return stalled;
  }, 10_000, 'the killed edge\'s viewers to stall');
  const stalledAt = performance.now();
  const again = victims.map((v) => ({ node: n2, region: v.region }));
  for (const v of victims) {
    v.sub.location = ''; // its node is dead: nothing to DELETE
    void v.sub.close();
    ctx.viewers.splice(ctx.viewers.indexOf(v), 1);
  }
  const back = await connectViewers(ctx, again);
  for (const v of back) assert.is(origin(v.sub.location), n2.url, 'served by the live edge');
  await allReceiving(back, 'the reconnected viewers');
  const failoverMs = performance.now() - t0;
  console.log(`edge failover: 18 viewers of the killed edge were receiving again through node 2 ${(failoverMs / 1000).toFixed(1)} s after kill -9 (stall seen after ${((stalledAt - t0) / 1000).toFixed(1)} s)`);
  assert.ok(failoverMs < 20_000);
  // The owner lets the dead edge's pulls go (no RTCP from them): node 2's pulls remain.
  await waitFor(async () => (await ownerSubscriptions(n1)).length === 2, 30_000, 'the dead edge\'s pulls to leave the owner');
  assert.equal((await pullsOf(n2)).map((p: any) => p.viewers).sort(), [1, 28]);
});

logged(`an edge drops its pulls ${LINGER_MS / 1000} s after its last viewer left`, async (ctx) => {
  const reason = redisUnavailableReason();
  if (reason) return skip(reason);
  const [n1, n2] = ctx.nodes;
  await Promise.all([...ctx.viewers.splice(0).map((v) => v.sub.close()), ...ctx.decoders.splice(0).map((d) => d.close())]);
  const t0 = performance.now();
  // Still there for a while (a viewer coming back finds the pull)...
  assert.is((await pullsOf(n2)).length, 2);
  assert.is((await pullsOf(n2)).reduce((n: number, p: any) => n + p.viewers, 0), 0);
  await waitFor(async () => (await pullsOf(n2)).length === 0, LINGER_MS + 10_000, 'the pulls to be dropped');
  const droppedMs = performance.now() - t0;
  assert.ok(droppedMs > LINGER_MS - 500, `dropped after ${droppedMs.toFixed(0)} ms`);
  await waitFor(async () => (await ownerSubscriptions(n1)).length === 0, 5000, 'the owner to end the pulls\' sessions');
});

test.run();
