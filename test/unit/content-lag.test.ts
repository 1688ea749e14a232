import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ContentLag } from '../../pipeline/mixer/ContentLag.ts';

test('the lag is the mean age of the slots\' content, and the write maps to its instant less it', () => {
  const lag = new ContentLag();
  assert.is(lag.contentAt(1000, [NaN, NaN]), 1000); // nothing known: the write's own instant
  assert.is(lag.contentAt(1000, [980, 960, NaN]), 970); // first content: taken as it is
  assert.is(lag.ms, 30);
});

test('smoothed: one tick of odd ages moves it a little; a lasting change is followed', () => {
  const lag = new ContentLag(0.05);
  for (let t = 0; t < 100; t++) lag.contentAt(t * 20, [t * 20 - 40]);
  assert.ok(Math.abs(lag.ms - 40) < 1e-9);
  lag.contentAt(2000, [2000 - 100]);
  assert.ok(lag.ms > 40 && lag.ms < 44, String(lag.ms));
  for (let t = 101; t < 300; t++) lag.contentAt(t * 20, [t * 20 - 20]);
  assert.ok(Math.abs(lag.ms - 20) < 0.1, String(lag.ms));
});

test('slots without content keep the last estimate; ages that cannot be (negative, over a second) are left out', () => {
  const lag = new ContentLag();
  lag.contentAt(1000, [975]);
  assert.is(lag.contentAt(1020, []), 1020 - 25);
  assert.is(lag.contentAt(1040, [1050, 1040 - 5000]), 1040 - 25);
});

test.run();
