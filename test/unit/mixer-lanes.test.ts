import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { laneOfRung, splitRungs } from '../../pipeline/mixer/lanes.ts';

test('VP8 rungs are the main lane, H.264 rungs their own', () => {
  assert.is(laneOfRung('720p'), 'main');
  assert.is(laneOfRung('360p'), 'main');
  assert.is(laneOfRung('720p-h264'), 'h264');
  assert.is(laneOfRung('360p-h264'), 'h264');
});

test('splitRungs keeps the output order within each lane and drops unknown ids', () => {
  assert.equal(splitRungs(['360p-h264', '360p', 'bogus', '720p-h264', '720p']), { main: ['720p', '360p'], h264: ['720p-h264', '360p-h264'] });
  assert.equal(splitRungs(['720p', '360p']), { main: ['720p', '360p'], h264: [] });
  assert.equal(splitRungs([]), { main: [], h264: [] });
});

test.run();
