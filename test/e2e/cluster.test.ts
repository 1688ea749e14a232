// CLUSTER=1: three node processes on loopback (one private Redis). A publisher POSTed to node 2
// for a room owned by node 1 is mixed on node 1, a WHEP subscriber through node 3 decodes its
// colour, DELETE through node 2 ends it, GET /rooms on any node lists the room once; concurrent
// first POSTs across the nodes agree on one owner; a drained node takes no new rooms; kill -9 of
// the owner → a new room elsewhere.
// Node 1 is alone in region "a", nodes 2 and 3 in region "b": ?region=a places a room on node 1.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startServerProc, type ServerProc } from '../../bench/lib/server-proc.ts';
import { childPids } from '../../bench/lib/stats.ts';
import { RtpPublisher } from '../../bench/lib/RtpPublisher.ts';
import { audioFixture, videoFixture } from '../../bench/lib/fixtures.ts';
import { testRedis, redisUnavailableReason, type TestRedis } from '../helpers/redis.ts';
import { startPublisher, startSubscriber, waitFor, type Publisher, type Subscriber } from '../helpers/peers.ts';
import { colorAt, colorDistance, type Rgb } from '../helpers/media.ts';
import { skip } from '../helpers/skip.ts';
import { Redis } from 'ioredis';
import { json } from '../helpers/json.ts';
import { NodeLogs, printingLogs } from '../helpers/node-logs.ts';

const RED: Rgb = [220, 30, 30];
const RACE_PUBLISHERS = 16; // MAX_PARTICIPANTS_PER_ROOM's ceiling: no room mixes more
const RACE_SUBSCRIBERS = 4;

interface Ctx {
  redis: TestRedis | null;
  nodes: ServerProc[];
  killed: Set<number>;
  closers: Array<() => Promise<void>>;
  /** Headers that make a node answer from its own rooms (a request forwarded by a node). */
  localOnly: Record<string, string>;
  /** Each node's log, printed when a test fails. */
  logs: NodeLogs;
}
const test = suite<Ctx>('cluster');

const logged = printingLogs(test, (ctx) => ctx.logs);

const alive = (ctx: Ctx) => ctx.nodes.filter((n) => !ctx.killed.has(n.pid));

test.before(async (ctx) => {
  ctx.nodes = [];
  ctx.killed = new Set();
  ctx.closers = [];
  ctx.redis = null;
  ctx.logs = new NodeLogs();
  if (redisUnavailableReason()) return;
  ctx.redis = await testRedis();
  const env = (i: number): Record<string, string> => ({
    CLUSTER: '1',
    REDIS_URL: ctx.redis!.url,
    NODE_ID: `node${i}`,
    REGION: i === 1 ? 'a' : 'b',
    ROOM_IDLE_MS: '4000',
    LOG_FILE: ctx.logs.file(`node${i}`),
  });
  // Started one by one: a node that fails to start leaves none running behind the test.
  for (const i of [1, 2, 3]) ctx.nodes.push(await startServerProc(env(i)));
  // Every node sees the three records.
  await waitFor(async () => (await json(`${ctx.nodes[0].url}/cluster/nodes`)).nodes.length === 3, 10_000, 'three nodes in Redis');
  const redis = new Redis(ctx.redis.url);
  ctx.localOnly = { 'x-mcu-forwarded-by': 'test', 'x-mcu-cluster-key': (await redis.get('mcu:cluster:key')) ?? '' };
  redis.disconnect();
});

test.after(async (ctx) => {
  for (const c of ctx.closers.reverse()) await c().catch(() => {});
  // (A node killed with -9 is gone: its stop() would wait for an exit that has happened.)
  await Promise.all(ctx.nodes.filter((n) => !ctx.killed.has(n.pid)).map((n) => n.stop().catch(() => {})));
  await ctx.redis?.stop();
  ctx.logs.close();
});

logged('a publisher POSTed to node 2 is mixed on node 1 (the owner); node 3 serves its colour; DELETE via node 2; GET /rooms everywhere', async (ctx) => {
  const reason = redisUnavailableReason();
  if (reason) return skip(reason);
  const [n1, n2, n3] = ctx.nodes;
  const room = 'cl-forward';
  // Created through node 2 for region "a": placed on node 1.
  const put = await fetch(`${n2.url}/rooms/${room}?region=a`, { method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: '{"audio":{"denoise":false}}' });
  assert.is(put.status, 201, await put.clone().text());
  assert.is(put.headers.get('x-mcu-node'), 'node1');
  const pub: Publisher = await startPublisher({ baseUrl: n2.url, room, color: RED, name: 'Red' });
  ctx.closers.push(() => pub.close());
  // The Location is absolute, on the owner.
  assert.ok(pub.location.startsWith(`${n1.url}/rooms/${room}/whip/`), pub.location);
  const local = await json(`${n1.url}/rooms/${room}`);
  assert.is(local.participants.length, 1, 'the publisher is in node 1\'s room');
  const sub: Subscriber = await startSubscriber({ baseUrl: n3.url, room });
  ctx.closers.push(() => sub.close());
  assert.ok(sub.location.startsWith(`${n1.url}/`), sub.location);
  const frame = await waitFor(async () => {
    const f = sub.lastFrame();
    if (!f) return null;
    const d = await json(`${n3.url}/rooms/${room}`); // forwarded to node 1
    const t = d.layout.tiles[0];
    if (!t) return null;
    const c = colorAt(f, t.video.x + t.video.width / 2, t.video.y + t.video.height / 2, 6);
    return colorDistance(c, RED) < 60 ? c : null;
  }, 20_000, 'the subscriber on node 3 to decode the red tile');
  assert.ok(frame);
  // GET /rooms on every node: the room once, with its node.
  for (const n of ctx.nodes) {
    const list = await waitFor(async () => {
      const l = (await json(`${n.url}/rooms`)).rooms.filter((r: any) => r.name === room);
      return l.length === 1 && l[0].participants === 1 ? l : null;
    }, 5000, `GET /rooms on ${n.url} to list ${room}`);
    assert.is(list[0].node, 'node1');
  }
  // DELETE through node 2 (forwarded to node 1) ends the session.
  const path = new URL(pub.location).pathname;
  const del = await fetch(`${n2.url}${path}`, { method: 'DELETE' });
  assert.is(del.status, 200);
  assert.is((await json(`${n1.url}/rooms/${room}`)).participants.length, 0);
  // A second DELETE: 404 from the owner, through node 3.
  assert.is((await fetch(`${n3.url}${path}`, { method: 'DELETE' })).status, 404);
  // No node but the owner hosts the room.
  for (const n of [n2, n3]) assert.is((await fetch(`${n.url}/rooms/${room}`, { headers: ctx.localOnly })).status, 404);
  // The forwarded marker without the cluster's key is a client's: routed as any request.
  assert.is((await fetch(`${n2.url}/rooms/${room}`, { headers: { 'x-mcu-forwarded-by': 'spoof', 'x-mcu-cluster-key': 'wrong' } })).status, 200);
});

logged(`race: ${RACE_PUBLISHERS + RACE_SUBSCRIBERS} concurrent first POSTs across the three nodes → one owner, one mix`, async (ctx) => {
  const reason = redisUnavailableReason();
  if (reason) return skip(reason);
  const room = 'cl-race';
  const [video, audio] = await Promise.all([videoFixture([30, 30, 220]), audioFixture()]);
  const t0 = performance.now();
  const whip = Array.from({ length: RACE_PUBLISHERS }, (_, i) => RtpPublisher.whip(`${ctx.nodes[i % 3].url}/rooms/${room}/whip?name=p${i}`, video, audio));
  const whep = Array.from({ length: RACE_SUBSCRIBERS }, (_, i) => startSubscriber({ baseUrl: ctx.nodes[(i + 1) % 3].url, room }));
  const pubs = await Promise.allSettled(whip);
  const subs = await Promise.allSettled(whep);
  for (const p of [...pubs, ...subs]) if (p.status === 'fulfilled') ctx.closers.push(() => p.value.close());
  const failed = [...pubs, ...subs].filter((p) => p.status === 'rejected').map((p) => String((p as PromiseRejectedResult).reason));
  console.log(`race: ${pubs.length + subs.length} POSTs settled in ${((performance.now() - t0) / 1000).toFixed(1)} s; failures: ${failed.length}`);
  assert.equal(failed, []);
  const owners = new Set([...pubs, ...subs].map((p) => new URL((p as PromiseFulfilledResult<{ location: string }>).value.location).origin));
  assert.is(owners.size, 1, `every Location on one node: ${[...owners].join(', ')}`);
  const owner = ctx.nodes.find((n) => n.url === [...owners][0])!;
  // Exactly one node hosts the room, with every publisher and subscriber.
  let hosts = 0;
  for (const n of ctx.nodes) {
    const r = await fetch(`${n.url}/rooms/${room}`, { headers: ctx.localOnly });
    if (r.status === 200) {
      hosts++;
      const d = (await r.json()) as any;
      assert.is(n, owner);
      assert.is(d.participants.length, RACE_PUBLISHERS);
      assert.is(d.subscriptions.length, RACE_SUBSCRIBERS);
    } else assert.is(r.status, 404);
  }
  assert.is(hosts, 1);
  // The composite reaches a subscriber (one mix).
  const sub = (subs[0] as PromiseFulfilledResult<Subscriber>).value;
  await waitFor(() => sub.frameCount() > 5, 20_000, 'frames of the one mix');
  for (const c of ctx.closers.splice(0).reverse()) await c().catch(() => {});
});

logged('POST /admin/drain: the drained node takes no new rooms; its region\'s other node does', async (ctx) => {
  const reason = redisUnavailableReason();
  if (reason) return skip(reason);
  const [, n2, n3] = ctx.nodes;
  const d = await json(`${n3.url}/admin/drain`, { method: 'POST' });
  assert.is(d.state, 'draining');
  const nodes = (await json(`${n2.url}/cluster/nodes`)).nodes;
  assert.is(nodes.find((n: any) => n.id === 'node3').state, 'draining');
  for (const name of ['cl-drain-1', 'cl-drain-2', 'cl-drain-3']) {
    const put = await fetch(`${n3.url}/rooms/${name}?region=b`, { method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: '{}' });
    assert.is(put.status, 201, await put.clone().text());
    assert.is(put.headers.get('x-mcu-node'), 'node2', `${name} is not placed on the draining node`);
  }
});

logged('kill -9 the owner: a new POST through another node gets a room on a live node within 10 s', async (ctx) => {
  const reason = redisUnavailableReason();
  if (reason) return skip(reason);
  const room = 'cl-failover';
  const [n1, n2, n3] = ctx.nodes;
  // Fixtures first: an empty room closes after ROOM_IDLE_MS.
  const [video, audio] = await Promise.all([videoFixture([30, 200, 30]), audioFixture()]);
  const put = await fetch(`${n3.url}/rooms/${room}?region=a`, { method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: '{}' });
  assert.is(put.status, 201, await put.clone().text());
  assert.is(put.headers.get('x-mcu-node'), 'node1');
  const before = await RtpPublisher.whip(`${n2.url}/rooms/${room}/whip`, video, audio);
  assert.ok(before.location.startsWith(n1.url), before.location);
  before.location = ''; // its node is about to die: nothing to DELETE
  ctx.closers.push(() => before.close());
  // The whole "machine" dies: the node and its FFmpeg children at once.
  const victims = [n1.pid, ...childPids(n1.pid)];
  for (const pid of victims) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  ctx.killed.add(n1.pid);
  const t0 = performance.now();
  let attempts = 0;
  // A reconnecting client: retries the WHIP POST (any live node) until it has a room.
  const after = await waitFor(async () => {
    attempts++;
    return RtpPublisher.whip(`${alive(ctx)[attempts % 2].url}/rooms/${room}/whip`, video, audio);
  }, 15_000, 'a publisher back in the room', 250);
  const failoverMs = performance.now() - t0;
  ctx.closers.push(() => after.close());
  const sub = await startSubscriber({ baseUrl: n2.url, room });
  ctx.closers.push(() => sub.close());
  await waitFor(() => sub.frameCount() > 5, 15_000, 'the subscriber to get the new mix');
  console.log(`failover: a reconnecting publisher was back in "${room}" ${(failoverMs / 1000).toFixed(1)} s after kill -9 (${attempts} attempts), on ${new URL(after.location).origin}`);
  assert.ok([n2.url, n3.url].includes(new URL(after.location).origin));
  assert.ok(failoverMs < 10_000, `failover took ${failoverMs.toFixed(0)} ms`);
});

test.run();
