// Webinar edges, the decisions: which viewers an edge serves, which node serves them, one pull
// per rung and codec, keyframe requests upstream at most one per interval, egress bit/s.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chooseEdge, KeyframeGate, pullKey, RateMeter, servesAtEdge, EDGE_PLI_INTERVAL_MS } from '../../pipeline/cluster/edges.ts';
import { clusterRooms, parseNodeRecord, type NodeRecord } from '../../pipeline/cluster/placement.ts';

const now = 1_000_000;
const node = (id: string, o: Partial<NodeRecord> = {}): NodeRecord => ({
  id, url: `http://${id}:8080`, region: 'eu', state: 'serving', updatedAt: now, rooms: 0, publishers: 0, subscribers: 0, cpu: 0, egressBps: 0, edgeViewers: 0, maxRooms: 50, roomList: [], ...o,
});

test('an edge serves a webinar\'s audience only: no mix-minus, no individual tracks, no conference', () => {
  const webinar = { mode: 'webinar' };
  assert.ok(servesAtEdge({ participant: null, tracks: null, room: webinar }));
  assert.not.ok(servesAtEdge({ participant: 'p1', tracks: null, room: webinar }), 'a mix-minus exists only on the owner');
  assert.not.ok(servesAtEdge({ participant: null, tracks: 2, room: webinar }), 'individual tracks exist only on the owner');
  assert.not.ok(servesAtEdge({ participant: null, tracks: null, room: { mode: 'conference' } }));
  assert.not.ok(servesAtEdge({ participant: null, tracks: null, room: undefined }), 'a room its owner does not list yet');
});

test('the edge: the least loaded fresh serving node of the region, never the owner', () => {
  const nodes = [
    node('owner', { region: 'eu' }),
    node('e1', { region: 'eu', subscribers: 40 }),
    node('e2', { region: 'eu', subscribers: 10 }),
    node('e3', { region: 'eu', updatedAt: now - 60_000 }),
    node('e4', { region: 'eu', state: 'draining' }),
    node('u1', { region: 'us' }),
  ];
  assert.is(chooseEdge(nodes, { now, ownerId: 'owner', region: 'eu' })?.id, 'e2');
  assert.is(chooseEdge(nodes, { now, ownerId: 'owner', region: 'us' })?.id, 'u1');
  // A region with no edge: any region's (the least loaded).
  assert.is(chooseEdge(nodes, { now, ownerId: 'owner', region: 'asia' })?.id, 'u1');
  // CPU dominates media sessions; ties go to the lower id.
  assert.is(chooseEdge([node('b'), node('a'), node('c', { cpu: 0.9 })], { now, ownerId: 'x' })?.id, 'a');
  // The owner alone: nobody else serves.
  assert.is(chooseEdge([node('owner')], { now, ownerId: 'owner', region: 'eu' }), null);
});

test('one pull per rung and codec; audio-only viewers share one', () => {
  assert.is(pullKey('720p', 'vp8'), '720p/vp8');
  assert.is(pullKey('360p', 'h264'), '360p/h264');
  assert.is(pullKey('audio', 'vp8'), 'audio');
  assert.is(pullKey('720p', null), 'audio');
});

test('keyframe requests go upstream at most once per interval', () => {
  const g = new KeyframeGate();
  assert.ok(g.request(0));
  for (let t = 1; t < EDGE_PLI_INTERVAL_MS; t += 10) assert.not.ok(g.request(t));
  assert.ok(g.request(EDGE_PLI_INTERVAL_MS));
  assert.is(g.passed, 2);
  assert.ok(g.absorbed >= 40);
  // 30 viewers asking every 100 ms for 10 s: 20 requests upstream, not 3000.
  const h = new KeyframeGate();
  let up = 0;
  for (let t = 0; t < 10_000; t += 100) for (let v = 0; v < 30; v++) if (h.request(t)) up++;
  assert.is(up, 20);
});

test('egress bit/s from a byte counter', () => {
  const m = new RateMeter();
  assert.is(m.sample(0, 0), 0);
  assert.is(m.sample(250_000, 2000), 1_000_000);
  assert.is(m.sample(250_000, 4000), 0);
});

test('node records carry edge viewers and room modes; the cluster room list shows neither', () => {
  const rec = parseNodeRecord(JSON.stringify(node('a', { edgeViewers: 7, roomList: [{ name: 'w', mode: 'webinar', participants: 2, subscriptions: 2 }] })))!;
  assert.is(rec.edgeViewers, 7);
  assert.is(rec.roomList[0].mode, 'webinar');
  assert.equal(clusterRooms([rec], now), [{ name: 'w', participants: 2, subscriptions: 2, node: 'a' }]);
  assert.is(parseNodeRecord(JSON.stringify({ ...node('b'), edgeViewers: undefined }))!.edgeViewers, 0);
});

test.run();
