// Cluster decisions: staleness, eligibility, two-random-choices placement within a region,
// routing (local / forward / redirect), the cluster-wide room list.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chooseOwner, clusterRooms, isEligible, isStale, loadScore, ownerAlive, parseNodeRecord, route, absoluteLocation, NODE_EXPIRY_MS, type NodeRecord } from '../../pipeline/cluster/placement.ts';

const now = 1_000_000;
const node = (id: string, o: Partial<NodeRecord> = {}): NodeRecord => ({
  id, url: `http://10.0.0.${id.length}:8080`, region: 'eu', state: 'serving', updatedAt: now, rooms: 0, publishers: 0, subscribers: 0, cpu: 0, egressBps: 0, edgeViewers: 0, maxRooms: 50, roomList: [], ...o,
});
/** A random() that returns these values in turn. */
const seq = (...v: number[]) => { let i = 0; return () => v[i++ % v.length]; };

test('a record older than the expiry is stale (and one far in the future is too)', () => {
  assert.is(isStale(node('a', { updatedAt: now - NODE_EXPIRY_MS }), now), false);
  assert.is(isStale(node('a', { updatedAt: now - NODE_EXPIRY_MS - 1 }), now), true);
  assert.is(isStale(node('a', { updatedAt: now + NODE_EXPIRY_MS + 1 }), now), true);
  assert.is(ownerAlive(undefined, now), false);
  assert.is(ownerAlive(node('a', { updatedAt: now - 60_000 }), now), false);
  assert.is(ownerAlive(node('a'), now), true);
});

test('stale, draining and full nodes are not eligible', () => {
  assert.ok(isEligible(node('a'), now));
  assert.not.ok(isEligible(node('a', { updatedAt: now - 6000 }), now));
  assert.not.ok(isEligible(node('a', { state: 'draining' }), now));
  assert.not.ok(isEligible(node('a', { rooms: 50 }), now));
});

test('load: CPU or room slots dominate, sessions break ties', () => {
  assert.ok(loadScore(node('a', { cpu: 0.9 })) > loadScore(node('b', { rooms: 3, publishers: 12 })));
  assert.ok(loadScore(node('a', { rooms: 1 })) > loadScore(node('b')));
  assert.ok(loadScore(node('a', { subscribers: 10 })) > loadScore(node('b')));
});

test('two random choices: the less loaded of the two picked; never a stale one', () => {
  const nodes = [node('a', { rooms: 5 }), node('b', { rooms: 1 }), node('c', { rooms: 3 })];
  // picks index 0 and (0.5*2 → 1, ≥ 0 → 2) = a and c: c is less loaded
  assert.is(chooseOwner(nodes, { now, random: seq(0, 0.5) })!.id, 'c');
  // a and b → b
  assert.is(chooseOwner(nodes, { now, random: seq(0, 0) })!.id, 'b');
  // the two picks are always distinct: with only two nodes the better one wins whatever random says
  for (const r of [0, 0.3, 0.99]) assert.is(chooseOwner(nodes.slice(0, 2), { now, random: seq(r, r) })!.id, 'b');
  const stale = [node('a', { updatedAt: now - 10_000 }), node('b', { rooms: 9 })];
  for (let i = 0; i < 20; i++) assert.is(chooseOwner(stale, { now })!.id, 'b');
  assert.is(chooseOwner([node('a', { state: 'draining' })], { now }), null);
  assert.is(chooseOwner([], { now }), null);
});

test('placement stays in the requester\'s region, and falls back to any region when it has no node', () => {
  const nodes = [node('eu1', { region: 'eu', rooms: 9 }), node('us1', { region: 'us' }), node('us2', { region: 'us' })];
  for (let i = 0; i < 20; i++) assert.is(chooseOwner(nodes, { now, region: 'eu' })!.id, 'eu1');
  for (let i = 0; i < 20; i++) assert.match(chooseOwner(nodes, { now, region: 'us' })!.id, /^us/);
  const ids = new Set(Array.from({ length: 50 }, () => chooseOwner(nodes, { now, region: 'ap' })!.id));
  assert.ok(ids.has('us1') || ids.has('us2'));
});

test('equal load: the lower id, so racers with the same view agree', () => {
  const nodes = [node('b'), node('a')];
  assert.is(chooseOwner(nodes, { now, random: seq(0, 0) })!.id, 'a');
  assert.is(chooseOwner(nodes, { now, random: seq(0.9, 0) })!.id, 'a');
});

test('routing: own room or forwarded request → local; elsewhere → forward, or redirect when asked', () => {
  const other = node('n2');
  assert.equal(route('n1', null, { forwarded: false, redirect: false }), { kind: 'local' });
  assert.equal(route('n1', node('n1'), { forwarded: false, redirect: false }), { kind: 'local' });
  assert.equal(route('n1', other, { forwarded: true, redirect: false }), { kind: 'local' });
  assert.equal(route('n1', other, { forwarded: false, redirect: false }), { kind: 'forward', to: other });
  assert.equal(route('n1', other, { forwarded: false, redirect: true }), { kind: 'redirect', to: other });
  assert.is(absoluteLocation('http://10.0.0.2:8080', '/rooms/r/whip/abc'), 'http://10.0.0.2:8080/rooms/r/whip/abc');
  assert.is(absoluteLocation('http://10.0.0.2:8080', 'https://x.example/y'), 'https://x.example/y');
});

test('cluster room list: fresh nodes only, each room once with its node', () => {
  const nodes = [
    node('n1', { roomList: [{ name: 'b', participants: 2, subscriptions: 1 }] }),
    node('n2', { updatedAt: now - 100, roomList: [{ name: 'a', participants: 1, subscriptions: 0 }, { name: 'b', participants: 0, subscriptions: 0 }] }),
    node('n3', { updatedAt: now - 60_000, roomList: [{ name: 'c', participants: 1, subscriptions: 0 }] }),
  ];
  assert.equal(clusterRooms(nodes, now), [
    { name: 'a', participants: 1, subscriptions: 0, node: 'n2' },
    { name: 'b', participants: 2, subscriptions: 1, node: 'n1' },
  ]);
});

test('node records from Redis: parsed, or null when not one', () => {
  assert.is(parseNodeRecord('nope'), null);
  assert.is(parseNodeRecord('{"id":1}'), null);
  assert.is(parseNodeRecord(null), null);
  const r = parseNodeRecord(JSON.stringify(node('n1', { state: 'draining' })))!;
  assert.is(r.id, 'n1');
  assert.is(r.state, 'draining');
});

test.run();
