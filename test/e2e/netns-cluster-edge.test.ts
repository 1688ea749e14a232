// Webinar edges between "machines": three CLUSTER=1 nodes, each in its own network namespace on
// one bridge (10.232.41.0/24), each binding its own address; Redis and the test's clients in the
// root namespace. 2 hosts on node 1, 30 RTP-counting viewers over nodes 2 and 3: every viewer
// gets keyframes and packets of the composite, and node 1 has exactly one subscription per edge
// and rung — the edges' pulls, which cross the bridge from their own addresses.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startServerProc, type ServerProc } from '../../bench/lib/server-proc.ts';
import { RtpPublisher } from '../../bench/lib/RtpPublisher.ts';
import { audioFixture, videoFixture } from '../../bench/lib/fixtures.ts';
import { testRedis, redisUnavailableReason, type TestRedis } from '../helpers/redis.ts';
import { waitFor } from '../helpers/peers.ts';
import { startRtpSubscriber, type RtpSubscriber } from '../helpers/rtp-subscriber.ts';
import { createBridgedNet, netnsAvailable, type BridgedNet } from '../helpers/netns.ts';
import { skip } from '../helpers/skip.ts';
import { json } from '../helpers/json.ts';
import { NodeLogs } from '../helpers/node-logs.ts';

const ROOM = 'edge-netns';

test('nodes in their own namespaces: 30 viewers over 2 edges, one subscription per edge and rung on the owner', async () => {
  if (!netnsAvailable()) return skip('needs root and ip netns (the nodes run in network namespaces)');
  const noRedis = redisUnavailableReason({ ...process.env, REDIS_URL: undefined });
  if (noRedis) return skip(noRedis);
  let net: BridgedNet | null = null;
  let redis: TestRedis | null = null;
  const nodes: ServerProc[] = [];
  const closers: Array<() => Promise<unknown>> = [];
  const logs = new NodeLogs();
  try {
    net = createBridgedNet(41, 3);
    redis = await testRedis(process.env, [net.hostAddress, '127.0.0.1']);
    for (const [i, h] of net.hosts.entries()) {
      nodes.push(await startServerProc({ CLUSTER: '1', REDIS_URL: redis.url, NODE_ID: `ns-node${i + 1}`, REGION: ['a', 'b', 'c'][i], ROOM_IDLE_MS: '10000', LOG_FILE: logs.file(`ns-node${i + 1}`) }, [], { exec: h.exec([]), host: h.address }));
    }
    const [n1, n2, n3] = nodes;
    await waitFor(async () => (await json(`${n2.url}/cluster/nodes`)).nodes.length === 3, 10_000, 'three nodes in Redis');
    // Fixtures first: an empty room closes after ROOM_IDLE_MS.
    const fixtures = await Promise.all([videoFixture([220, 30, 30]), videoFixture([30, 30, 220]), audioFixture()]);
    const put = await fetch(`${n3.url}/rooms/${ROOM}?region=a`, { method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: '{"mode":"webinar"}' });
    assert.is(put.status, 201, await put.clone().text());
    assert.is(put.headers.get('x-mcu-node'), 'ns-node1');
    for (const [i, name] of ['Red', 'Blue'].entries()) {
      const grant = await json(`${n1.url}/rooms/${ROOM}/hosts`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ name }) });
      const host = await RtpPublisher.whip(`${n1.url}${grant.whip}`, fixtures[i], fixtures[2], { keyframeOnPli: true });
      closers.push(() => host.close());
    }
    await waitFor(async () => (await json(`${n2.url}/rooms`)).rooms.some((r: any) => r.name === ROOM && r.participants === 2), 10_000, 'the webinar in node 1\'s record');
    const viewers: RtpSubscriber[] = [];
    for (let i = 0; i < 30; i += 5) {
      const batch = await Promise.all(
        Array.from({ length: 5 }, (_, k) => {
          const [node, region, level] = (i + k) % 2 ? [n3, 'c', (i + k) % 3 ? '360p' : '720p'] : [n2, 'b', (i + k) % 3 ? '360p' : '720p'];
          return startRtpSubscriber(`${node.url}/rooms/${ROOM}/whep?level=${level}&region=${region}`, 'VP8');
        }),
      );
      for (const v of batch) closers.push(() => v.close());
      viewers.push(...batch);
    }
    for (const [i, v] of viewers.entries()) assert.is(new URL(v.location).origin, (i % 2 ? n3 : n2).url);
    await waitFor(() => viewers.every((v) => v.keyframeTimes.length > 0 && v.videoPackets() > 30 && v.audioPackets() > 20), 30_000, 'every viewer to get keyframes and packets', 250);
    const subs = (await json(`${n1.url}/rooms/${ROOM}`)).subscriptions;
    const pulls = [...(await json(`${n2.url}/cluster/edges`)).pulls, ...(await json(`${n3.url}/cluster/edges`)).pulls];
    console.log(`netns edge: owner subscriptions ${subs.length} for 30 viewers; pulls ${pulls.map((p: any) => `${p.key}×${p.viewers}`).join(', ')}`);
    assert.is(subs.length, 4, 'one subscription per edge and rung');
    assert.equal(new Set(pulls.map((p: any) => new URL(p.upstream).pathname.split('/').pop())), new Set(subs.map((s: any) => s.id)));
    assert.is(pulls.reduce((n: number, p: any) => n + p.viewers, 0), 30);
    // The pulls reach the owner at its own address, across the bridge.
    for (const p of pulls) assert.ok(p.upstream.startsWith(`${n1.url}/`), p.upstream);
  } catch (err) {
    logs.print();
    throw err;
  } finally {
    logs.close();
    for (const c of closers.reverse()) await c().catch(() => {});
    await Promise.all(nodes.map((n) => n.stop().catch(() => {})));
    await redis?.stop();
    net?.cleanup();
  }
});

test.run();
