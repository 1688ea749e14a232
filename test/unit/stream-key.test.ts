// The mixer's stream names (pipeline/mixer/streamKey.ts) round-trip: a rung or a slot goes in,
// the same comes out, and no audio key is ever read as a rung.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FULL_MIX_KEY, isVideoStreamKey, minusStreamKey, rungOfStreamKey, slotOfStreamKey, videoStreamKey } from '../../pipeline/mixer/streamKey.ts';

test('a video key carries its rung, whatever the rung id holds', () => {
  for (const rung of ['720p', '360p-h264', 'video:odd']) {
    const key = videoStreamKey(rung);
    assert.ok(isVideoStreamKey(key));
    assert.is(rungOfStreamKey(key), rung);
    assert.is(slotOfStreamKey(key), null);
  }
});

test('audio keys are not rungs; mix-minus keys carry their slot', () => {
  assert.is(rungOfStreamKey(FULL_MIX_KEY), null);
  assert.is(slotOfStreamKey(FULL_MIX_KEY), null);
  for (const slot of [0, 3, 15]) {
    const key = minusStreamKey(slot);
    assert.is(rungOfStreamKey(key), null);
    assert.is(slotOfStreamKey(key), slot);
  }
  assert.is(slotOfStreamKey('minus:x'), null);
});

test.run();
