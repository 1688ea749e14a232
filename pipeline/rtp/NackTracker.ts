// Which sequence numbers of one RTP stream to ask again for (RFC 4585 generic NACK). Pure:
// the caller reports each packet and asks, at its own pace, what is due. A missing packet is
// asked for at once, then again every RTT (at least `minRetryMs`), at most `maxRetries`
// times and never once it is older than `maxAgeMs` (the frame assembler has given up by then).

export interface NackOptions {
  maxRetries?: number;
  minRetryMs?: number;
  maxAgeMs?: number;
  /** A hole wider than this is not repaired packet by packet: the caller asks for a keyframe. */
  maxMissing?: number;
}

interface Missing {
  since: number;
  sentAt: number;
  tries: number;
}

export class NackTracker {
  private highest: number | null = null;
  private readonly missing = new Map<number, Missing>();
  private rttMs = 50;
  nacksSent = 0;
  recovered = 0;
  private readonly maxRetries: number;
  private readonly minRetryMs: number;
  private readonly maxAgeMs: number;
  private readonly maxMissing: number;

  constructor(opts: NackOptions = {}) {
    this.maxRetries = opts.maxRetries ?? 8;
    this.minRetryMs = opts.minRetryMs ?? 20;
    this.maxAgeMs = opts.maxAgeMs ?? 600;
    this.maxMissing = opts.maxMissing ?? 300;
  }

  setRtt(ms: number): void {
    if (Number.isFinite(ms) && ms >= 0) this.rttMs = ms;
  }

  /** A packet arrived. Returns false when it opened a hole too wide to repair. */
  onPacket(seq: number, now: number): boolean {
    if (this.highest === null) {
      this.highest = seq + 0x10000;
      return true;
    }
    const delta = ((seq - (this.highest & 0xffff) + 0x8000) & 0xffff) - 0x8000;
    const ext = this.highest + delta;
    if (delta <= 0) {
      if (this.missing.delete(ext)) this.recovered++;
      return true;
    }
    if (delta - 1 > this.maxMissing) {
      this.missing.clear();
      this.highest = ext;
      return false;
    }
    for (let s = this.highest + 1; s < ext; s++) this.missing.set(s, { since: now, sentAt: -Infinity, tries: 0 });
    this.highest = ext;
    return true;
  }

  /** Sequence numbers (16-bit) to NACK now. */
  due(now: number): number[] {
    const out: number[] = [];
    const retry = Math.max(this.minRetryMs, this.rttMs * 1.2);
    for (const [ext, m] of this.missing) {
      if (m.tries >= this.maxRetries || now - m.since > this.maxAgeMs) {
        this.missing.delete(ext);
        continue;
      }
      if (now - m.sentAt < retry) continue;
      m.sentAt = now;
      m.tries++;
      out.push(ext & 0xffff);
    }
    if (out.length) this.nacksSent++;
    return out;
  }

  get pending(): number {
    return this.missing.size;
  }
}
