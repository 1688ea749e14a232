import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { assignSlots, changedSlots, parseTracks, rankForSlots, receivingVideoSections, tracksFor } from '../../pipeline/forward/slots.ts';

test('ranking: recent speakers first, then join order; only eligible participants in the room', () => {
  const join = ['a', 'b', 'c', 'd', 'e'];
  assert.equal(rankForSlots(['d', 'b'], join, () => true), ['d', 'b', 'a', 'c', 'e']);
  assert.equal(rankForSlots(['x', 'd'], join, (id) => id !== 'a'), ['d', 'b', 'c', 'e'], 'x left, a not eligible');
  assert.equal(rankForSlots([], [], () => true), []);
});

test('empty slots fill in rank order', () => {
  assert.equal(assignSlots([null, null, null], ['a', 'b']), ['a', 'b', null]);
  assert.equal(assignSlots([null, null, null], ['a', 'b', 'c', 'd']), ['a', 'b', 'c']);
});

test('a new speaker replaces only the one who dropped out of the top N', () => {
  const before = ['a', 'b', 'c'];
  // d spoke: ranking d, a, b, c → c drops out, d takes c's slot.
  const after = assignSlots(before, ['d', 'a', 'b', 'c']);
  assert.equal(after, ['a', 'b', 'd']);
  assert.equal(changedSlots(before, after), [2]);
  // A reorder within the top N moves nobody.
  assert.equal(assignSlots(after, ['b', 'd', 'a', 'c']), ['a', 'b', 'd']);
});

test('someone leaving empties their slot, which the next in rank takes', () => {
  assert.equal(assignSlots(['a', 'b', 'c'], ['a', 'c']), ['a', null, 'c']);
  assert.equal(assignSlots(['a', 'b', 'c'], ['a', 'c', 'e']), ['a', 'e', 'c']);
});

test('?tracks= parsing', () => {
  assert.is(parseTracks(undefined), null);
  assert.is(parseTracks('3'), 3);
  assert.type(parseTracks('0'), 'string');
  assert.type(parseTracks('5'), 'string');
  assert.type(parseTracks('2.5'), 'string');
  assert.type(parseTracks('x'), 'string');
});

test('tracks from the query and the offer\'s video m-lines', () => {
  const sdp = ['v=0', 'm=audio 9 UDP/TLS/RTP/SAVPF 111', 'a=recvonly', 'm=video 9 UDP/TLS/RTP/SAVPF 96', 'a=recvonly', 'm=video 9 UDP/TLS/RTP/SAVPF 96', 'a=recvonly', 'm=video 0 UDP/TLS/RTP/SAVPF 96', 'a=bundle-only', 'a=recvonly', 'm=video 9 UDP/TLS/RTP/SAVPF 96', 'a=inactive', ''].join('\r\n');
  assert.is(receivingVideoSections(sdp), 3);
  assert.is(tracksFor(null, 3), 3);
  assert.is(tracksFor(null, 1), null, 'one video m-line and no ?tracks: the mix');
  assert.is(tracksFor(2, 3), 2);
  assert.is(tracksFor(1, 1), 1);
  assert.type(tracksFor(3, 1), 'string');
  assert.is(tracksFor(null, 9), 4);
});

test.run();
