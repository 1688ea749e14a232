// e2e/voice measures pauses in what a subscriber hears against the clean speech lined up with it.
// The heard audio shifts while it is recorded (the mixer's queue cuts a backlog; an underrun
// inserts silence), so the lining up is done piece by piece: test/helpers/voice.ts alignPiecewise.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { align, alignPiecewise, framesLevelDb, pauseFrames } from '../helpers/voice.ts';

const SPEECH: Array<[number, number]> = [[50, 150], [300, 420], [600, 700], [820, 900]];
const loop = new Float64Array(1000).map((_, i) => (SPEECH.some(([a, b]) => i >= a && i < b) ? 0.1 : 1e-4));

/** 10 s heard from loop frame 200 on, `cut` frames (10 ms) dropped at frame 400, -40 dB of noise in pauses. */
function heard(cut: number): Float64Array {
  return new Float64Array(1000).map((_, i) => loop[(i + 200 + (i >= 400 ? cut : 0)) % 1000] + 0.01);
}

test('no shift: the piecewise and the single alignment agree; pauses read the noise (-40 dB)', () => {
  const rec = heard(0);
  const one = align(rec, loop);
  const pw = alignPiecewise(rec, loop);
  assert.is(pw.lag, one.lag);
  assert.is(pw.shiftFrames, 0);
  assert.ok(Math.abs(framesLevelDb(rec, pauseFrames(pw.ref)) - -40) < 0.5);
});

test('250 ms cut mid-recording: one lag puts speech into "pauses"; piece by piece they stay pauses', () => {
  const rec = heard(25);
  const single = framesLevelDb(rec, pauseFrames(align(rec, loop).ref));
  const pw = alignPiecewise(rec, loop);
  const piecewise = framesLevelDb(rec, pauseFrames(pw.ref));
  assert.ok(single > -35, `with one lag the pauses read ${single.toFixed(1)} dB (speech in them)`);
  assert.ok(Math.abs(piecewise - -40) < 0.5, `piece by piece ${piecewise.toFixed(1)} dB`);
  assert.ok(pw.shiftFrames >= 15, `the first pieces moved toward the cut (25 frames) from the single lag: ${pw.shiftFrames}`);
  assert.ok(pw.r > align(rec, loop).r + 0.05, `r ${pw.r.toFixed(3)} piece by piece, ${align(rec, loop).r.toFixed(3)} with one lag`);
});

test('a recording of noise alone (nothing denoised) still reads its noise in the pauses: the check can fail', () => {
  const rec = heard(25).map((v) => v + 0.05);
  const pw = alignPiecewise(rec, loop);
  assert.ok(framesLevelDb(rec, pauseFrames(pw.ref)) > -30);
});

test.run();
