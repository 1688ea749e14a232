import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ContentTimeline } from '../../pipeline/rtp/ContentTimeline.ts';
import { TickClock } from '../../pipeline/mixer/clock.ts';

test('video: output frame n is the n-th frame written, whatever its send delay, across a timestamp wrap', () => {
  const t = new ContentTimeline(3000, 1000 / 30, 1);
  const base = 4_294_960_000; // wraps after a few frames
  const written: number[] = [];
  for (let n = 1; n <= 40; n++) {
    // Skipped ticks: frame n went in at an irregular instant (a tick skipped every 7th).
    const at = 1000 + n * (1000 / 30) + Math.floor(n / 7) * (1000 / 30);
    written.push(at);
    t.wrote(n, at);
  }
  for (let k = 0; k < 40; k++) {
    const ts = (base + k * 3000) >>> 0;
    // Several packets of one frame carry one timestamp: each maps to the frame's instant.
    assert.is(t.contentAt(ts), written[k]);
    assert.is(t.contentAt(ts), written[k]);
  }
});

test('audio and video mixed at one instant map to one instant, whatever each process added', () => {
  const clockV = new TickClock(1000 / 30, 5);
  const clockA = new TickClock(20, 10);
  clockV.start(500);
  clockA.start(500);
  const video = new ContentTimeline(3000, 1000 / 30, 1);
  // The audio's first packet carries write 1: the preroll (write 0) gives none.
  const audio = new ContentTimeline(960, 20, 1);
  audio.wrote(0, 480); // the preroll, before the clock started
  for (let n = 1; n <= 30; n++) video.wrote(n, clockV.at(n));
  for (let n = 1; n <= 50; n++) audio.wrote(n, clockA.at(n));
  // Tick 30 of the video clock and tick 50 of the audio clock are both at 1500 ms.
  const v = video.contentAt(7_000) ?? NaN; // the first video packet: frame 1
  const vLast = video.contentAt(7_000 + 29 * 3000) ?? NaN;
  const a = audio.contentAt(123) ?? NaN; // the first audio packet: write 1
  const aLast = audio.contentAt(123 + 49 * 960) ?? NaN;
  assert.is(v, clockV.at(1));
  assert.is(a, clockA.at(1));
  assert.ok(Math.abs(vLast - 1500) < 1e-9 && Math.abs(aLast - 1500) < 1e-9, `video ${vLast}, audio ${aLast}`);
});

test('a packet inside a unit is interpolated; unknown and forgotten units are null', () => {
  const t = new ContentTimeline(960, 20, 0, 8);
  for (let n = 0; n < 20; n++) t.wrote(n, n * 20);
  assert.is(t.contentAt(0), null, 'unit 0 is past the 8-unit window');
  assert.is(t.contentAt(480 + 19 * 960), 390, 'unit 19, half in');
  assert.is(t.contentAt(20 * 960), null, 'unit 20 is not written yet');
  const fresh = new ContentTimeline(960, 20, 0, 8);
  for (let n = 0; n < 4; n++) fresh.wrote(n, 100 + n * 20);
  assert.is(fresh.contentAt(10_000), 100);
  assert.is(fresh.contentAt(10_000 + 480), 110, 'half a unit in');
  assert.is(fresh.contentAt(10_000 + 4 * 960), null, 'unit 4 is not written yet');
  assert.throws(() => new ContentTimeline(960, 20, 0, 6), /power of two/);
});

test('the clock: tick n is due at start + n periods, however late its timer fired', () => {
  const c = new TickClock(20, 10);
  c.start(1000);
  assert.equal(c.due(1065), [1, 2, 3]);
  assert.is(c.at(3), 1060);
});

test.run();
