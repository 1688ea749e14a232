// RFC 3550 receiver statistics of one RTP stream (appendix A.3 and A.8): packets, bytes,
// cumulative and interval loss, interarrival jitter, and the report block fields. Pure.

export interface ReportBlock {
  ssrc: number;
  fractionLost: number;
  packetsLost: number;
  highestSequence: number;
  jitter: number;
}

export class ReceiveStats {
  packets = 0;
  bytes = 0;
  retransmits = 0;
  private baseExt: number | null = null;
  private highest = 0;
  private transit: number | null = null;
  private jitterQ = 0;
  private expectedPrior = 0;
  private receivedPrior = 0;
  duplicates = 0;
  lastPacketAt = 0;
  /** Recently seen sequence numbers (a duplicate, e.g. a retransmission that came late, is not counted twice). */
  private readonly seen = new Uint8Array(65536);
  /** The last 2048 sequence numbers marked in `seen`, as a ring. */
  private readonly seenRing = new Int32Array(2048).fill(-1);
  private seenAt = 0;

  constructor(readonly ssrc: number, readonly clockRate: number) {}

  /** One packet arriving at `nowMs`; false when the sequence number was seen recently (duplicate). */
  add(seq: number, timestamp: number, bytes: number, nowMs: number, retransmit = false): boolean {
    if (this.seen[seq]) {
      this.duplicates++;
      return false;
    }
    const old = this.seenRing[this.seenAt];
    if (old >= 0) this.seen[old] = 0;
    this.seen[seq] = 1;
    this.seenRing[this.seenAt] = seq;
    this.seenAt = (this.seenAt + 1) % this.seenRing.length;
    this.packets++;
    this.bytes += bytes;
    this.lastPacketAt = nowMs;
    if (retransmit) this.retransmits++;
    if (this.baseExt === null) {
      this.baseExt = seq;
      this.highest = seq;
    } else {
      const delta = ((seq - (this.highest & 0xffff) + 0x8000) & 0xffff) - 0x8000;
      if (delta > 0) this.highest += delta;
    }
    if (retransmit) return true; // a retransmission's arrival time says nothing of the path's jitter
    const arrival = (nowMs * this.clockRate) / 1000;
    const transit = arrival - timestamp;
    if (this.transit !== null) {
      let d = Math.abs(transit - this.transit);
      if (d > 0x80000000) d = Math.abs(d - 0x100000000);
      this.jitterQ += (d - this.jitterQ) / 16;
    }
    this.transit = transit;
    return true;
  }

  get expected(): number {
    return this.baseExt === null ? 0 : this.highest - this.baseExt + 1;
  }

  /** Packets never received, retransmissions counted as received (cumulative, never negative). */
  get lost(): number {
    return Math.max(0, this.expected - this.packets);
  }

  /** Interarrival jitter in timestamp units. */
  get jitter(): number {
    return this.jitterQ;
  }

  get jitterMs(): number {
    return (this.jitterQ / this.clockRate) * 1000;
  }

  get highestSequence(): number {
    return this.highest >>> 0;
  }

  /** The fields of an RR report block; advances the "since last report" interval. */
  report(): ReportBlock {
    const expected = this.expected;
    const received = this.packets;
    const expInt = expected - this.expectedPrior;
    const recInt = received - this.receivedPrior;
    this.expectedPrior = expected;
    this.receivedPrior = received;
    const lostInt = expInt - recInt;
    const fractionLost = expInt <= 0 || lostInt <= 0 ? 0 : Math.min(255, Math.floor((lostInt << 8) / expInt));
    return {
      ssrc: this.ssrc,
      fractionLost,
      packetsLost: Math.min(this.lost, 0x7fffff),
      highestSequence: this.highest >>> 0,
      jitter: Math.round(this.jitterQ),
    };
  }
}
