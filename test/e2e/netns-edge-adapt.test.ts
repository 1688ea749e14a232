// Rate adaptation at a webinar edge: a CLUSTER=1 owner (node 1) and an edge (node 2, bound to the
// host side of a veth pair). Two decoding viewers of the webinar on the edge, each its own process
// (test/helpers/subscribe-cli.ts; in the test's process the publishers' encoding delays its
// receiving, and an RTT inflated by that is a reason to step down): one in the root namespace,
// one in its own namespace behind a tbf-limited link. At ~600 kbit/s the constrained
// viewer's own RTCP (loss) moves it to 360p, the edge starting a 360p pull for it (its first
// viewer there) and switching it on that pull's keyframe: it decodes 640x360 while the other
// viewer stays on 1280x720 throughout, and the owner has exactly one subscription per edge and
// rung. At 5 Mbit/s it goes back to 720p, and the 360p pull, unused, is dropped after the linger.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { startServerProc, type ServerProc } from '../../bench/lib/server-proc.ts';
import { testRedis, redisUnavailableReason, type TestRedis } from '../helpers/redis.ts';
import { waitFor } from '../helpers/peers.ts';
import { createTestHost, netnsAvailable, udpDrops, udpDropsSince, type TestHost } from '../helpers/netns.ts';
import { SyntheticPublisher } from '../../workers/clients/webrtc.ts';
import { NodeLogs, printingLogs } from '../helpers/node-logs.ts';
import { skip } from '../helpers/skip.ts';
import { json } from '../helpers/json.ts';

const ROOM = 'edge-adapt';
const LINGER_MS = 3000;

/** A decoding viewer process: what it printed, parsed. */
class CliViewer {
  out = '';
  readonly child: ChildProcess;
  constructor(argv: string[]) {
    const [cmd, ...args] = argv;
    this.child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.on('data', (d) => (this.out += d));
    this.child.stderr!.on('data', (d) => (this.out += d));
  }
  location = () => /location (\S+)/.exec(this.out)?.[1];
  /** The last decoded frame size it printed. */
  size = () => [...this.out.matchAll(/size (\d+x\d+)/g)].pop()?.[1] ?? '';
  /** Every size it decoded since `from` (an offset into its output). */
  sizesSince = (from: number) => new Set([...this.out.slice(from).matchAll(/seen (\S*)/g)].flatMap((m) => m[1].split(',').filter(Boolean)));
  frames = () => Number([...this.out.matchAll(/frames (\d+)/g)].pop()?.[1] ?? 0);
  async close(): Promise<void> {
    this.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 500));
    this.child.kill('SIGKILL');
  }
}

const logs = new NodeLogs();
test.after(() => logs.close());

printingLogs(test, () => logs)('an edge viewer on a slow link steps down to 360p on its own pull; the other stays on 720p; one owner subscription per rung', async () => {
  if (!netnsAvailable()) return skip('needs root and ip netns (the constrained viewer runs in a network namespace)');
  const noRedis = redisUnavailableReason();
  if (noRedis) return skip(noRedis);
  let host: TestHost | null = null;
  let redis: TestRedis | null = null;
  const viewers: CliViewer[] = [];
  const nodes: ServerProc[] = [];
  const closers: Array<() => Promise<unknown>> = [];
  try {
    host = createTestHost(23);
    const drops = udpDrops();
    redis = await testRedis();
    const env = { CLUSTER: '1', REDIS_URL: redis.url, ROOM_IDLE_MS: '10000', EDGE_LINGER_MS: String(LINGER_MS) };
    nodes.push(await startServerProc({ ...env, NODE_ID: 'adapt-owner', REGION: 'a', LOG_FILE: logs.file('owner') }));
    // The edge listens on the veth's host side: the namespaced viewer reaches it there.
    nodes.push(await startServerProc({ ...env, NODE_ID: 'adapt-edge', REGION: 'b', LOG_FILE: logs.file('edge') }, [], { host: host.hostAddress }));
    const [owner, edge] = nodes;
    await waitFor(async () => (await json(`${owner.url}/cluster/nodes`)).nodes.length === 2, 10_000, 'two nodes in Redis');
    const put = await fetch(`${owner.url}/rooms/${ROOM}?region=a`, { method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: '{"mode":"webinar"}' });
    assert.is(put.status, 201, await put.clone().text());
    // Two hosts, one of them noise (the encoder's worst case: the 720p rung fills its 1.5 Mbit/s).
    for (const [name, color, pattern] of [['Noise', [200, 40, 40], 'noise'], ['Blue', [40, 40, 200], 'solid']] as const) {
      const grant = await json(`${owner.url}/rooms/${ROOM}/hosts`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ name }) });
      const p = await SyntheticPublisher.start({ whipUrl: `${owner.url}${grant.whip}`, color: [...color], toneHz: 500, pattern });
      closers.push(() => p.close());
    }
    await waitFor(async () => (await json(`${edge.url}/rooms`)).rooms.some((r: any) => r.name === ROOM && r.participants === 2), 10_000, 'the webinar in the owner\'s record');

    const whep = `${edge.url}/rooms/${ROOM}/whep?region=b`;
    const cli = [process.execPath, '--import', 'tsx', 'test/helpers/subscribe-cli.ts', whep];
    const free = new CliViewer(cli);
    const slow = new CliViewer(host.exec(cli));
    viewers.push(free, slow);
    for (const [who, v] of [['free', free], ['constrained', slow]] as const) {
      const location = await waitFor(() => v.location(), 20_000, () => `the ${who} viewer (${v.out})`);
      assert.is(new URL(location).origin, edge.url, `the ${who} viewer is served by the edge`);
    }
    const size = slow.size;
    const pulls = async () => Object.fromEntries(((await json(`${edge.url}/cluster/edges`)).pulls as any[]).filter((p) => p.room === ROOM).map((p) => [p.key, p]));
    const viewersOn = async () => Object.fromEntries(Object.entries(await pulls()).map(([k, p]: [string, any]) => [k, p.viewers]));
    /** The owner's subscriptions are the edge's pulls, one per rung. */
    const checkOwner = async () => {
      const subs = (await json(`${owner.url}/rooms/${ROOM}`)).subscriptions as any[];
      const ps = Object.values(await pulls()) as any[];
      const rungs = subs.map((s) => s.rung ?? 'audio');
      assert.is(new Set(rungs).size, rungs.length, `one owner subscription per edge and rung (${rungs.join(', ')})`);
      assert.equal(new Set(subs.map((s) => s.id)), new Set(ps.map((p) => new URL(p.upstream).pathname.split('/').pop())), 'each owner subscription is one of the edge\'s pulls');
      return rungs.sort();
    };

    // Both start on the top rung, one pull.
    await waitFor(async () => size() === '1280x720' && free.size() === '1280x720', 20_000, () => `both viewers decoding 1280x720 (constrained: ${size()}, free: ${free.size()})`);
    assert.equal(await viewersOn(), { '720p/vp8': 2 });
    assert.equal(await checkOwner(), ['720p']);

    // The free viewer must never leave the top rung.
    const freeFrom = free.out.length;
    const freeFramesBefore = free.frames();
    const timeline: string[] = [];
    {
      const phase = async (kbit: number, want: string, pullsWanted: Record<string, number>, within: number) => {
        host!.limitIngress(kbit);
        const t0 = performance.now();
        await waitFor(async () => {
          const on = await viewersOn();
          return size() === want && Object.entries(pullsWanted).every(([k, n]) => on[k] === n);
        }, within, `${want} decoded behind ${kbit} kbit/s with pulls ${JSON.stringify(pullsWanted)} (constrained ${size()}, pulls ${JSON.stringify(await viewersOn().catch(() => ({})))})`);
        timeline.push(`${kbit} kbit/s → ${want} after ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      };
      await phase(600, '640x360', { '720p/vp8': 1, '360p/vp8': 1 }, 20_000);
      const p360 = (await pulls())['360p/vp8'];
      assert.ok(p360.switchesIn >= 1, 'the constrained viewer moved to the 360p pull');
      const during = await checkOwner();
      // (An audio-only pull may linger too if the viewer's own feedback went lower for a while.)
      assert.ok(during.includes('360p') && during.includes('720p'), `the owner serves the edge 720p and 360p (${during.join(', ')})`);
      timeline.push(`owner subscriptions then: ${during.join(', ')}`);
      await phase(5000, '1280x720', { '720p/vp8': 2 }, 40_000);
      // Nobody watches 360p now: the pull lingers, then goes, and so does its owner subscription.
      const t0 = performance.now();
      await waitFor(async () => !(await pulls())['360p/vp8'], LINGER_MS + 10_000, 'the unused 360p pull to be dropped');
      timeline.push(`360p pull dropped ${((performance.now() - t0) / 1000).toFixed(1)} s after its last viewer left it (linger ${LINGER_MS / 1000} s)`);
      await waitFor(async () => (await json(`${owner.url}/rooms/${ROOM}`)).subscriptions.length === 1, 10_000, 'the owner to end the 360p pull\'s session');
      assert.equal(await checkOwner(), ['720p']);
    }
    const freeSizes = free.sizesSince(freeFrom);
    const edges = await pulls();
    console.log(`  edge adaptation: ${timeline.join('; ')}; free viewer decoded ${[...freeSizes].join(', ')}; keyframe requests up ${Object.values(edges).map((p: any) => `${p.key} ${p.keyframeRequests.sent} (absorbed ${p.keyframeRequests.absorbed})`).join(', ')}; ${udpDropsSince(drops)}`);
    assert.equal([...freeSizes], ['1280x720'], `the unconstrained viewer stayed on 720p (${udpDropsSince(drops)})`);
    assert.ok(free.frames() - freeFramesBefore > 100, `and kept decoding (${free.frames() - freeFramesBefore} frames)`);
  } finally {
    await Promise.all(viewers.map((v) => v.close()));
    for (const c of closers.reverse()) await c().catch(() => {});
    await Promise.all(nodes.map((n) => n.stop().catch(() => {})));
    await redis?.stop();
    host?.cleanup();
  }
});

test.run();
