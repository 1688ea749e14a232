// A stage's recent delays (ms), for the audio path's breakdown (RoomMixer.audioPath(), the
// ingest's AudioReceiver, bench/latency.ts): the last `size` samples in a ring, summarised as
// p50 / p95 / max. Pure; the caller passes its measurements.

export interface StageSummary {
  n: number;
  p50: number | null;
  p95: number | null;
  max: number | null;
}

export class StageLatency {
  private readonly ring: Float64Array;
  private next = 0;
  private count = 0;

  constructor(readonly size = 1000) {
    this.ring = new Float64Array(size);
  }

  add(ms: number): void {
    if (!Number.isFinite(ms)) return;
    this.ring[this.next] = ms;
    this.next = (this.next + 1) % this.size;
    if (this.count < this.size) this.count++;
  }

  clear(): void {
    this.next = 0;
    this.count = 0;
  }

  summary(): StageSummary {
    if (this.count === 0) return { n: 0, p50: null, p95: null, max: null };
    const v = Array.from(this.ring.subarray(0, this.count)).sort((a, b) => a - b);
    const q = (p: number) => Math.round(v[Math.min(v.length - 1, Math.floor(p * v.length))] * 10) / 10;
    return { n: v.length, p50: q(0.5), p95: q(0.95), max: Math.round(v[v.length - 1] * 10) / 10 };
  }
}
