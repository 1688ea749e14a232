// Puts one Opus stream's packets back in order and says what to decode. Pure: the caller
// decodes (a packet; a lost packet by concealment, or by the in-band FEC of the packet after
// it) and gives arrival times. Audio is not retransmitted, so a hole waits only `holdMs` for a
// late (reordered) packet. DTX — no packets while the sender is silent — keeps sequence
// numbers contiguous and only moves the timestamp on: nothing is concealed for it.

export type AudioStep =
  | { kind: 'packet'; payload: Buffer; timestamp: number }
  | { kind: 'lost'; timestamp: number; samples: number; fec: Buffer | null };

interface Held {
  ts: number;
  payload: Buffer;
  at: number;
}

export class AudioReorder {
  private highest: number | null = null;
  private next: number | null = null;
  private lastTs = 0;
  private readonly held = new Map<number, Held>();
  late = 0;
  concealed = 0;
  recoveredByFec = 0;

  constructor(
    private readonly holdMs = 30,
    private readonly samplesPerPacket = 960,
    /** A hole longer than this is a pause or a restart: skip it without concealment. */
    private readonly maxConceal = 10,
  ) {}

  push(seq: number, timestamp: number, payload: Buffer, now: number): AudioStep[] {
    const ext = this.unwrap(seq);
    if (this.next === null) this.next = ext;
    if (ext < this.next || this.held.has(ext)) {
      this.late++;
      return this.poll(now);
    }
    this.held.set(ext, { ts: timestamp, payload, at: now });
    return this.poll(now);
  }

  /** When the oldest hole gives up waiting (ms, caller's clock), or null. */
  nextDeadline(): number | null {
    if (this.next === null || this.held.size === 0 || this.held.has(this.next)) return null;
    let oldest = Infinity;
    for (const h of this.held.values()) oldest = Math.min(oldest, h.at);
    return oldest + this.holdMs;
  }

  poll(now: number): AudioStep[] {
    const out: AudioStep[] = [];
    while (this.next !== null && this.held.size) {
      const h = this.held.get(this.next);
      if (h) {
        this.held.delete(this.next);
        out.push({ kind: 'packet', payload: h.payload, timestamp: h.ts });
        this.lastTs = h.ts;
        this.next++;
        continue;
      }
      // A hole: wait for a late packet, then conceal it.
      let after = Infinity;
      let oldest = Infinity;
      for (const [s, e] of this.held) {
        after = Math.min(after, s);
        oldest = Math.min(oldest, e.at);
      }
      if (now - oldest < this.holdMs) break;
      const missing = after - this.next;
      const following = this.held.get(after)!;
      if (missing <= this.maxConceal) {
        const span = (following.ts - this.lastTs) >>> 0;
        const per = span > 0 && span < missing * 5760 * 2 ? Math.max(120, Math.round(span / (missing + 1))) : this.samplesPerPacket;
        for (let k = 0; k < missing; k++) {
          // The packet right after the hole may carry the last missing one as in-band FEC.
          const fec = k === missing - 1 ? following.payload : null;
          if (fec) this.recoveredByFec++;
          else this.concealed++;
          out.push({ kind: 'lost', timestamp: (this.lastTs + per * (k + 1)) >>> 0, samples: Math.min(per, 5760), fec });
        }
      }
      this.next = after;
    }
    return out;
  }

  private unwrap(seq: number): number {
    if (this.highest === null) {
      this.highest = seq + 0x10000;
      return this.highest;
    }
    const delta = ((seq - (this.highest & 0xffff) + 0x8000) & 0xffff) - 0x8000;
    const ext = this.highest + delta;
    if (ext > this.highest) this.highest = ext;
    return ext;
  }
}
