import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { colorAt, colorDistance, sineChunk, solidI420, toneLevelDb } from '../helpers/media.ts';

test('a solid frame reads back as its colour', () => {
  for (const rgb of [[220, 30, 30], [30, 200, 30], [30, 30, 220], [128, 128, 128]] as const) {
    const frame = { width: 64, height: 36, data: solidI420(64, 36, [...rgb]) };
    assert.ok(colorDistance(colorAt(frame, 32, 18), [...rgb]) < 6, `roundtrip ${rgb}`);
  }
});

test('Goertzel reads a full-scale sine near 0 dB and tells tones apart', () => {
  const a = sineChunk(500, 48000, 0, 48000, 1);
  assert.ok(Math.abs(toneLevelDb(a, 48000, 500)) < 1);
  assert.ok(toneLevelDb(a, 48000, 800) < -60);
  assert.is(toneLevelDb(new Int16Array(4800), 48000, 500), -120);
});

test('a tone 40 dB down in a mixture reads ~40 dB down', () => {
  const a = sineChunk(500, 48000, 0, 48000, 0.3);
  const b = sineChunk(1300, 48000, 0, 48000, 0.003);
  const mix = a.map((v, i) => v + b[i]) as Int16Array;
  const diff = toneLevelDb(mix, 48000, 500) - toneLevelDb(mix, 48000, 1300);
  assert.ok(Math.abs(diff - 40) < 2, `difference ${diff}`);
});

test.run();
