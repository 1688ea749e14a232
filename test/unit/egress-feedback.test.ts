// What a subscriber's RTCP tells the egress: loss over a window of receiver reports, and when
// its silence means it is gone.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { LossWindow } from '../../pipeline/rtp/LossWindow.ts';
import { RTCP_SILENT_MAX_MS, RtcpSilence } from '../../pipeline/rtp/RtcpSilence.ts';

test('loss window: Δlost / Δexpected across the reports kept, null until two span packets', () => {
  const w = new LossWindow();
  assert.is(w.percent(), null);
  w.add(0, 1000, 0);
  assert.is(w.percent(), null, 'one report says nothing of an interval');
  w.add(0, 1000, 1000);
  assert.is(w.percent(), null, 'no packets expected between them');
  w.add(10, 1100, 2000);
  assert.is(w.percent(), 10);
  // A swing in one interval is averaged with the rest of the window.
  w.add(10, 1200, 3000);
  assert.is(w.percent(), 5);
});

test('loss window: older reports leave after 3 s, a reset forgets them all, the figure stays in 0..100', () => {
  const w = new LossWindow();
  w.add(0, 0, 0);
  w.add(100, 100, 1000); // a burst long ago
  w.add(100, 200, 2000);
  w.add(100, 300, 6000);
  w.add(100, 400, 7000);
  assert.is(w.percent(), 0, 'the burst is out of the window');
  w.reset();
  assert.is(w.percent(), null);
  w.add(50, 100, 0);
  w.add(0, 200, 1000); // a receiver that restarted its counters
  assert.is(w.percent(), 0);
  w.reset();
  w.add(0, 100, 0);
  w.add(500, 200, 1000);
  assert.is(w.percent(), 100);
});

test('loss window: after a reset with the next sequence number, reports from before the receiver saw it are not kept', () => {
  const w = new LossWindow();
  w.add(0, 65_530, 0);
  w.add(0, 65_535, 1000);
  // Video paused (a step down to audio) after seq 65535; the last 20 sent before it were lost
  // at the link, which the receiver cannot know yet. It resumes with seq 0 (a wrap).
  w.reset(65_536);
  w.add(0, 65_535, 2000); // still before the resume
  assert.is(w.percent(), null);
  // The first packets after the resume arrive: the receiver counts the old tail lost at once.
  w.add(20, 65_536 + 50, 3000);
  w.add(20, 65_536 + 150, 4000);
  assert.is(w.percent(), 0, 'the old tail is not this stream\'s loss');
  // Without the sequence number, the report from before the resume is the baseline and the
  // tail lands in the window: what sent e2e/adaptation's subscriber back to audio.
  const old = new LossWindow();
  old.reset();
  old.add(0, 65_535, 2000);
  old.add(20, 65_535 + 50, 3000);
  assert.is(old.percent(), 40);
});

test('RTCP silence: nothing before the first RTCP; 3 × the longest gap, floored and capped', () => {
  const s = new RtcpSilence(5000, true);
  assert.is(s.overdue(1e9), null, 'never sent RTCP: left to ICE/DTLS');
  s.note(1000);
  s.note(2000);
  assert.is(s.limitMs, 5000, 'a 1 s interval: the 5 s floor');
  assert.is(s.overdue(7000), null);
  assert.is(s.overdue(7001), 5001);
  s.note(6000); // a 4 s gap
  assert.is(s.limitMs, 12_000);
  s.note(30_000); // a 24 s gap: capped
  assert.is(s.limitMs, RTCP_SILENT_MAX_MS);
});

test('RTCP silence: an audio-only subscriber gets the longest wait until two of its intervals are known', () => {
  const s = new RtcpSilence(5000, false);
  s.note(1000);
  s.note(2000);
  assert.is(s.limitMs, RTCP_SILENT_MAX_MS, 'one interval known');
  assert.is(s.overdue(16_000), null);
  s.note(3000);
  assert.is(s.limitMs, 5000, 'two intervals known');
  assert.ok(s.overdue(8500)! > 5000);
});

test.run();
