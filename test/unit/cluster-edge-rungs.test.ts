// Edge viewers adapt as the owner's viewers do: the same RungAdapter on their own feedback, a
// switch to another rung's pull made pending and taken on that pull's keyframe start (audio only:
// at once), no second step while one is pending, a pinned level never moves, a failed pull asked
// for again at the next sample.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { AUDIO_PULL, EdgeViewerRung, levelOfPull } from '../../pipeline/cluster/edgeRungs.ts';
import { RungAdapter, type Feedback } from '../../pipeline/ladder.ts';

const bad = (atMs: number): Feedback => ({ atMs, lossPercent: 12, rttMs: 40, estimateKbps: 300 });
const good = (atMs: number): Feedback => ({ atMs, lossPercent: 0, rttMs: 20, estimateKbps: 3000 });

/** Feeds one sample a second from `from` to `to` (ms); returns the first pull asked for, with when. */
function feed(r: EdgeViewerRung, fb: (t: number) => Feedback, from: number, to: number): { key: string; at: number } | null {
  for (let t = from; t <= to; t += 1000) {
    const key = r.adapt(fb(t));
    if (key) return { key, at: t };
  }
  return null;
}

test('a viewer starts on its level\'s pull; audio-only viewers on the audio pull', () => {
  assert.is(new EdgeViewerRung('vp8', '720p', false).current, '720p/vp8');
  assert.is(new EdgeViewerRung('h264', '360p', true).current, '360p/h264');
  assert.is(new EdgeViewerRung(null, '720p', false).current, AUDIO_PULL);
  assert.is(levelOfPull('360p/h264'), '360p');
  assert.is(levelOfPull(AUDIO_PULL), 'audio');
});

test('steps down on the owner\'s schedule, to a pending pull taken on its keyframe start', () => {
  const r = new EdgeViewerRung('vp8', '720p', false);
  const owner = new RungAdapter('720p');
  // The same samples move the owner's adapter and the edge viewer at the same moment.
  let ownerAt = -1;
  for (let t = 0; t <= 5000 && ownerAt < 0; t += 1000) if (owner.update(bad(t))) ownerAt = t;
  const asked = feed(r, bad, 0, 5000);
  assert.equal(asked, { key: '360p/vp8', at: ownerAt });
  assert.is(r.current, '720p/vp8', 'still on 720p until the new rung\'s keyframe');
  assert.is(r.pending, '360p/vp8');
  // Asked once: further samples at the same level do not ask again.
  assert.is(r.adapt(bad(ownerAt + 500)), null);
  // Packets of the old pull, and non-keyframe packets of the new one, do not switch it.
  assert.not.ok(r.onPacket('720p/vp8', 'video', true));
  assert.not.ok(r.onPacket('360p/vp8', 'video', false));
  assert.not.ok(r.onPacket('360p/vp8', 'audio', false));
  assert.ok(r.onPacket('360p/vp8', 'video', true));
  assert.is(r.current, '360p/vp8');
  assert.is(r.pending, null);
  assert.is(r.level, '360p');
});

test('down to audio only at once, back up on a keyframe after the good period', () => {
  const r = new EdgeViewerRung('vp8', '360p', false);
  const asked = feed(r, bad, 0, 5000);
  assert.is(asked?.key, AUDIO_PULL);
  assert.ok(r.onPacket(AUDIO_PULL, 'audio', false), 'audio only needs no keyframe');
  assert.is(r.current, AUDIO_PULL);
  // Up: only after good feedback has lasted the adapter's wait (5 s), and never faster.
  const up = feed(r, good, 10_000, 30_000);
  assert.is(up?.key, '360p/vp8');
  assert.ok(up!.at - 10_000 >= 5000, `stepped up after ${up!.at - 10_000} ms of good feedback`);
  assert.ok(r.onPacket('360p/vp8', 'video', true));
  assert.is(r.current, '360p/vp8');
});

test('while a switch is pending, feedback about the rung being left is not acted on', () => {
  const r = new EdgeViewerRung('vp8', '720p', false);
  const asked = feed(r, bad, 0, 5000)!;
  assert.is(r.pending, '360p/vp8');
  // The new pull is slow to start: seconds more of bad feedback from 720p do not take it to audio.
  assert.is(feed(r, bad, asked.at + 1000, asked.at + 10_000), null);
  assert.is(r.pending, '360p/vp8');
  assert.ok(r.onPacket('360p/vp8', 'video', true));
  // Once on 360p, its own feedback decides again (here: still bad, so audio only).
  assert.is(feed(r, bad, asked.at + 11_000, asked.at + 20_000)?.key, AUDIO_PULL);
});

test('a pull that could not be had is asked for again at the next sample', () => {
  const r = new EdgeViewerRung('vp8', '720p', false);
  const asked = feed(r, bad, 0, 5000)!;
  r.cancel();
  assert.is(r.pending, null);
  assert.is(r.adapt(bad(asked.at + 1000)), '360p/vp8');
  assert.is(r.pending, '360p/vp8');
});

test('a pinned level (?level=) and a viewer without video never move', () => {
  for (const r of [new EdgeViewerRung('vp8', '360p', true), new EdgeViewerRung(null, '720p', false)]) {
    const before = r.current;
    assert.not.ok(r.adapts);
    assert.is(feed(r, bad, 0, 20_000), null);
    assert.is(r.current, before);
  }
});

test.run();
