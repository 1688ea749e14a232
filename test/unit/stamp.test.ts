// The benchmarks' frame counter: drawn, scaled, read back.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readStamp, STAMP, stampGeq } from '../../bench/lib/stamp.ts';

/** A luma plane with the stamp for `value` drawn like the fixture's geq, placed in `rect`. */
function draw(value: number, canvas: { w: number; h: number }, rect: { x: number; y: number; width: number; height: number }) {
  const data = new Uint8Array(canvas.w * canvas.h * 1.5).fill(90);
  const sx = rect.width / 640;
  const sy = rect.height / 360;
  for (let y = 0; y < STAMP.height * sy; y++) {
    for (let x = STAMP.x0 * sx; x < (STAMP.x0 + STAMP.block * STAMP.bits) * sx; x++) {
      const bit = Math.floor((x / sx - STAMP.x0) / STAMP.block);
      data[(rect.y + y) * canvas.w + Math.floor(rect.x + x)] = (value >> bit) & 1 ? 235 : 16;
    }
  }
  return { width: canvas.w, height: canvas.h, data };
}

test('reads the counter at source size and scaled into a tile', () => {
  for (const v of [0, 1, 299, 2730, 4095]) {
    assert.is(readStamp(draw(v, { w: 640, h: 360 }, { x: 0, y: 0, width: 640, height: 360 }), { x: 0, y: 0, width: 640, height: 360 }), v);
    const tile = { x: 640, y: 360, width: 640, height: 360 };
    assert.is(readStamp(draw(v, { w: 1280, h: 720 }, tile), tile), v);
    const big = { x: 0, y: 0, width: 1280, height: 720 };
    assert.is(readStamp(draw(v, { w: 1280, h: 720 }, big), big), v);
  }
});

test('a strip that is not black-or-white reads as null, never as a number', () => {
  const frame = { width: 640, height: 360, data: new Uint8Array(640 * 360 * 1.5).fill(128) };
  assert.is(readStamp(frame, { x: 0, y: 0, width: 640, height: 360 }), null);
});

test('the geq expression draws the counter modulo the fixture length', () => {
  const g = stampGeq([81, 90, 240], 300);
  assert.match(g, /^geq=lum='if\(lt\(Y,40\)\*gte\(X,80\)\*lt\(X,560\),if\(bitand\(floor\(mod\(N,300\)/);
  assert.match(g, /cb='if\(lt\(Y,20\)\*gte\(X,40\)\*lt\(X,280\),128,90\)'/);
});

test.run();
