// The mixer's decisions, without FFmpeg: its drift-corrected clocks, the keyframe limit per rung,
// and the restart backoff (pipeline/mixer/clock.ts, keyframePolicy.ts, restartPolicy.ts).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { TickClock } from '../../pipeline/mixer/clock.ts';
import { KeyframePolicy, KEYFRAME_INTERVAL_MS, KEYFRAME_MIN_GAP_MS } from '../../pipeline/mixer/keyframePolicy.ts';
import {
  FROZEN_AFTER_MS,
  isFrozen,
  isPlanned,
  isStuckIncoming,
  NO_FIRST_MEDIA_MS,
  RESTART_BACKOFF_MS,
  RestartBackoff,
} from '../../pipeline/mixer/restartPolicy.ts';

test('clock: each timer aims at the tick’s due time, so lateness never accumulates', () => {
  const c = new TickClock(1000 / 30, 5);
  c.start(1000);
  assert.ok(Math.abs(c.delayToNext(1000) - 33.33) < 0.01);
  // Every timer fires 5 ms late: the next one is set 5 ms shorter, the ticks stay on the grid.
  let now = 1000;
  const ran: number[] = [];
  for (let i = 0; i < 300; i++) {
    now += c.delayToNext(now) + 5;
    ran.push(...c.due(now));
  }
  assert.is(ran.length, 300, 'one tick per timer, none lost or doubled');
  assert.equal(ran.slice(0, 3), [1, 2, 3]);
  // After 300 ticks (10 s), the clock is still within one late timer of the grid.
  assert.ok(now - (1000 + 300 * (1000 / 30)) <= 5 + 1e-6, `drift ${(now - 11_000).toFixed(2)} ms`);
});

test('clock: a timer that fires early runs nothing; a late one catches up tick by tick', () => {
  const c = new TickClock(20, 10);
  c.start(0);
  assert.equal(c.due(19.9), []);
  assert.equal(c.due(20), [1]);
  assert.equal(c.due(65), [2, 3], 'two overdue ticks, in order');
  assert.is(c.ticks, 3);
  assert.is(c.delayToNext(65), 15);
});

test('clock: after a long stall it skips ahead instead of bursting old ticks', () => {
  const video = new TickClock(1000 / 30, 5);
  video.start(0);
  assert.equal(video.due(190), [1, 2, 3, 4, 5], 'five ticks behind: all run');
  video.start(0);
  assert.equal(video.due(200), [6], 'six behind: only the last');
  video.start(0);
  // 1 s stall: 30 ticks due, only the last one runs, the grid is kept.
  assert.equal(video.due(1001), [30]);
  assert.ok(Math.abs(video.delayToNext(1001) - 32.33) < 0.01, 'the next tick stays on the grid');
  const audio = new TickClock(20, 10);
  audio.start(0);
  assert.equal(audio.due(200), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 'ten behind: all run');
  audio.start(0);
  assert.equal(audio.due(220), [11], 'eleven behind: only the last');
});

test('keyframes: periodic every 2 s per rung, and at once when asked', () => {
  const k = new KeyframePolicy();
  const rungs = ['720p', '360p'];
  k.started(rungs, 0);
  assert.equal([...k.due(rungs, 1000)], []);
  assert.equal([...k.due(rungs, KEYFRAME_INTERVAL_MS)].sort(), ['360p', '720p']);
  k.sent(['720p', '360p'], KEYFRAME_INTERVAL_MS);
  k.request(['360p']);
  assert.equal([...k.due(rungs, KEYFRAME_INTERVAL_MS + KEYFRAME_MIN_GAP_MS)], ['360p'], 'only the rung asked for');
});

test('keyframes: periodic only on the rungs given as periodic; the others only when asked', () => {
  const k = new KeyframePolicy();
  const rungs = ['720p', '360p'];
  k.started(rungs, 0);
  k.setPeriodic(['360p']); // e.g. an HLS tap on 360p, only browsers on 720p
  assert.equal([...k.due(rungs, KEYFRAME_INTERVAL_MS)], ['360p']);
  k.setPeriodic([]);
  assert.equal([...k.due(rungs, 60_000)], [], 'nobody needs them: none, however long');
  k.request(['720p']);
  assert.equal([...k.due(rungs, 60_000)], ['720p'], 'asked: at once');
});

test('keyframes: at most one per 300 ms per rung, however many ask', () => {
  const k = new KeyframePolicy();
  k.started(['720p'], 0);
  k.sent(['720p'], 10_000);
  let sent = 0;
  // A PLI every 10 ms for one second (a burst from many subscribers).
  for (let t = 10_010; t <= 11_000; t += 10) {
    k.request(['720p']);
    const due = k.due(['720p'], t);
    if (due.size) {
      assert.ok(t - 10_000 >= KEYFRAME_MIN_GAP_MS);
      k.sent(due, t);
      sent++;
    }
  }
  assert.is(sent, 3, 'keyframes at 300, 600 and 900 ms');
  // Another rung is not held back by this one's limit.
  k.request(['360p']);
  assert.equal([...k.due(['720p', '360p'], 11_000)], ['360p']);
});

test('keyframes: a request made inside the limit is served once it ends, not dropped', () => {
  const k = new KeyframePolicy();
  k.started(['720p'], 0);
  k.request(['720p']);
  assert.is(k.due(['720p'], 100).size, 0);
  assert.is(k.due(['720p'], 299).size, 0);
  assert.equal([...k.due(['720p'], 300)], ['720p']);
  // A rung no longer encoded is never due.
  assert.is(k.due([], 5000).size, 0);
});

test('restart: the backoff grows on failures in a row and resets after a stable run', () => {
  const b = new RestartBackoff();
  const delays = Array.from({ length: 7 }, () => b.next('exited (code 1, signal null)').delayMs);
  assert.equal(delays, [100, 500, 1000, 2000, 5000, 5000, 5000]);
  assert.is(b.failuresInARow, 7);
  b.reset();
  assert.equal(b.next('frozen: no output for 3 s'), { delayMs: RESTART_BACKOFF_MS[0], attempt: 1 });
});

test('restart: a planned replacement (capacity, rungs) starts at once and does not count as a failure', () => {
  const b = new RestartBackoff();
  b.next('exited (code 1, signal null)');
  assert.equal(b.next('rungs'), { delayMs: 0, attempt: 2 });
  assert.equal(b.next('capacity').delayMs, 0);
  assert.is(b.failuresInARow, 1);
  assert.is(b.next('spawn failed: boom').delayMs, 500);
  assert.ok(isPlanned('rungs') && isPlanned('capacity') && !isPlanned('start') && !isPlanned('frozen: no output for 3 s'));
});

test('restart: the watchdog rules (frozen serving process, incoming process without media)', () => {
  assert.not.ok(isFrozen(0, 1e9), 'nothing sent yet is not frozen');
  assert.not.ok(isFrozen(1000, 1000 + FROZEN_AFTER_MS));
  assert.ok(isFrozen(1000, 1001 + FROZEN_AFTER_MS));
  assert.not.ok(isStuckIncoming(0, 1e9), 'inputs not open yet');
  assert.not.ok(isStuckIncoming(1000, 1000 + NO_FIRST_MEDIA_MS));
  assert.ok(isStuckIncoming(1000, 1001 + NO_FIRST_MEDIA_MS));
});

test.run();
