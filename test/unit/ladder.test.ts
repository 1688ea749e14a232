import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RungAdapter, rungById, rungFor, sortRungs, type Feedback, type Level } from '../../pipeline/ladder.ts';

/** Feeds a recorded feedback sequence (one sample per `stepMs`); returns the level changes. */
function replay(a: RungAdapter, samples: Array<Omit<Feedback, 'atMs'>>, stepMs = 1000, from = 0) {
  const changes: Array<[number, Level]> = [];
  samples.forEach((s, i) => {
    const at = from + i * stepMs;
    const l = a.update({ ...s, atMs: at });
    if (l) changes.push([at, l]);
  });
  return changes;
}
const good = { lossPercent: 0, rttMs: 20, estimateKbps: 5000 };
const lossy = { lossPercent: 12, rttMs: 250, estimateKbps: 550 };
const starved = { lossPercent: 30, rttMs: 800, estimateKbps: 90 };
const times = (n: number, s: Omit<Feedback, 'atMs'>) => Array.from({ length: n }, () => s);

test('rungs: ids, sizes and order', () => {
  assert.equal(rungFor('720p', 'vp8'), { id: '720p', level: '720p', codec: 'vp8', width: 1280, height: 720, fps: 30, bitrateKbps: 1500 });
  assert.equal(rungFor('360p', 'h264')!.id, '360p-h264');
  assert.is(rungFor('audio', 'vp8'), null);
  assert.is(rungById('360p-h264')!.fps, 15);
  assert.is(rungById('1080p'), null);
  assert.equal(sortRungs(['360p-h264', '360p', '720p', '720p']), ['720p', '360p', '360p-h264']);
});

test('a congested link (600 kbps) steps down to 360p within 2 s, and stays there', () => {
  const a = new RungAdapter('720p');
  // 720p overflows the link (loss, queueing); at 360p the loss is gone but 720p still does not fit.
  const fine360 = { lossPercent: 0.2, rttMs: 40, estimateKbps: 560 };
  const changes = replay(a, [...times(3, good), ...times(3, lossy), ...times(4, fine360)]);
  assert.equal(changes, [[5000, '360p']]);
});

test('a starved link (100 kbps) steps down to audio-only, one level at a time', () => {
  const a = new RungAdapter('720p');
  const changes = replay(a, [...times(2, good), ...times(6, starved)]);
  assert.equal(changes.map((c) => c[1]), ['360p', 'audio']);
});

test('recovery steps back up one level at a time after 5 s of good feedback', () => {
  const a = new RungAdapter('audio');
  const changes = replay(a, times(15, good));
  assert.equal(changes, [[5000, '360p'], [11000, '720p']]);
});

test('hysteresis: loss between 1 % and 5 % neither steps down nor up', () => {
  const a = new RungAdapter('360p');
  assert.equal(replay(a, times(30, { lossPercent: 3, rttMs: 50, estimateKbps: 5000 })), []);
});

test('a failed probe doubles the wait before the next one (no flapping)', () => {
  const a = new RungAdapter('360p');
  // good for 5 s → up; 720p immediately lossy → down; good again
  const seq = [...times(6, good), ...times(3, lossy), ...times(30, { ...good, estimateKbps: 5000 })];
  const changes = replay(a, seq);
  assert.equal(changes.slice(0, 2).map((c) => c[1]), ['720p', '360p']);
  const secondUp = changes[2];
  assert.ok(secondUp && secondUp[0] - changes[1][0] >= 10_000, `waited ${secondUp?.[0] - changes[1][0]} ms`);
  assert.is(a.upAfterMs, 10_000);
});

test('falling further after a failed probe is not a second failed probe (e2e/adaptation stuck at audio)', () => {
  const a = new RungAdapter('720p');
  // 600 kbps: down to 360p; a probe to 720p fails (wait 5 → 10 s); the link then gets worse: to
  // audio. That fall is not another failed probe: the climb back starts after 10 s, not 20.
  const seq = [...times(3, lossy), ...times(6, good), ...times(3, lossy), ...times(3, starved), ...times(25, good)];
  const changes = replay(a, seq);
  assert.equal(changes.map((c) => c[1]), ['360p', '720p', '360p', 'audio', '360p', '720p']);
  // 10 s of good feedback, from the first good report (1 s after the fall).
  assert.is(changes[4][0] - changes[3][0], 11_000, `audio → 360p after ${changes[4][0] - changes[3][0]} ms`);
});

test('a step up that holds for twice its wait resets the wait', () => {
  const a = new RungAdapter('360p');
  replay(a, [...times(6, good), ...times(3, lossy)]); // a failed probe: the wait is 10 s
  assert.is(a.upAfterMs, 10_000);
  const changes = replay(a, times(32, good), 1000, 9000);
  assert.equal(changes.map((c) => c[1]), ['720p']);
  assert.is(a.upAfterMs, 5000, 'held 20 s at 720p: the next probe waits the base 5 s');
});

test('RTT over 300 ms alone steps down', () => {
  const a = new RungAdapter('720p');
  assert.equal(replay(a, times(3, { lossPercent: 0, rttMs: 400, estimateKbps: null }))[0][1], '360p');
});


test('a low receiver estimate alone (REMB ramping up) does not force a step down', () => {
  const a = new RungAdapter('720p');
  assert.equal(replay(a, times(20, { lossPercent: 0, rttMs: 3, estimateKbps: 78 })), []);
});

test.run();
