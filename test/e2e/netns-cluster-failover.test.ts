// Owner failover between "machines": three CLUSTER=1 nodes, each in its own network namespace on
// one bridge (10.232.43.0/24), each binding its own address; Redis and the clients in the root
// namespace. A room owned by node 1 has a publisher (through node 2); node 1's machine dies: its
// link goes down (no RST, no FIN: packets to it vanish, as with a pulled cable) and the node and
// its FFmpeg children are killed with -9. A reconnecting publisher, retrying through the live
// nodes, is back in the room on node 2 or 3 within 10 s, and a subscriber through the other live
// node decodes its colour.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { startServerProc, type ServerProc } from '../../bench/lib/server-proc.ts';
import { childPids } from '../../bench/lib/stats.ts';
import { RtpPublisher } from '../../bench/lib/RtpPublisher.ts';
import { audioFixture, videoFixture } from '../../bench/lib/fixtures.ts';
import { testRedis, redisUnavailableReason, type TestRedis } from '../helpers/redis.ts';
import { startSubscriber, waitFor } from '../helpers/peers.ts';
import { createBridgedNet, netnsAvailable, type BridgedNet } from '../helpers/netns.ts';
import { colorAt, colorDistance, type Rgb } from '../helpers/media.ts';
import { skip } from '../helpers/skip.ts';
import { json } from '../helpers/json.ts';
import { NodeLogs } from '../helpers/node-logs.ts';

const ROOM = 'netns-failover';
const GREEN: Rgb = [30, 200, 30];

test('the owner\'s machine dies (link down, kill -9): a reconnecting publisher is back on another machine within 10 s', async () => {
  if (!netnsAvailable()) return skip('needs root and ip netns (the nodes run in network namespaces)');
  const noRedis = redisUnavailableReason({ ...process.env, REDIS_URL: undefined });
  if (noRedis) return skip(noRedis);
  let net: BridgedNet | null = null;
  let redis: TestRedis | null = null;
  const nodes: ServerProc[] = [];
  const killed = new Set<number>();
  const closers: Array<() => Promise<unknown>> = [];
  const logs = new NodeLogs();
  try {
    net = createBridgedNet(43, 3);
    redis = await testRedis({ ...process.env, REDIS_URL: undefined }, [net.hostAddress, '127.0.0.1']);
    for (const [i, h] of net.hosts.entries()) {
      nodes.push(await startServerProc({ CLUSTER: '1', REDIS_URL: redis.url, NODE_ID: `fo-node${i + 1}`, REGION: i === 0 ? 'a' : 'b', ROOM_IDLE_MS: '4000', LOG_FILE: logs.file(`fo-node${i + 1}`) }, [], { exec: h.exec([]), host: h.address }));
    }
    const [n1, n2, n3] = nodes;
    await waitFor(async () => (await json(`${n2.url}/cluster/nodes`)).nodes.length === 3, 10_000, 'three nodes in Redis');
    // Fixtures first: an empty room closes after ROOM_IDLE_MS.
    const [video, audio] = await Promise.all([videoFixture(GREEN), audioFixture()]);
    const put = await fetch(`${n3.url}/rooms/${ROOM}?region=a`, { method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: '{}' });
    assert.is(put.status, 201, await put.clone().text());
    assert.is(put.headers.get('x-mcu-node'), 'fo-node1');
    const before = await RtpPublisher.whip(`${n2.url}/rooms/${ROOM}/whip`, video, audio);
    assert.ok(before.location.startsWith(`${n1.url}/`), before.location);
    before.location = ''; // its node is about to die: nothing to DELETE
    closers.push(() => before.close());

    // The machine dies: its link first (nothing answers it any more, not even with a reset), then the processes.
    execFileSync('ip', ['link', 'set', 'mcubh43x1', 'down']);
    for (const pid of [n1.pid, ...childPids(n1.pid)]) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    killed.add(n1.pid);
    const t0 = performance.now();
    let attempts = 0;
    const live = [n2, n3];
    // A reconnecting client: retries the WHIP POST through the live nodes until it has a room.
    const after = await waitFor(async () => {
      attempts++;
      return RtpPublisher.whip(`${live[attempts % 2].url}/rooms/${ROOM}/whip`, video, audio);
    }, 20_000, 'a publisher back in the room', 250);
    const failoverMs = performance.now() - t0;
    closers.push(() => after.close());
    const newOwner = new URL(after.location).origin;
    assert.ok([n2.url, n3.url].includes(newOwner), `the room is on a live machine (${newOwner})`);
    // A subscriber through the other live node decodes the publisher's colour.
    const via = newOwner === n2.url ? n3 : n2;
    const sub = await startSubscriber({ baseUrl: via.url, room: ROOM });
    closers.push(() => sub.close());
    const tile = await waitFor(async () => (await json(`${via.url}/rooms/${ROOM}`)).layout.tiles[0], 10_000, 'the new room\'s layout');
    await waitFor(() => {
      const f = sub.lastFrame();
      return !!f && colorDistance(colorAt(f, tile.video.x + tile.video.width / 2, tile.video.y + tile.video.height / 2, 6), GREEN) < 60;
    }, 15_000, 'the publisher\'s colour decoded through the other live node');
    console.log(`  netns failover: the publisher was back in "${ROOM}" ${(failoverMs / 1000).toFixed(1)} s after the owner's machine died (${attempts} attempts), on ${new URL(after.location).host}; its colour decoded through ${new URL(via.url).host}`);
    assert.ok(failoverMs < 10_000, `failover took ${failoverMs.toFixed(0)} ms`);
  } catch (err) {
    logs.print();
    throw err;
  } finally {
    logs.close();
    for (const c of closers.reverse()) await c().catch(() => {});
    await Promise.all(nodes.filter((n) => !killed.has(n.pid)).map((n) => n.stop().catch(() => {})));
    await redis?.stop();
    net?.cleanup();
  }
});

test.run();
