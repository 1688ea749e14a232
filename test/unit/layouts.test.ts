import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { computeLayout, cropFor, FIT_MODES, LAYOUT_KINDS, type LayoutRequest } from '../../pipeline/layout/layouts.ts';
import { rectInside, rectsOverlap } from '../../pipeline/layout/geometry.ts';

const canvas = { width: 1280, height: 720 };
const source = { width: 640, height: 360 };
const ids = (n: number) => Array.from({ length: n }, (_, i) => `p${i}`);
const req = (over: Partial<LayoutRequest>): LayoutRequest => ({
  kind: 'grid', canvas, source, participants: [], recentSpeakers: [], activeSpeaker: null, pinned: null, fit: 'fit', ...over,
});

for (const kind of LAYOUT_KINDS) {
  for (const fit of FIT_MODES) {
    test(`${kind}/${fit}: 1..16 participants, inside the canvas, no overlaps, no stretching`, () => {
      for (let n = 1; n <= 16; n++) {
        const out = computeLayout(req({ kind, fit, participants: ids(n), activeSpeaker: 'p1', pinned: 'p2' }));
        assert.ok(out.tiles.length >= 1 && out.tiles.length <= n);
        if (kind === 'grid') assert.is(out.tiles.length, n);
        else assert.is(out.tiles.length, Math.min(n, 6));
        for (const t of out.tiles) {
          assert.ok(rectInside(t.cell, canvas), `${kind} ${n}: cell inside`);
          assert.ok(rectInside(t.video, t.cell), `${kind} ${n}: picture inside its cell`);
          for (const v of [t.video.x, t.video.y, t.video.width, t.video.height]) assert.is(v % 2, 0);
          if (fit === 'fit') {
            assert.ok(Math.abs(t.video.width / t.video.height - 16 / 9) < 0.03, 'aspect kept');
            assert.is(t.crop, null);
          } else {
            assert.ok(t.crop && rectInside(t.crop, source), 'crop inside the source');
            assert.ok(Math.abs(t.crop!.width / t.crop!.height - t.cell.width / t.cell.height) < 0.03, 'crop has the cell aspect');
          }
        }
        for (let i = 0; i < out.tiles.length; i++) {
          for (let j = i + 1; j < out.tiles.length; j++) assert.not.ok(rectsOverlap(out.tiles[i].cell, out.tiles[j].cell));
        }
        assert.is(new Set(out.tiles.map((t) => t.participantId)).size, out.tiles.length, 'nobody twice');
      }
    });
  }
}

test('speaker: the active speaker is large, the others in the filmstrip', () => {
  const out = computeLayout(req({ kind: 'speaker', participants: ids(4), activeSpeaker: 'p2' }));
  const large = out.tiles.filter((t) => t.large);
  assert.is(large.length, 1);
  assert.is(large[0].participantId, 'p2');
  assert.ok(large[0].video.width >= 1000);
  for (const t of out.tiles.filter((x) => !x.large)) assert.ok(t.cell.y >= 576);
  const next = computeLayout(req({ kind: 'speaker', participants: ids(4), activeSpeaker: 'p3' }));
  assert.is(next.tiles.find((t) => t.large)!.participantId, 'p3');
});

test('presentation: the pinned participant is large, whoever speaks', () => {
  const out = computeLayout(req({ kind: 'presentation', participants: ids(5), activeSpeaker: 'p1', pinned: 'p4' }));
  assert.is(out.tiles.find((t) => t.large)!.participantId, 'p4');
  for (const t of out.tiles.filter((x) => !x.large)) assert.ok(t.cell.x >= 1024);
  // no pin: falls back to the active speaker
  const fallback = computeLayout(req({ kind: 'presentation', participants: ids(3), activeSpeaker: 'p1' }));
  assert.is(fallback.tiles.find((t) => t.large)!.participantId, 'p1');
});

test('grid with more participants than tiles shows the recent speakers', () => {
  const out = computeLayout(req({ participants: ids(20), recentSpeakers: ['p19', 'p18', 'p17'] }));
  assert.is(out.tiles.length, 16);
  const shown = out.tiles.map((t) => t.participantId);
  for (const id of ['p19', 'p18', 'p17']) assert.ok(shown.includes(id), id);
  assert.ok(!shown.includes('p16'), 'the 17th joiner who never spoke is not shown');
});

test('filmstrip overflow shows recent speakers', () => {
  const out = computeLayout(req({ kind: 'speaker', participants: ids(10), activeSpeaker: 'p0', recentSpeakers: ['p0', 'p9', 'p8'] }));
  const shown = out.tiles.map((t) => t.participantId);
  assert.ok(shown.includes('p9') && shown.includes('p8'));
});

test('cropFor takes the centre of the source at the cell aspect', () => {
  assert.equal(cropFor(source, { width: 640, height: 720 }), { x: 160, y: 0, width: 320, height: 360 });
  assert.equal(cropFor(source, { width: 1280, height: 720 }), { x: 0, y: 0, width: 640, height: 360 });
});

test('nobody in the room: no tiles', () => {
  assert.equal(computeLayout(req({ kind: 'speaker' })).tiles, []);
});

test.run();
