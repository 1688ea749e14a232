// The limiter after the mix, run by FFmpeg exactly as the audio mixer's graph names and sets it
// (limiterFilter), on float input louder than full scale: what it protects against (a loud
// talker clipping the mix) and what it must not cost (any delay: the voice chain's 10 ms budget
// is all arnndn's). Checked by content, sample by sample; each check also holds the input
// against it, so it can fail.

import { execFileSync } from 'node:child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { LIMIT, limiterFilter } from '../../pipeline/audio/voice.ts';
import { hasBinary, skip } from '../helpers/skip.ts';

const RATE = 48000;
const db = (v: number) => 20 * Math.log10(v);

/** f32 mono 48 kHz through `filter` (one FFmpeg run, stdin → stdout). */
function run(filter: string, x: Float32Array): Float32Array {
  const out = execFileSync(
    'ffmpeg',
    ['-hide_banner', '-loglevel', 'error', '-f', 'f32le', '-ar', String(RATE), '-ac', '1', '-i', 'pipe:0', '-af', filter, '-f', 'f32le', 'pipe:1'],
    { input: Buffer.from(x.buffer, x.byteOffset, x.byteLength), maxBuffer: 64 << 20 },
  );
  return new Float32Array(out.buffer.slice(out.byteOffset, out.byteOffset + out.byteLength));
}

const peak = (x: Float32Array) => x.reduce((m, v) => Math.max(m, Math.abs(v)), 0);

/** A seeded pseudo-random source (the same signal every run). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
}

/** Speech-like: noise through a one-pole low-pass, in 3 Hz syllables with pauses, 4 s, peak 1. */
function syllables(): Float32Array {
  const r = rng(7);
  const x = new Float32Array(RATE * 4);
  let lp = 0;
  for (let i = 0; i < x.length; i++) {
    lp += 0.2 * (r() - lp);
    const t = i / RATE;
    x[i] = lp * (Math.sin(2 * Math.PI * 3 * t) > 0.3 ? 1 : 0.05) * (1 + 0.5 * Math.sin(2 * Math.PI * 0.7 * t));
  }
  const p = peak(x);
  return x.map((v) => v / p);
}

const sine = (hz: number, amp: number, sec = 2) => Float32Array.from({ length: RATE * sec }, (_, i) => amp * Math.sin((2 * Math.PI * hz * i) / RATE));
const gain = (x: Float32Array, dB: number) => x.map((v) => v * 10 ** (dB / 20));

/** Lag (samples, 0..max) at which `y` best matches `x` delayed. */
function lagOf(x: Float32Array, y: Float32Array, max = 64): number {
  let best = 0;
  let bestC = -Infinity;
  const n = Math.min(x.length, y.length) - max;
  for (let lag = 0; lag <= max; lag++) {
    let c = 0;
    for (let i = 0; i < n; i++) c += x[i] * y[i + lag];
    if (c > bestC) (bestC = c), (best = lag);
  }
  return best;
}

test('a +12 dB talker leaves at or under the limit (≤ 0 dBFS, ≤ -5 dBFS), turned down by gain, with no delay', () => {
  if (!hasBinary('ffmpeg')) return skip('needs ffmpeg');
  const limiter = limiterFilter('full');
  for (const [name, x] of [
    ['speech-like syllables, peaks +12 dBFS', gain(syllables(), 12)],
    ['200 Hz at +12 dBFS', sine(200, 10 ** (12 / 20))],
    ['1 kHz at +12 dBFS', sine(1000, 10 ** (12 / 20))],
  ] as const) {
    const y = run(limiter, x);
    const atLimit = y.filter((v) => Math.abs(v) >= LIMIT * 0.999).length / y.length;
    const lag = lagOf(x, y);
    console.log(`  ${name}: in ${db(peak(x)).toFixed(1)} dBFS → out ${db(peak(y)).toFixed(2)} dBFS, ${(atLimit * 100).toFixed(2)} % of samples at the clip, delay ${lag} samples`);
    assert.is(y.length, x.length, 'every sample comes out');
    assert.ok(db(peak(x)) > 11.9, 'the input is 12 dB over full scale');
    assert.ok(peak(y) <= 1, `out peak ${db(peak(y)).toFixed(2)} dBFS (want ≤ 0)`);
    assert.ok(peak(y) <= LIMIT + 1e-6, `out peak ${db(peak(y)).toFixed(2)} dBFS (want ≤ the limit, ${db(LIMIT).toFixed(2)})`);
    // A plain clip would cut 4-11 % of these samples: the compressor does the work as a gain.
    assert.ok(atLimit < 0.01, `${(atLimit * 100).toFixed(2)} % of samples at the clip (want < 1 %)`);
    assert.is(lag, 0, `output delayed by ${lag} samples`);
  }
});

test('below the limit it passes untouched: a -20 dBFS 1 kHz tone, sample for sample, no delay', () => {
  if (!hasBinary('ffmpeg')) return skip('needs ffmpeg');
  const x = sine(1000, 0.1);
  const y = run(limiterFilter(0), x);
  let maxDiff = 0;
  for (let i = 0; i < x.length; i++) maxDiff = Math.max(maxDiff, Math.abs(y[i] - x[i]));
  console.log(`  -20 dBFS tone: largest sample difference ${maxDiff.toExponential(2)}`);
  assert.is(y.length, x.length);
  assert.ok(maxDiff < 1e-6, `largest sample difference ${maxDiff} (want < 1e-6)`);
  // The same check on the +12 dB tone fails: it can tell a limited signal from an untouched one.
  const loud = sine(1000, 4);
  const limited = run(limiterFilter(0), loud);
  assert.ok(Math.abs(limited[100] - loud[100]) > 0.1);
});

test.run();
