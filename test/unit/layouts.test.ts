import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { computeLayout, cropFor, FIT_MODES, LAYOUT_KINDS, type LayoutOut, type LayoutRequest } from '../../pipeline/layout/layouts.ts';
import { gridLayout, rectInside, rectsOverlap, type Rect, type Size } from '../../pipeline/layout/geometry.ts';

const canvas = { width: 1280, height: 720 };
const source = { width: 640, height: 360 };
const ids = (n: number) => Array.from({ length: n }, (_, i) => `p${i}`);
const req = (over: Partial<LayoutRequest>): LayoutRequest => ({
  kind: 'grid', canvas, source, participants: [], recentSpeakers: [], activeSpeaker: null, pinned: null, fit: 'fit', ...over,
});
const aspect = (r: Size) => r.width / r.height;
const within2pc = (a: number, b: number) => Math.abs(a / b - 1) <= 0.02;
const isEven = (r: Rect) => [r.x, r.y, r.width, r.height].every((v) => v % 2 === 0);

/** The invariants every layout must hold, whatever the kind, count, fit mode, canvas or source. */
function checkInvariants(out: LayoutOut, r: LayoutRequest, label: string): void {
  for (const t of out.tiles) {
    const at = `${label} ${t.participantId}`;
    assert.ok(r.participants.includes(t.participantId), `${at}: a participant`);
    assert.ok(rectInside(t.cell, r.canvas), `${at}: cell inside the canvas ${JSON.stringify(t.cell)}`);
    assert.ok(rectInside(t.video, t.cell), `${at}: picture inside its cell`);
    assert.ok(isEven(t.cell) && isEven(t.video), `${at}: even rects`);
    if (r.fit === 'fit') {
      assert.is(t.crop, null, `${at}: no crop in fit mode`);
      assert.ok(within2pc(aspect(t.video), aspect(r.source)), `${at}: picture keeps the source aspect`);
      // Letterboxed, not shrunk: the picture touches the cell on one axis.
      assert.ok(t.cell.width - t.video.width <= 2 || t.cell.height - t.video.height <= 2, `${at}: fills one axis`);
    } else {
      assert.ok(t.crop !== null, `${at}: crop rect`);
      assert.equal(t.video, t.cell, `${at}: crop fills the cell`);
      assert.ok(rectInside(t.crop!, r.source), `${at}: crop inside the source`);
      assert.ok(isEven(t.crop!), `${at}: even crop`);
      assert.ok(within2pc(aspect(t.crop!), aspect(t.cell)), `${at}: crop has the cell aspect`);
      // The largest such crop: it spans the source on one axis.
      assert.ok(t.crop!.width >= r.source.width - 2 || t.crop!.height >= r.source.height - 2, `${at}: largest crop`);
    }
  }
  for (let i = 0; i < out.tiles.length; i++) {
    for (let j = i + 1; j < out.tiles.length; j++) {
      assert.not.ok(rectsOverlap(out.tiles[i].cell, out.tiles[j].cell), `${label}: cells ${i} and ${j} overlap`);
    }
  }
  assert.is(new Set(out.tiles.map((t) => t.participantId)).size, out.tiles.length, `${label}: nobody twice`);
  assert.is(out.tiles.filter((t) => t.large).length, r.kind === 'grid' ? 0 : out.tiles.length ? 1 : 0, `${label}: large tiles`);
}

for (const kind of LAYOUT_KINDS) {
  for (const fit of FIT_MODES) {
    test(`${kind}/${fit}: 1..16 participants, inside the canvas, no overlaps, no stretching`, () => {
      for (let n = 1; n <= 16; n++) {
        const r = req({ kind, fit, participants: ids(n), activeSpeaker: n > 1 ? 'p1' : null, pinned: n > 2 ? 'p2' : null });
        const out = computeLayout(r);
        assert.is(out.kind, kind);
        assert.equal(out.canvas, canvas);
        assert.is(out.tiles.length, kind === 'grid' ? n : Math.min(n, 6), `${kind} ${n}: tile count`);
        checkInvariants(out, r, `${kind}/${fit} n=${n}`);
      }
    });
  }
}

test('invariants hold on other canvases and sources', () => {
  const canvases = [{ width: 640, height: 360 }, { width: 1920, height: 1080 }, { width: 640, height: 480 }, { width: 1286, height: 722 }];
  const sources = [source, { width: 640, height: 480 }, { width: 360, height: 640 }];
  for (const c of canvases) {
    for (const s of sources) {
      for (const kind of LAYOUT_KINDS) {
        for (const fit of FIT_MODES) {
          for (const n of [1, 2, 3, 6, 7, 16, 20]) {
            const r = req({ kind, fit, canvas: c, source: s, participants: ids(n), activeSpeaker: 'p0' });
            checkInvariants(computeLayout(r), r, `${c.width}x${c.height} ${s.width}x${s.height} ${kind}/${fit} n=${n}`);
          }
        }
      }
    }
  }
});

test('grid: the same cells as gridLayout', () => {
  for (let n = 1; n <= 16; n++) {
    const out = computeLayout(req({ participants: ids(n) }));
    assert.equal(out.tiles.map((t) => t.cell), gridLayout(ids(n), canvas, source).tiles.map((t) => t.cell));
    assert.equal(out.tiles.map((t) => t.video), gridLayout(ids(n), canvas, source).tiles.map((t) => t.video));
  }
});

test('grid with more participants than tiles shows the recent speakers, in join order', () => {
  const out = computeLayout(req({ participants: ids(20), recentSpeakers: ['p19', 'ghost', 'p18', 'p17'] }));
  assert.is(out.tiles.length, 16);
  const shown = out.tiles.map((t) => t.participantId);
  for (const id of ['p19', 'p18', 'p17']) assert.ok(shown.includes(id), id);
  assert.ok(!shown.includes('p16'), 'the 17th joiner who never spoke is not shown');
  assert.equal(shown, [...ids(13), 'p17', 'p18', 'p19']);
});

test('grid honours maxTiles', () => {
  const out = computeLayout(req({ participants: ids(10), recentSpeakers: ['p9'], maxTiles: 4 }));
  assert.equal(out.tiles.map((t) => t.participantId), ['p0', 'p1', 'p2', 'p9']);
});

test('grid crop: two side by side show the centre half of each picture', () => {
  const [a] = computeLayout(req({ participants: ids(2), fit: 'crop' })).tiles;
  assert.equal(a.cell, { x: 0, y: 0, width: 640, height: 720 });
  assert.equal(a.video, a.cell);
  assert.equal(a.crop, { x: 160, y: 0, width: 320, height: 360 });
});

test('speaker geometry on 1280x720', () => {
  const out = computeLayout(req({ kind: 'speaker', participants: ids(3), activeSpeaker: 'p2' }));
  const [large, ...thumbs] = out.tiles;
  assert.is(large.participantId, 'p2');
  assert.ok(large.large);
  assert.equal(large.cell, { x: 0, y: 0, width: 1280, height: 576 });
  assert.equal(large.video, { x: 128, y: 0, width: 1024, height: 576 });
  assert.equal(thumbs.map((t) => t.participantId), ['p0', 'p1']);
  assert.equal(thumbs.map((t) => t.cell), [
    { x: 384, y: 576, width: 256, height: 144 },
    { x: 640, y: 576, width: 256, height: 144 },
  ]);
  const crop = computeLayout(req({ kind: 'speaker', fit: 'crop', participants: ids(3), activeSpeaker: 'p2' })).tiles[0];
  assert.equal(crop.video, { x: 0, y: 0, width: 1280, height: 576 });
  assert.equal(crop.crop, { x: 0, y: 36, width: 640, height: 288 });
});

test('speaker: one participant fills the canvas', () => {
  for (const fit of FIT_MODES) {
    const out = computeLayout(req({ kind: 'speaker', fit, participants: ['solo'] }));
    assert.is(out.tiles.length, 1);
    assert.ok(out.tiles[0].large);
    assert.equal(out.tiles[0].cell, { x: 0, y: 0, width: 1280, height: 720 });
    assert.equal(out.tiles[0].video, { x: 0, y: 0, width: 1280, height: 720 });
  }
});

test('speaker: the large region follows the active speaker; falls back to pinned, then recent, then first', () => {
  const large = (over: Partial<LayoutRequest>) =>
    computeLayout(req({ kind: 'speaker', participants: ids(4), ...over })).tiles.find((t) => t.large)!.participantId;
  assert.is(large({ activeSpeaker: 'p2' }), 'p2');
  assert.is(large({ activeSpeaker: 'p3' }), 'p3');
  assert.is(large({ activeSpeaker: 'p3', pinned: 'p1' }), 'p3');
  assert.is(large({ activeSpeaker: null, pinned: 'p1' }), 'p1');
  assert.is(large({ activeSpeaker: 'gone', pinned: null, recentSpeakers: ['gone', 'p3'] }), 'p3');
  assert.is(large({}), 'p0');
  const out = computeLayout(req({ kind: 'speaker', participants: ids(4), activeSpeaker: 'p2' }));
  for (const t of out.tiles.filter((x) => !x.large)) assert.ok(t.cell.y >= 576, 'thumbnails below the large region');
});

test('speaker filmstrip overflow shows the recent speakers', () => {
  const out = computeLayout(req({ kind: 'speaker', participants: ids(10), activeSpeaker: 'p0', recentSpeakers: ['p0', 'p9', 'p8'] }));
  const shown = out.tiles.map((t) => t.participantId);
  assert.equal(shown, ['p0', 'p1', 'p2', 'p3', 'p8', 'p9']);
});

test('presentation geometry on 1280x720', () => {
  const out = computeLayout(req({ kind: 'presentation', participants: ids(6), activeSpeaker: 'p1', pinned: 'p4' }));
  const [large, ...thumbs] = out.tiles;
  assert.is(large.participantId, 'p4');
  assert.equal(large.cell, { x: 0, y: 72, width: 1024, height: 576 });
  assert.equal(large.video, large.cell);
  assert.equal(thumbs.map((t) => t.cell), [0, 1, 2, 3, 4].map((i) => ({ x: 1024, y: i * 144, width: 256, height: 144 })));
  const two = computeLayout(req({ kind: 'presentation', participants: ids(2), pinned: 'p1' })).tiles;
  assert.equal(two[1].cell, { x: 1024, y: 288, width: 256, height: 144 }, 'a single thumbnail is centred vertically');
  // Crop mode never cuts the presented picture: its cell already has the source aspect.
  const crop = computeLayout(req({ kind: 'presentation', fit: 'crop', participants: ids(3), pinned: 'p0' })).tiles[0];
  assert.equal(crop.crop, { x: 0, y: 0, width: 640, height: 360 });
});

test('presentation: the pinned participant is large whoever speaks; falls back to the active speaker', () => {
  const out = computeLayout(req({ kind: 'presentation', participants: ids(5), activeSpeaker: 'p1', pinned: 'p4' }));
  assert.is(out.tiles.find((t) => t.large)!.participantId, 'p4');
  for (const t of out.tiles.filter((x) => !x.large)) assert.ok(t.cell.x >= 1024);
  const fallback = computeLayout(req({ kind: 'presentation', participants: ids(3), activeSpeaker: 'p1', pinned: 'left-already' }));
  assert.is(fallback.tiles.find((t) => t.large)!.participantId, 'p1');
  const first = computeLayout(req({ kind: 'presentation', participants: ids(3) }));
  assert.is(first.tiles.find((t) => t.large)!.participantId, 'p0');
});

test('maxTiles 1 in speaker layout: only the large one, on the whole canvas', () => {
  const out = computeLayout(req({ kind: 'speaker', participants: ids(4), activeSpeaker: 'p2', maxTiles: 1 }));
  assert.equal(out.tiles.map((t) => [t.participantId, t.cell.width, t.cell.height]), [['p2', 1280, 720]]);
});

test('cropFor takes the centre of the source at the cell aspect', () => {
  assert.equal(cropFor(source, { width: 640, height: 720 }), { x: 160, y: 0, width: 320, height: 360 });
  assert.equal(cropFor(source, { width: 1280, height: 720 }), { x: 0, y: 0, width: 640, height: 360 });
  assert.equal(cropFor({ width: 640, height: 480 }, { width: 1280, height: 720 }), { x: 0, y: 60, width: 640, height: 360 });
});

test('nobody in the room: no tiles', () => {
  for (const kind of LAYOUT_KINDS) assert.equal(computeLayout(req({ kind })).tiles, []);
});

test('duplicate ids are shown once', () => {
  assert.is(computeLayout(req({ participants: ['a', 'b', 'a'] })).tiles.length, 2);
});

test.run();
