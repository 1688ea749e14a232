// The mixer's slot table: participants keep their slot numbers, the table grows by capacity tier
// and shrinks only by trailing empty slots, and placements follow the layout as commands.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SlotTable } from '../../pipeline/mixer/SlotTable.ts';

const slot = (participantId: string) => () => ({ participantId });
const ids = (t: SlotTable<{ participantId: string }>) => t.slots.map((s) => s?.participantId ?? null);

test('first free slot; the same participant twice keeps one slot; a freed slot is reused', () => {
  const t = new SlotTable<{ participantId: string }>(4);
  assert.equal(t.add('a', slot('a')), { slot: 0, grew: false });
  assert.equal(t.add('b', slot('b')), { slot: 1, grew: false });
  assert.equal(t.add('a', slot('a')), { slot: 0, grew: false });
  t.remove('a');
  assert.is(t.slotOf('a'), -1);
  assert.equal(t.add('c', slot('c')), { slot: 0, grew: false });
  assert.equal(ids(t), ['c', 'b', null, null]);
});

test('a full table grows to the next tier (4 → 8 → 16), then refuses', () => {
  const t = new SlotTable<{ participantId: string }>(4);
  for (let i = 0; i < 4; i++) t.add(`p${i}`, slot(`p${i}`));
  assert.equal(t.add('p4', slot('p4')), { slot: 4, grew: true });
  assert.is(t.capacity, 8);
  assert.is(t.placements.length, 8, 'a placement for every slot');
  assert.not.ok(t.placements[7].visible);
  for (let i = 5; i < 16; i++) t.add(`p${i}`, slot(`p${i}`));
  assert.is(t.capacity, 16);
  assert.throws(() => t.add('p16', slot('p16')), /the room is full \(16 participants\)/);
});

test('shrinks only by trailing empty slots, never below its first capacity', () => {
  const t = new SlotTable<{ participantId: string }>(4);
  for (let i = 0; i < 9; i++) t.add(`p${i}`, slot(`p${i}`));
  assert.is(t.capacity, 16);
  t.remove('p8');
  assert.is(t.shrinkTarget(), 8);
  for (let i = 1; i < 8; i++) t.remove(`p${i}`);
  assert.is(t.shrinkTarget(), 4, 'p0 alone');
  t.shrinkTo(4);
  assert.equal(ids(t), ['p0', null, null, null]);
  assert.is(t.placements.length, 4);
  t.remove('p0');
  assert.is(t.shrinkTarget(), 4, 'the minimum');
  const kept = new SlotTable<{ participantId: string }>(4);
  for (let i = 0; i < 6; i++) kept.add(`p${i}`, slot(`p${i}`));
  kept.remove('p0');
  assert.is(kept.shrinkTarget(), 8, 'p5 keeps its slot number: no shrink past it');
});

test('placements follow the tiles; a hidden slot keeps its last rect; the version moves only when they change', () => {
  const t = new SlotTable<{ participantId: string }>(4);
  t.add('a', slot('a'));
  t.add('b', slot('b'));
  const left = { x: 0, y: 0, width: 640, height: 360 };
  const right = { x: 640, y: 0, width: 640, height: 360 };
  const v0 = t.version;
  assert.ok(t.place(new Map([['a', { rect: left }], ['b', { rect: right }]])));
  assert.is(t.version, v0 + 1);
  assert.equal(t.placements[1], { visible: true, rect: right, crop: undefined });
  assert.not.ok(t.place(new Map([['a', { rect: left }], ['b', { rect: right }]])), 'nothing moved');
  assert.is(t.version, v0 + 1);
  assert.ok(t.place(new Map([['a', { rect: left }]])));
  assert.equal(t.placements[1], { visible: false, rect: right });
  assert.equal(t.placements[0], { visible: true, rect: left, crop: undefined }, 'slot 0 did not move');
  assert.not.ok(t.placements[2].visible, 'an empty slot is hidden');
  const v = t.version;
  for (const p of ['c', 'd', 'e']) t.add(p, slot(p));
  assert.ok(t.version > v, 'growing to the next tier adds placements: a new version');
});

test.run();
