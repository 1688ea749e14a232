// The benchmarks' frame counter: drawn, scaled, read back.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readStamp, STAMP, stampFilter } from '../../bench/lib/stamp.ts';

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

test('the filter draws the counter modulo the fixture length: the strip black, one white block per bit', () => {
  const f = stampFilter([81, 90, 240], 300);
  assert.ok(f.startsWith('lutyuv=y=81:u=90:v=240,drawbox=x=80:y=0:w=480:h=40:color=black:t=fill,'), f);
  assert.match(f, /drawbox=x=80:y=0:w=40:h=40:color=white:t=fill:enable='bitand\(floor\(mod\(n\\,300\)\/1\),1\)'/);
  assert.match(f, /drawbox=x=520:y=0:w=40:h=40:color=white:t=fill:enable='bitand\(floor\(mod\(n\\,300\)\/2048\),1\)'$/);
});

test.run();
