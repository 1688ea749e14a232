import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { rungTakesFrame } from '../../pipeline/mixer/rungCadence.ts';

test('a 15 fps rung of a 30 fps mix takes every other frame; a rung at the mix rate takes all', () => {
  assert.equal([1, 2, 3, 4, 5, 6].map((f) => rungTakesFrame(f, 30, 15)), [false, true, false, true, false, true]);
  assert.equal([1, 2, 3].map((f) => rungTakesFrame(f, 30, 30)), [true, true, true]);
  assert.equal([1, 2, 3, 4].map((f) => rungTakesFrame(f, 30, 10)), [false, false, true, false]);
});

test('skipped ticks do not move a slower rung against the composite: its frame m is always composite frame 2m', () => {
  // The mixer's clock runs 40 ticks; Node skips ticks 7, 8 and 21 (FFmpeg not keeping up), so
  // those write nothing and the composite's frame numbers run behind the tick numbers.
  const skipped = new Set([7, 8, 21]);
  let frame = 0;
  let rungFrame = 0;
  for (let tick = 1; tick <= 40; tick++) {
    if (skipped.has(tick)) continue;
    frame++;
    if (!rungTakesFrame(frame, 30, 15)) continue;
    rungFrame++;
    // The 15 fps trigger's frame m (time m/15) and the composite's frame (time frame/30) are the same instant.
    assert.is(frame, 2 * rungFrame, `tick ${tick}: composite frame ${frame}, rung frame ${rungFrame}`);
  }
  assert.is(rungFrame, 18);
});

test.run();
