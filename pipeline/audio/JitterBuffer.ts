// Per-participant PCM queue between the decoder (wrtc delivers 10 ms chunks on its own
// clock) and the mixer clock (pulls one tick's worth at a time). Pure and synchronous.
//
// - Underrun: the tick is padded with silence, never waits (a stalled participant must
//   not stall the mix), and the buffer re-primes to `targetSamples` before playing again.
// - Overrun: anything beyond `maxSamples` is trimmed from the oldest end, so latency stays
//   bounded when the sender's clock runs fast or the mixer hiccups.
// - Adaptive drain (optional): a standing queue deeper than the arrivals need is cut down.

import { StageLatency } from './StageLatency.ts';

export interface JitterBufferStats {
  underruns: number;
  trimmedSamples: number;
  queuedSamples: number;
  /** Samples cut by the adaptive trim (a standing queue deeper than the arrivals need). */
  drainedSamples: number;
  drains: number;
}

/**
 * Keeps the standing queue as short as the arrivals need. Two ways a queue stands deeper than
 * needed: after an underrun (the mixer's late ticks run before the packets that arrived in the
 * same stall are handled, so the ticks find nothing, and then the whole burst lands at once),
 * and a burst of packets while the clock skipped ticks. So:
 * - when the buffer (re-)primes with more than target + one pull queued, it starts from the
 *   newest `targetSamples` (what follows a gap of silence anyway);
 * - the least queued before a pull over the last `historyWindows` windows of pulls is what was
 *   never needed; beyond `marginSamples` of it is cut out at the end of a window: at once where
 *   that audio is quiet, else at most `maxStepSamples`, with a short crossfade at the
 *   best-matching offset, so a steady voice or tone keeps its phase. A window with an underrun
 *   blocks cuts for the whole history and widens the margin by `marginGrowSamples`; clean
 *   windows narrow it back.
 */
export interface AdaptiveDrain {
  windowPulls: number;
  /** Windows whose least depth a cut is judged on. */
  historyWindows: number;
  marginSamples: number;
  marginGrowSamples: number;
  maxMarginSamples: number;
  /** Less excess than this is left alone (no splice for a millisecond). */
  minStepSamples: number;
  maxStepSamples: number;
  /** Audio whose peak stays under this (s16) is cut whole, however long. */
  quietPeak: number;
  crossfadeSamples: number;
  /** How far below the excess the splice may land to match the waveform. */
  searchSamples: number;
}

/**
 * 48 kHz defaults: 0.5 s windows judged over 2 s, a 5 ms margin (+5 ms per underrun, up to
 * 40 ms; −2 ms per clean window), 2 ms crossfade.
 */
export function adaptiveDrain(sampleRate: number): AdaptiveDrain {
  const ms = (x: number) => Math.round((sampleRate * x) / 1000);
  return {
    windowPulls: 25, historyWindows: 4, marginSamples: ms(5), marginGrowSamples: ms(5), maxMarginSamples: ms(40), minStepSamples: ms(5),
    maxStepSamples: ms(20), quietPeak: 328, crossfadeSamples: ms(2), searchSamples: ms(5),
  };
}

interface Chunk {
  samples: Int16Array;
  /** When it was pushed (caller's clock, ms; NaN when not given). */
  at: number;
  /** When its first sample stands on the caller's content clock (ms; NaN: unknown). */
  content: number;
}

export class JitterBuffer {
  private chunks: Chunk[] = [];
  private head = 0; // read offset into chunks[0]
  private queued = 0;
  private primed = false;
  underruns = 0;
  trimmedSamples = 0;
  drainedSamples = 0;
  drains = 0;
  /** How long each chunk's first sample waited from push to pull (ms; when times are given). */
  readonly waitMs = new StageLatency(500);
  /** Queued before each pull, in samples. */
  readonly depthSamples = new StageLatency(500);
  private windowMin = Infinity;
  private windowPulls = 0;
  private windowUnderrun = false;
  /** The least depth of each recent window (−Infinity: it had an underrun). */
  private history: number[] = [];
  private margin: number;
  /** Primed since the last pull: the first pull may start from the newest target's worth. */
  private resumed = false;

  constructor(
    readonly targetSamples: number,
    readonly maxSamples: number,
    readonly drain: AdaptiveDrain | null = null,
  ) {
    if (maxSamples < targetSamples) throw new Error('maxSamples must be >= targetSamples');
    this.margin = drain?.marginSamples ?? 0;
  }

  /**
   * Where the next sample to be pulled stands on the content clock: its chunk's instant and how
   * many samples into the chunk it is (null: nothing queued, or the chunk's instant unknown).
   */
  nextContent(): { at: number; offsetSamples: number } | null {
    const c = this.chunks[0];
    return c && Number.isFinite(c.content) ? { at: c.content, offsetSamples: this.head } : null;
  }

  get queuedSamples(): number {
    return this.queued;
  }

  /** The adaptive margin now (samples; 0 without adaptive drain). */
  get marginSamples(): number {
    return this.margin;
  }

  push(samples: Int16Array, now = NaN, content = NaN): void {
    if (samples.length === 0) return;
    this.chunks.push({ samples, at: now, content });
    this.queued += samples.length;
    if (this.queued > this.maxSamples) this.drop(this.queued - this.targetSamples);
    if (!this.primed && this.queued >= this.targetSamples) {
      this.primed = true;
      this.resumed = true;
    }
  }

  /** Exactly `n` samples: queued audio first, silence for the rest. */
  pull(n: number, now = NaN): Int16Array {
    const out = new Int16Array(n);
    if (!this.primed) return out;
    if (this.resumed) {
      this.resumed = false;
      const excess = this.queued - this.targetSamples;
      if (this.drain && excess > n) {
        this.drop(excess);
        this.trimmedSamples -= excess;
        this.drainedSamples += excess;
        this.drains++;
      }
    }
    this.depthSamples.add(this.queued);
    const step = this.drainStep(n);
    if (step > 0) return this.splice(n, step, now);
    const filled = this.read(out, 0, n, now);
    if (filled < n) {
      this.underruns++;
      this.primed = false;
      this.onUnderrun();
    }
    return out;
  }

  clear(): void {
    this.chunks = [];
    this.head = 0;
    this.queued = 0;
    this.primed = false;
    this.windowMin = Infinity;
    this.windowPulls = 0;
    this.history = [];
  }

  stats(): JitterBufferStats {
    return { underruns: this.underruns, trimmedSamples: this.trimmedSamples, queuedSamples: this.queued, drainedSamples: this.drainedSamples, drains: this.drains };
  }

  /** Copies up to `n` queued samples into out[offset…]; how many. */
  private read(out: Int16Array, offset: number, n: number, now: number): number {
    let filled = 0;
    while (filled < n && this.chunks.length > 0) {
      const chunk = this.chunks[0];
      if (this.head === 0) this.waitMs.add(now - chunk.at);
      const take = Math.min(n - filled, chunk.samples.length - this.head);
      out.set(chunk.samples.subarray(this.head, this.head + take), offset + filled);
      filled += take;
      this.head += take;
      this.queued -= take;
      if (this.head === chunk.samples.length) {
        this.chunks.shift();
        this.head = 0;
      }
    }
    return filled;
  }

  private onUnderrun(): void {
    const d = this.drain;
    if (!d) return;
    this.windowUnderrun = true;
    this.margin = Math.min(d.maxMarginSamples, this.margin + d.marginGrowSamples);
  }

  /** At the end of a window: how many samples to cut now (0: none). */
  private drainStep(n: number): number {
    const d = this.drain;
    if (!d) return 0;
    this.windowMin = Math.min(this.windowMin, this.queued);
    if (++this.windowPulls < d.windowPulls) return 0;
    const clean = !this.windowUnderrun;
    this.history.push(clean ? this.windowMin : -Infinity);
    if (this.history.length > d.historyWindows) this.history.shift();
    this.windowMin = Infinity;
    this.windowPulls = 0;
    this.windowUnderrun = false;
    if (!clean) return 0;
    this.margin = Math.max(d.marginSamples, this.margin - Math.round((d.marginSamples * 2) / 5));
    if (this.history.length < d.historyWindows) return 0;
    const excess = Math.min(...this.history) - n - this.margin;
    if (excess < d.minStepSamples) return 0;
    const step = excess <= d.maxStepSamples || this.peak(n + excess) > d.quietPeak ? Math.min(excess, d.maxStepSamples) : excess;
    if (this.queued < n + step) return 0;
    // The windows judged were that much deeper than the queue is after the cut.
    this.history = this.history.map((m) => m - step);
    return step;
  }

  /** The largest |sample| among the next `count` queued. */
  private peak(count: number): number {
    let peak = 0;
    let left = count;
    for (let c = 0, head = this.head; c < this.chunks.length && left > 0; c++, head = 0) {
      const a = this.chunks[c].samples;
      const end = Math.min(a.length, head + left);
      for (let i = head; i < end; i++) {
        const v = a[i] < 0 ? -a[i] : a[i];
        if (v > peak) peak = v;
      }
      left -= end - head;
    }
    return peak;
  }

  /**
   * `n` samples out of the next n + about `step`: the first `crossfadeSamples` fade from the
   * queue's head into the audio `cut` samples later, where `cut` (step − search … step) is the
   * offset whose waveform best matches the head's.
   */
  private splice(n: number, step: number, now: number): Int16Array {
    const d = this.drain!;
    const x = d.crossfadeSamples;
    const buf = new Int16Array(n + step);
    this.read(buf, 0, n + step, now);
    let cut = step;
    let best = -Infinity;
    for (let c = step; c >= Math.max(1, step - d.searchSamples); c--) {
      let dot = 0;
      let e = 0;
      for (let i = 0; i < x; i++) {
        dot += buf[i] * buf[i + c];
        e += buf[i + c] * buf[i + c];
      }
      const score = e > 0 ? dot / Math.sqrt(e) : 0;
      if (score > best) {
        best = score;
        cut = c;
      }
    }
    const out = new Int16Array(n);
    for (let i = 0; i < n; i++) {
      const later = i + cut < buf.length ? buf[i + cut] : 0;
      out[i] = i < x ? Math.round(buf[i] * (1 - (i + 1) / (x + 1)) + later * ((i + 1) / (x + 1))) : later;
    }
    // Samples read but not used (cut < step) go back to the head of the queue.
    const unused = step - cut;
    if (unused > 0) {
      // Their place on the content clock is not kept (a splice now and then: that pull's is unknown).
      this.chunks.unshift({ samples: buf.slice(n + cut), at: NaN, content: NaN });
      if (this.head !== 0 && this.chunks.length > 1) {
        // read() left a partly read chunk at index 1: keep its offset by slicing it.
        const c = this.chunks[1];
        this.chunks[1] = { samples: c.samples.subarray(this.head), at: c.at, content: NaN };
        this.head = 0;
      }
      this.queued += unused;
    }
    this.drainedSamples += cut;
    this.drains++;
    return out;
  }

  private drop(n: number): void {
    this.trimmedSamples += n;
    while (n > 0 && this.chunks.length > 0) {
      const chunk = this.chunks[0];
      const take = Math.min(n, chunk.samples.length - this.head);
      this.head += take;
      this.queued -= take;
      n -= take;
      if (this.head === chunk.samples.length) {
        this.chunks.shift();
        this.head = 0;
      }
    }
  }
}

/** Mono 16-bit from whatever channel count the decoder delivers (interleaved). */
export function toMono(samples: Int16Array, channels: number): Int16Array {
  if (channels === 1) return samples;
  const frames = Math.floor(samples.length / channels);
  const out = new Int16Array(frames);
  for (let i = 0; i < frames; i++) {
    let sum = 0;
    for (let c = 0; c < channels; c++) sum += samples[i * channels + c];
    out[i] = sum / channels;
  }
  return out;
}
