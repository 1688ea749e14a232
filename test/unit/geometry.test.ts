import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fitInside, gridLayout, gridShape, MAX_TILES, rectInside, rectsOverlap } from '../../pipeline/layout/geometry.ts';

const canvas = { width: 1280, height: 720 };
const source = { width: 640, height: 360 };

test('grid shapes grow square-ish and wider than tall', () => {
  assert.equal(gridShape(1), { cols: 1, rows: 1 });
  assert.equal(gridShape(2), { cols: 2, rows: 1 });
  assert.equal(gridShape(3), { cols: 2, rows: 2 });
  assert.equal(gridShape(5), { cols: 3, rows: 2 });
  assert.equal(gridShape(10), { cols: 4, rows: 3 });
  assert.equal(gridShape(16), { cols: 4, rows: 4 });
});

for (let n = 1; n <= MAX_TILES; n++) {
  test(`grid of ${n}: inside the canvas, no overlaps, aspect kept, even coordinates`, () => {
    const ids = Array.from({ length: n }, (_, i) => `p${i}`);
    const layout = gridLayout(ids, canvas, source);
    assert.is(layout.tiles.length, n);
    for (const t of layout.tiles) {
      assert.ok(rectInside(t.cell, canvas), `cell inside canvas: ${JSON.stringify(t.cell)}`);
      assert.ok(rectInside(t.video, t.cell), 'video inside its cell');
      const aspect = t.video.width / t.video.height;
      assert.ok(Math.abs(aspect - 16 / 9) < 0.03, `aspect ${aspect}`);
      for (const v of [t.video.x, t.video.y, t.video.width, t.video.height]) assert.is(v % 2, 0);
      // The picture fills its cell in at least one dimension (nothing wasted).
      assert.ok(t.cell.width - t.video.width <= 2 || t.cell.height - t.video.height <= 2);
    }
    for (let i = 0; i < n; i++) {
      for (let j = i + 1; j < n; j++) {
        assert.not.ok(rectsOverlap(layout.tiles[i].cell, layout.tiles[j].cell), `cells ${i} and ${j} overlap`);
      }
    }
  });
}

test('more participants than tiles: only the first 16 are shown', () => {
  const ids = Array.from({ length: 20 }, (_, i) => `p${i}`);
  assert.is(gridLayout(ids, canvas, source).tiles.length, 16);
});

test('one participant fills the canvas; two sit side by side, letterboxed', () => {
  assert.equal(gridLayout(['a'], canvas, source).tiles[0].video, { x: 0, y: 0, width: 1280, height: 720 });
  const [a, b] = gridLayout(['a', 'b'], canvas, source).tiles;
  assert.equal(a.video, { x: 0, y: 180, width: 640, height: 360 });
  assert.equal(b.video, { x: 640, y: 180, width: 640, height: 360 });
});

test('an incomplete last row is centred', () => {
  const t = gridLayout(['a', 'b', 'c'], canvas, source).tiles;
  assert.equal(t[2].cell, { x: 320, y: 360, width: 640, height: 360 });
});

test('fitInside keeps a 4:3 picture 4:3 in a 16:9 cell', () => {
  const r = fitInside({ width: 640, height: 480 }, { x: 0, y: 0, width: 640, height: 360 });
  assert.equal(r, { x: 80, y: 0, width: 480, height: 360 });
});

test.run();
