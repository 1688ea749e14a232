// The mixer's canvas: what is drawn where (pipeline/mixer/canvas.ts, pure) and the drawing
// itself (workers/mixer/CanvasComposer.ts) with the native addon and the JavaScript fallback,
// checked by the colours of the pixels at each tile's place.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { backgroundYuv, canvasDraws, type SlotPlacement } from '../../pipeline/mixer/canvas.ts';
import { flatI420, i420Size } from '../../pipeline/media/i420.ts';
import { CanvasComposer, i420ComposeAddon, jsCompose } from '../../workers/mixer/CanvasComposer.ts';
import { skip } from '../helpers/skip.ts';

const SLOT = { width: 640, height: 360 };
const CANVAS = { width: 1280, height: 720 };
const shown = (x: number, y: number, width = 640, height = 360, crop?: SlotPlacement['crop']): SlotPlacement => ({ visible: true, rect: { x, y, width, height }, crop });
const hidden: SlotPlacement = { visible: false, rect: { x: 0, y: 0, width: 16, height: 16 } };

/** Y, U, V of the canvas pixel at (x, y). */
function pixel(buf: Buffer, size: { width: number; height: number }, x: number, y: number): [number, number, number] {
  const { width: W, height: H } = size;
  const cw = W / 2;
  const c = Math.floor(y / 2) * cw + Math.floor(x / 2);
  return [buf[y * W + x], buf[W * H + c], buf[W * H + cw * (H / 2) + c]];
}

/** A slot picture: left half one colour, right half another (to see crops and mirrors). */
function halves(left: [number, number, number], right: [number, number, number]): Buffer {
  const b = flatI420(SLOT, ...left);
  const { width: w, height: h } = SLOT;
  for (let r = 0; r < h; r++) b.fill(right[0], r * w + w / 2, (r + 1) * w);
  for (let r = 0; r < h / 2; r++) {
    b.fill(right[1], w * h + r * (w / 2) + w / 4, w * h + (r + 1) * (w / 2));
    b.fill(right[2], w * h + (w / 2) * (h / 2) + r * (w / 2) + w / 4, w * h + (w / 2) * (h / 2) + (r + 1) * (w / 2));
  }
  return b;
}

test('draws: visible slots in slot order, hidden ones not; everything even; a tile past the edge cut with its crop', () => {
  const d = canvasDraws([shown(0, 0), hidden, shown(641, 361, 321, 181)], SLOT, CANVAS);
  assert.equal(d.map((t) => t.slot), [0, 2]);
  assert.equal(d[0], { slot: 0, crop: { x: 0, y: 0, width: 640, height: 360 }, dst: { x: 0, y: 0, width: 640, height: 360 } });
  for (const t of d) for (const r of [t.crop, t.dst]) for (const v of Object.values(r)) assert.is(v % 2, 0, JSON.stringify(t));
  // Half of a 640-wide tile hangs past the right edge: half the picture is drawn, in its place.
  const [cut] = canvasDraws([shown(960, 0, 640, 360)], SLOT, CANVAS);
  assert.equal(cut.dst, { x: 960, y: 0, width: 320, height: 360 });
  assert.equal(cut.crop, { x: 0, y: 0, width: 320, height: 360 });
  // Entirely outside, or empty: nothing.
  assert.equal(canvasDraws([shown(1280, 0), shown(0, 0, 0, 0)], SLOT, CANVAS), []);
  // A crop layout's crop is kept.
  const [c] = canvasDraws([shown(0, 0, 320, 360, { x: 160, y: 0, width: 320, height: 360 })], SLOT, CANVAS);
  assert.equal(c.crop, { x: 160, y: 0, width: 320, height: 360 });
});

test('background: 0xRRGGBB as limited-range BT.601; anything else refused', () => {
  assert.equal(backgroundYuv('0x000000'), [16, 128, 128]);
  assert.equal(backgroundYuv('#ffffff'), [235, 128, 128]);
  assert.equal(backgroundYuv('0x202020'), [43, 128, 128]);
  assert.throws(() => backgroundYuv('red'), /0xRRGGBB/);
});

for (const [name, lib] of [['native', i420ComposeAddon()], ['JavaScript', jsCompose]] as const) {
  test(`${name}: tiles at their places (copied, scaled, cropped), background elsewhere, later slots on top`, () => {
    if (!lib) return skip('native/i420compose is not built (npm run build:i420compose)');
    const composer = new CanvasComposer(CANVAS, SLOT, '0x202020', lib);
    const red: [number, number, number] = [82, 90, 240];
    const blue: [number, number, number] = [41, 240, 110];
    const green: [number, number, number] = [145, 54, 34];
    const pics = [halves(red, blue), flatI420(SLOT, ...green), null];
    const placements = [shown(0, 0), shown(640, 360, 320, 180), shown(1000, 0, 200, 100)];
    const { canvas, release } = composer.compose(pics, placements, 1);
    const px = (x: number, y: number) => pixel(canvas.data, CANVAS, x, y);
    assert.equal(px(100, 100), red, 'slot 0, left half');
    assert.equal(px(500, 100), blue, 'slot 0, right half (copied as it is)');
    assert.equal(px(700, 400), green, 'slot 1, scaled to a quarter');
    assert.equal(px(1000, 600), [43, 128, 128], 'background beside slot 1');
    assert.equal(px(1100, 50), [43, 128, 128], 'a visible slot with no picture: background');
    release();
    // Slot 1 moved over slot 0 (drawn after it), and slot 0 cropped to its right half, scaled up.
    const moved = [shown(0, 0, 1280, 720, { x: 320, y: 0, width: 320, height: 360 }), shown(0, 0, 320, 180), hidden];
    const next = composer.compose(pics, moved, 2);
    const q = (x: number, y: number) => pixel(next.canvas.data, CANVAS, x, y);
    assert.equal(q(100, 100), green, 'slot 1 on top');
    assert.equal(q(900, 500), blue, 'the crop: only the right half, over the whole canvas');
    next.release();
  });
}

test('native and JavaScript agree where nothing is scaled; a scaled tile is close', (ctx) => {
  const lib = i420ComposeAddon();
  if (!lib) return skip('native/i420compose is not built (npm run build:i420compose)');
  const pic = Buffer.alloc(i420Size(SLOT));
  for (let i = 0; i < pic.length; i++) pic[i] = (i * 7 + (i >> 9)) & 255;
  const smooth = flatI420(SLOT, 120, 100, 150);
  const run = (l: typeof jsCompose, p: Buffer, pl: SlotPlacement[]) => Buffer.from(new CanvasComposer(CANVAS, SLOT, '0x202020', l).compose([p], pl, 1).canvas.data);
  assert.ok(run(lib, pic, [shown(320, 180)]).equals(run(jsCompose, pic, [shown(320, 180)])), 'copies are exact');
  const a = run(lib, smooth, [shown(100, 100, 960, 540)]);
  const b = run(jsCompose, smooth, [shown(100, 100, 960, 540)]);
  assert.equal(pixel(a, CANVAS, 500, 400), pixel(b, CANVAS, 500, 400), 'a flat picture scales to itself');
  void ctx;
});

test('the pool: a canvas comes back only when every write has let it go', () => {
  const composer = new CanvasComposer(CANVAS, SLOT, '0x202020', i420ComposeAddon() ?? jsCompose);
  const first = composer.compose([null], [hidden], 1);
  const write = first.canvas.retain();
  first.release();
  const second = composer.compose([null], [hidden], 1);
  assert.is.not(second.canvas, first.canvas, 'still held by a write');
  write();
  write(); // idempotent
  second.release();
  const third = composer.compose([null], [hidden], 1);
  assert.ok(third.canvas === first.canvas || third.canvas === second.canvas, 'reused');
  assert.is(third.canvas.data.length, i420Size(CANVAS));
});

test('bad arguments to the addon throw, never crash', () => {
  const lib = i420ComposeAddon();
  if (!lib) return skip('native/i420compose is not built (npm run build:i420compose)');
  const canvas = Buffer.alloc(i420Size(CANVAS));
  const pic = Buffer.alloc(i420Size(SLOT));
  assert.throws(() => lib.draw(canvas, 1280, 720, pic, 640, 360, 1, 0, 640, 360, 0, 0, 640, 360), /even/);
  assert.throws(() => lib.draw(canvas, 1280, 720, pic, 640, 360, 0, 0, 640, 360, 1000, 0, 640, 360), /inside the canvas/);
  assert.throws(() => lib.draw(canvas, 1280, 720, Buffer.alloc(10), 640, 360, 0, 0, 640, 360, 0, 0, 640, 360), /smaller/);
  assert.throws(() => lib.fill(canvas, 1280, 720, 0, 0, 0, 0, 0, 2000, 2), /inside/);
  assert.throws(() => (lib.draw as (...a: unknown[]) => void)('x'), /14 arguments/);
});

test.run();
