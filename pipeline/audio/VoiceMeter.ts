// Per-participant voice levels for GET /rooms/{room}: the level that arrives (measured in Node
// on the decoded PCM) and the level after the slot's processing (the processed slots as PCM from
// the mixer's last output, one reading per 20 ms: PcmLevelMeter) in 100 ms windows. The noise
// reduction reported is the drop of the noise floor through the chain: the 10th percentile
// of the 100 ms levels over the last 5 s, before minus after (pauses set the floor, so this
// is what the denoiser and the AGC together did to the noise; during steady talk with no
// pauses it reads ~0 and says so by being small). Pure: callers pass samples, readings, time.

import { GainRider } from './GainRider.ts';

export const SILENT_DB = -100;
const WINDOW_MS = 100;
const FLOOR_SPAN_MS = 5000;
const CURRENT_SPAN_MS = 500;

interface Reading {
  at: number;
  db: number;
}

/** 100 ms levels over the last few seconds: the current level and the noise floor. */
export class LevelTrack {
  private readonly readings: Reading[] = [];

  add(db: number, at: number): void {
    this.readings.push({ at, db: Number.isFinite(db) ? Math.max(SILENT_DB, db) : SILENT_DB });
    while (this.readings.length && this.readings[0].at < at - FLOOR_SPAN_MS) this.readings.shift();
  }

  /** Power mean of the last 500 ms (null: nothing measured yet). */
  current(now: number): number | null {
    const recent = this.readings.filter((r) => r.at >= now - CURRENT_SPAN_MS);
    if (!recent.length) return null;
    const p = recent.reduce((s, r) => s + 10 ** (r.db / 10), 0) / recent.length;
    return round(Math.max(SILENT_DB, 10 * Math.log10(p || 1e-10)));
  }

  /** 10th percentile of the last 5 s (null until 1 s has been measured). */
  floor(now: number): number | null {
    const span = this.readings.filter((r) => r.at >= now - FLOOR_SPAN_MS);
    if (span.length < 10) return null;
    const sorted = span.map((r) => r.db).sort((a, b) => a - b);
    return round(sorted[Math.floor(sorted.length * 0.1)]);
  }
}

const round = (v: number): number => Math.round(v * 10) / 10;

/** RMS of int16 samples in dBFS (a full-scale sine reads -3 dB). */
function dbfs(sumSquares: number, n: number): number {
  if (n === 0 || sumSquares === 0) return SILENT_DB;
  return Math.max(SILENT_DB, 20 * Math.log10(Math.sqrt(sumSquares / n) / 32768));
}

export interface VoiceLevels {
  /** What arrives, before any processing (dBFS, last 500 ms). */
  inputDb: number | null;
  /** After the slot's high-pass, denoiser and AGC (dBFS, last 500 ms). */
  processedDb: number | null;
  inputFloorDb: number | null;
  processedFloorDb: number | null;
  /** inputFloorDb - processedFloorDb. */
  noiseReductionDb: number | null;
}

export class VoiceMeter {
  readonly input = new LevelTrack();
  readonly processed = new LevelTrack();
  /** The AGC's gain for this participant, updated on every input window. */
  readonly rider = new GainRider();
  private sum = 0;
  private count = 0;

  constructor(private readonly sampleRate = 48000) {}

  /** Decoded PCM as it arrives (any chunk size; interleaved channels are all counted). */
  pushInput(samples: Int16Array, at: number, channels = 1): void {
    const perWindow = (this.sampleRate * channels * WINDOW_MS) / 1000;
    for (let i = 0; i < samples.length; i++) {
      this.sum += samples[i] * samples[i];
      if (++this.count >= perWindow) {
        const db = dbfs(this.sum, this.count);
        this.input.add(db, at);
        this.rider.update(db, this.input.floor(at));
        this.sum = 0;
        this.count = 0;
      }
    }
  }

  levels(now: number): VoiceLevels {
    const inputFloorDb = this.input.floor(now);
    const processedFloorDb = this.processed.floor(now);
    return {
      inputDb: this.input.current(now),
      processedDb: this.processed.current(now),
      inputFloorDb,
      processedFloorDb,
      noiseReductionDb: inputFloorDb !== null && processedFloorDb !== null ? round(inputFloorDb - processedFloorDb) : null,
    };
  }
}

/**
 * Levels of interleaved s16le PCM (one channel per slot, the mixer's meter output): calls
 * `onReading(channel, RMS dBFS)` for every channel each `window` samples. Bytes may arrive in
 * any pieces.
 */
export class PcmLevelMeter {
  private readonly sums: Float64Array;
  private count = 0;
  private rest: Buffer = Buffer.alloc(0);

  constructor(
    readonly channels: number,
    private readonly onReading: (channel: number, rmsDb: number) => void,
    readonly window = 960,
  ) {
    this.sums = new Float64Array(channels);
  }

  push(bytes: Buffer): void {
    const buf = this.rest.length ? Buffer.concat([this.rest, bytes]) : bytes;
    const frameBytes = 2 * this.channels;
    const frames = Math.floor(buf.length / frameBytes);
    const c = this.channels;
    for (let f = 0; f < frames; f++) {
      const base = f * frameBytes;
      for (let ch = 0; ch < c; ch++) {
        const v = buf.readInt16LE(base + 2 * ch);
        this.sums[ch] += v * v;
      }
      if (++this.count === this.window) {
        for (let ch = 0; ch < c; ch++) this.onReading(ch, dbfs(this.sums[ch], this.count));
        this.sums.fill(0);
        this.count = 0;
      }
    }
    this.rest = Buffer.from(buf.subarray(frames * frameBytes));
  }
}
