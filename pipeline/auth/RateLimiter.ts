// Token buckets per client address: `ratePerSec` sustained, `burst` at once. Pure (time passed in).

export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(readonly ratePerSec: number, readonly burst: number, readonly maxClients = 10_000) {}

  /** Takes one token for `key`; returns 0 when allowed, else the seconds until one is available. */
  take(key: string, nowMs: number): number {
    let b = this.buckets.get(key);
    if (!b) {
      if (this.buckets.size >= this.maxClients) this.evict(nowMs);
      b = { tokens: this.burst, at: nowMs };
      this.buckets.set(key, b);
    }
    b.tokens = Math.min(this.burst, b.tokens + ((nowMs - b.at) / 1000) * this.ratePerSec);
    b.at = nowMs;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.ceil((1 - b.tokens) / this.ratePerSec);
  }

  /** Forgets buckets that have refilled (bounded memory under many addresses). */
  private evict(nowMs: number): void {
    for (const [k, b] of this.buckets) {
      if (b.tokens + ((nowMs - b.at) / 1000) * this.ratePerSec >= this.burst) this.buckets.delete(k);
    }
    if (this.buckets.size >= this.maxClients) this.buckets.clear();
  }
}
