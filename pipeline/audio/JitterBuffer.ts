// Per-participant PCM queue between the decoder (wrtc delivers 10 ms chunks on its own
// clock) and the mixer clock (pulls one tick's worth at a time). Pure and synchronous.
//
// - Underrun: the tick is padded with silence, never waits (a stalled participant must
//   not stall the mix), and the buffer re-primes to `targetSamples` before playing again.
// - Overrun: anything beyond `maxSamples` is trimmed from the oldest end, so latency stays
//   bounded when the sender's clock runs fast or the mixer hiccups.

export interface JitterBufferStats {
  underruns: number;
  trimmedSamples: number;
  queuedSamples: number;
}

export class JitterBuffer {
  private chunks: Int16Array[] = [];
  private head = 0; // read offset into chunks[0]
  private queued = 0;
  private primed = false;
  underruns = 0;
  trimmedSamples = 0;

  constructor(
    readonly targetSamples: number,
    readonly maxSamples: number,
  ) {
    if (maxSamples < targetSamples) throw new Error('maxSamples must be >= targetSamples');
  }

  get queuedSamples(): number {
    return this.queued;
  }

  push(samples: Int16Array): void {
    if (samples.length === 0) return;
    this.chunks.push(samples);
    this.queued += samples.length;
    if (this.queued > this.maxSamples) this.drop(this.queued - this.targetSamples);
    if (!this.primed && this.queued >= this.targetSamples) this.primed = true;
  }

  /** Exactly `n` samples: queued audio first, silence for the rest. */
  pull(n: number): Int16Array {
    const out = new Int16Array(n);
    if (!this.primed) return out;
    let filled = 0;
    while (filled < n && this.chunks.length > 0) {
      const chunk = this.chunks[0];
      const take = Math.min(n - filled, chunk.length - this.head);
      out.set(chunk.subarray(this.head, this.head + take), filled);
      filled += take;
      this.head += take;
      this.queued -= take;
      if (this.head === chunk.length) {
        this.chunks.shift();
        this.head = 0;
      }
    }
    if (filled < n) {
      this.underruns++;
      this.primed = false;
    }
    return out;
  }

  clear(): void {
    this.chunks = [];
    this.head = 0;
    this.queued = 0;
    this.primed = false;
  }

  stats(): JitterBufferStats {
    return { underruns: this.underruns, trimmedSamples: this.trimmedSamples, queuedSamples: this.queued };
  }

  private drop(n: number): void {
    this.trimmedSamples += n;
    while (n > 0 && this.chunks.length > 0) {
      const chunk = this.chunks[0];
      const take = Math.min(n, chunk.length - this.head);
      this.head += take;
      this.queued -= take;
      n -= take;
      if (this.head === chunk.length) {
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
