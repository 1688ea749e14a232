// Real speech for the voice-processing tests: espeak-ng speaks a sentence, FFmpeg's anoisesrc
// makes white noise, both land in 10 s loops at 48 kHz mono (the publisher's Opus loop and the
// clean reference the recording is compared with). Plus the measures the tests assert on:
// 10 ms envelopes, the lag that aligns a recording with its loop, correlation, levels.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseOggOpus } from '../../bench/lib/fixtures.ts';

export const RATE = 48000;
export const LOOP_SEC = 10;
/** Envelope frames: 10 ms. */
export const FRAME = RATE / 100;

export interface VoiceLoop {
  /** The reference: speech only, exactly LOOP_SEC long. */
  clean: Float32Array;
  /** What is published (speech + noise, or a tone), exactly LOOP_SEC long. */
  sent: Float32Array;
  /** `sent` as 20 ms Opus packets (500 for the loop). */
  opus: Buffer[];
}

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'voice-fixture-'));
}

/** Raw float32 mono 48 kHz from any file FFmpeg reads, with an optional filter. */
function decode(file: string, filter = 'anull'): Float32Array {
  const out = execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-i', file, '-af', filter, '-ac', '1', '-ar', String(RATE), '-f', 'f32le', '-'], {
    maxBuffer: 64 << 20,
  });
  return new Float32Array(out.buffer, out.byteOffset, out.byteLength / 4).slice();
}

/** A sentence from espeak-ng, placed at `atSec` in a silent loop and scaled to `gainDb`. */
export function speechLoop(text: string, atSec = 0.5, gainDb = 0, voice = 'en'): Float32Array {
  const dir = tmpDir();
  try {
    const wav = path.join(dir, 'speech.wav');
    execFileSync('espeak-ng', ['-v', voice, '-s', '150', '-w', wav, text]);
    const speech = decode(wav);
    const loop = new Float32Array(RATE * LOOP_SEC);
    const g = 10 ** (gainDb / 20);
    const at = Math.round(atSec * RATE);
    for (let i = 0; i < speech.length && at + i < loop.length; i++) loop[at + i] = speech[i] * g;
    return loop;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** FFmpeg's white noise (fixed seed), LOOP_SEC long, scaled to RMS `rmsDb` dBFS. */
export function whiteNoise(rmsDb: number, seed = 7): Float32Array {
  const out = execFileSync('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', `anoisesrc=color=white:amplitude=0.5:seed=${seed}:sample_rate=${RATE}:duration=${LOOP_SEC}`,
    '-f', 'f32le', '-',
  ], { maxBuffer: 64 << 20 });
  const noise = new Float32Array(out.buffer, out.byteOffset, out.byteLength / 4).slice();
  const g = 10 ** (rmsDb / 20) / rms(noise);
  for (let i = 0; i < noise.length; i++) noise[i] *= g;
  return noise;
}

export function sine(hz: number, amplitude: number): Float32Array {
  const out = new Float32Array(RATE * LOOP_SEC);
  for (let i = 0; i < out.length; i++) out[i] = amplitude * Math.sin((2 * Math.PI * hz * i) / RATE);
  return out;
}

export function add(a: Float32Array, b: Float32Array): Float32Array {
  return a.map((v, i) => v + (b[i] ?? 0));
}

export function rms(x: ArrayLike<number>, from = 0, to = x.length): number {
  let s = 0;
  for (let i = from; i < to; i++) s += x[i] * x[i];
  return Math.sqrt(s / Math.max(1, to - from));
}

export const db = (v: number): number => 20 * Math.log10(Math.max(v, 1e-7));

/** RMS of the speech while it is active (10 ms frames above -50 dBFS): what SNR is relative to. */
export function activeSpeechRms(clean: Float32Array): number {
  const env = envelope(clean);
  let s = 0;
  let n = 0;
  for (const e of env) if (db(e) > -50) (s += e * e), n++;
  return Math.sqrt(s / Math.max(1, n));
}

/** Encodes a loop as 20 ms Opus packets (what an RtpPublisher sends, looping). */
export function opusLoop(pcm: Float32Array, kbps = 64): Buffer[] {
  const dir = tmpDir();
  try {
    const raw = path.join(dir, 'in.f32');
    const ogg = path.join(dir, 'out.ogg');
    fs.writeFileSync(raw, Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength));
    execFileSync('ffmpeg', [
      '-hide_banner', '-loglevel', 'error', '-f', 'f32le', '-ar', String(RATE), '-ac', '1', '-i', raw,
      '-c:a', 'libopus', '-b:a', `${kbps}k`, '-frame_duration', '20', '-application', 'audio', '-f', 'ogg', ogg,
    ]);
    return parseOggOpus(fs.readFileSync(ogg));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export function voiceLoop(clean: Float32Array, sent: Float32Array = clean): VoiceLoop {
  return { clean, sent, opus: opusLoop(sent) };
}

/** RMS per 10 ms frame. */
export function envelope(x: ArrayLike<number>): Float64Array {
  const n = Math.floor(x.length / FRAME);
  const out = new Float64Array(n);
  for (let f = 0; f < n; f++) out[f] = rms(x, f * FRAME, (f + 1) * FRAME);
  return out;
}

export function int16ToFloat(x: Int16Array): Float32Array {
  return Float32Array.from(x, (v) => v / 32768);
}

export function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = Math.min(a.length, b.length);
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) (ma += a[i]), (mb += b[i]);
  ma /= n;
  mb /= n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    const da = a[i] - ma;
    const db_ = b[i] - mb;
    sab += da * db_;
    saa += da * da;
    sbb += db_ * db_;
  }
  return sab / Math.sqrt(saa * sbb || 1);
}

/**
 * The loop's envelope rotated to line up with a recording's envelope (the recording starts
 * anywhere in the loop): the rotation with the best correlation, and that correlation.
 */
export function align(recEnv: Float64Array, loopEnv: Float64Array): { lag: number; r: number; ref: Float64Array } {
  const n = recEnv.length;
  const L = loopEnv.length;
  let best = { lag: 0, r: -2 };
  const ref = new Float64Array(n);
  for (let lag = 0; lag < L; lag++) {
    for (let i = 0; i < n; i++) ref[i] = loopEnv[(i + lag) % L];
    const r = pearson(recEnv, ref);
    if (r > best.r) best = { lag, r };
  }
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = loopEnv[(i + best.lag) % L];
  return { ...best, ref: out };
}

/**
 * The loop's envelope lined up with a recording piece by piece (`pieceFrames` each): what a
 * subscriber hears can shift against the loop while it is recorded (the mixer's audio queue cuts
 * a backlog, an underrun inserts silence: tens of ms at a time, ~110 ms over one 10 s recording
 * in a CI run), and a single lag then puts speech onsets into "pauses". After the best single
 * lag, each piece takes its own within `slackFrames` of the previous piece's and `maxShiftFrames`
 * of the single lag (a piece that fits none well, r < 0.5, keeps the previous lag). `r` is the
 * whole recording's correlation with the reference so built; `shiftFrames` the farthest a
 * piece's lag moved from the single lag.
 */
export function alignPiecewise(recEnv: Float64Array, loopEnv: Float64Array, pieceFrames = 100, slackFrames = 15, maxShiftFrames = 30): { lag: number; r: number; ref: Float64Array; shiftFrames: number } {
  const whole = align(recEnv, loopEnv);
  const L = loopEnv.length;
  const ref = new Float64Array(recEnv.length);
  let lag = whole.lag;
  let shiftFrames = 0;
  for (let start = 0; start < recEnv.length; start += pieceFrames) {
    const end = Math.min(recEnv.length, start + pieceFrames);
    const piece = recEnv.subarray(start, end);
    const cand = new Float64Array(end - start);
    let best = { d: 0, r: -2 };
    // 0, -1, +1, -2, +2 …: of equal fits the smallest move wins.
    for (let k = 0; k <= 2 * slackFrames; k++) {
      const d = k % 2 ? -(k + 1) / 2 : k / 2;
      const l = (((lag + d) % L) + L) % L;
      if (Math.abs(((((l - whole.lag) % L) + L + L / 2) % L) - L / 2) > maxShiftFrames) continue;
      let lo = Infinity;
      let hi = -Infinity;
      for (let i = start; i < end; i++) {
        const v = loopEnv[(i + l) % L];
        cand[i - start] = v;
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
      if (hi - lo < 1e-6) continue; // the reference is a pause throughout here: it has no say
      const r = pearson(piece, cand);
      if (r > best.r + 1e-9) best = { d, r };
    }
    // A piece that fits no lag well (a pause in the recording, an edge at its border) keeps the last one.
    if (best.r >= 0.5) lag = (((lag + best.d) % L) + L) % L;
    for (let i = start; i < end; i++) ref[i] = loopEnv[(i + lag) % L];
    const moved = Math.abs(((((lag - whole.lag) % L) + L + L / 2) % L) - L / 2);
    shiftFrames = Math.max(shiftFrames, moved);
  }
  return { lag: whole.lag, r: pearson(recEnv, ref), ref, shiftFrames };
}

/**
 * Frames of the recording where the aligned clean reference is a pause: silent there and
 * for `marginFrames` either side (so speech tails and codec/filter delay do not count).
 */
export function pauseFrames(ref: Float64Array, marginFrames = 15, silentDb = -60): number[] {
  const silent = Array.from(ref, (v) => db(v) < silentDb);
  const out: number[] = [];
  for (let i = marginFrames; i < ref.length - marginFrames; i++) {
    let ok = true;
    for (let j = i - marginFrames; j <= i + marginFrames && ok; j++) ok = silent[j];
    if (ok) out.push(i);
  }
  return out;
}

/** Power-mean level (dBFS) of the given envelope frames. */
export function framesLevelDb(env: Float64Array, frames: number[]): number {
  let s = 0;
  for (const f of frames) s += env[f] * env[f];
  return db(Math.sqrt(s / Math.max(1, frames.length)));
}

/** Frames where the aligned reference is speech (above `activeDb`). */
export function speechFrames(ref: Float64Array, activeDb = -45): number[] {
  const out: number[] = [];
  for (let i = 0; i < ref.length; i++) if (db(ref[i]) > activeDb) out.push(i);
  return out;
}
