// MixSlot holds the latest picture and gives the one it replaces back to its decoder (once).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { MixSlot } from '../../workers/mixer/MixSlot.ts';
import { flatI420 } from '../../pipeline/media/i420.ts';

const SIZE = { width: 64, height: 36 };

test('a picture is given back when the next replaces it, once; a wrong-sized one at once', () => {
  const slot = new MixSlot('p', 'P', 48000);
  const released: string[] = [];
  const frame = (name: string, size = SIZE) => ({ ...size, data: flatI420(size, 100, 128, 128), release: () => released.push(name) });
  assert.ok(slot.setPicture(frame('a'), SIZE, undefined, 1));
  assert.equal(released, [], 'held');
  assert.ok(slot.setPicture(frame('b'), SIZE, undefined, 2));
  assert.equal(released, ['a']);
  assert.not.ok(slot.setPicture(frame('odd', { width: 32, height: 18 }), SIZE, undefined, 3));
  assert.equal(released, ['a', 'odd'], 'refused and given back');
  assert.ok(slot.livePicture(3) !== null, 'b still held');
  assert.ok(slot.setPicture({ ...SIZE, data: flatI420(SIZE, 100, 128, 128) }, SIZE, undefined, 4), 'a frame without release');
  assert.equal(released, ['a', 'odd', 'b']);
});

test.run();
