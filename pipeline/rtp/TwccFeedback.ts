// Transport-wide congestion control feedback (draft-holmer-rmcat-transport-wide-cc-extensions-01),
// built by the receiver so that the sender's bandwidth estimator (libwebrtc's send-side BWE,
// GStreamer's) sees every packet's arrival time and every loss. Pure: the caller records the
// transport-wide sequence number of each packet as it arrives and asks for a feedback packet
// every 50-100 ms.

const TICK_US = 250;
const MAX_STATUS = 4096;

export class TwccFeedback {
  private highest: number | null = null;
  /** Arrival tick (250 µs) by unwrapped transport sequence number, not yet reported. */
  private readonly arrivals = new Map<number, number>();
  /** First transport sequence number the next feedback reports. */
  private nextBase: number | null = null;
  private fbCount = 0;
  packetsSent = 0;

  constructor(private readonly senderSsrc: number, private mediaSsrc = 0) {}

  setMediaSsrc(ssrc: number): void {
    this.mediaSsrc = ssrc;
  }

  record(transportSeq: number, arrivalUs: number): void {
    let ext: number;
    if (this.highest === null) {
      ext = transportSeq + 0x10000;
      this.highest = ext;
    } else {
      const delta = ((transportSeq - (this.highest & 0xffff) + 0x8000) & 0xffff) - 0x8000;
      ext = this.highest + delta;
      if (ext > this.highest) this.highest = ext;
    }
    if (this.nextBase === null) this.nextBase = ext;
    if (ext < this.nextBase) return; // already reported as lost
    this.arrivals.set(ext, Math.round(arrivalUs / TICK_US));
  }

  /** The RTCP packet reporting everything since the last one, or null if nothing arrived. */
  build(): Buffer | null {
    if (this.nextBase === null || this.highest === null || this.arrivals.size === 0) return null;
    let base = this.nextBase;
    // A huge hole (a long pause): start from the first packet we actually have.
    if (this.highest - base + 1 > MAX_STATUS) base = Math.min(...this.arrivals.keys());
    const end = Math.min(this.highest, base + MAX_STATUS - 1);
    const count = end - base + 1;
    const symbols: number[] = new Array(count);
    const deltas: Buffer[] = [];
    let refTicks: number | null = null;
    let prev = 0;
    for (let i = 0; i < count; i++) {
      const t = this.arrivals.get(base + i);
      if (t === undefined) {
        symbols[i] = 0;
        continue;
      }
      if (refTicks === null) {
        refTicks = Math.floor(t / 256) * 256;
        prev = refTicks;
      }
      const d = t - prev;
      prev = t;
      if (d >= 0 && d <= 255) {
        symbols[i] = 1;
        deltas.push(Buffer.from([d]));
      } else {
        symbols[i] = 2;
        const b = Buffer.alloc(2);
        b.writeInt16BE(Math.max(-32768, Math.min(32767, d)));
        deltas.push(b);
      }
    }
    const chunks = encodeChunks(symbols);
    const body = Buffer.concat([chunks, ...deltas]);
    const pad = (4 - ((20 + body.length) % 4)) % 4;
    const total = 20 + body.length + pad;
    const out = Buffer.alloc(total);
    out[0] = 0x80 | 15 | (pad ? 0x20 : 0);
    out[1] = 205;
    out.writeUInt16BE(total / 4 - 1, 2);
    out.writeUInt32BE(this.senderSsrc >>> 0, 4);
    out.writeUInt32BE(this.mediaSsrc >>> 0, 8);
    out.writeUInt16BE(base & 0xffff, 12);
    out.writeUInt16BE(count, 14);
    const ref = Math.floor((refTicks ?? 0) / 256) & 0xffffff;
    out.writeUIntBE(ref, 16, 3);
    out[19] = this.fbCount++ & 0xff;
    body.copy(out, 20);
    if (pad) out[total - 1] = pad;
    for (let s = base; s <= end; s++) this.arrivals.delete(s);
    for (const s of [...this.arrivals.keys()]) if (s < end) this.arrivals.delete(s);
    this.nextBase = end + 1;
    this.packetsSent++;
    return out;
  }
}

/** Packet status chunks: run-length where a symbol repeats ≥ 7 times, 2-bit vectors otherwise. */
export function encodeChunks(symbols: number[]): Buffer {
  const out: number[] = [];
  let i = 0;
  while (i < symbols.length) {
    let run = 1;
    while (i + run < symbols.length && symbols[i + run] === symbols[i] && run < 8191) run++;
    if (run >= 7) {
      out.push((symbols[i] << 13) | run);
      i += run;
      continue;
    }
    let chunk = 0xc000;
    for (let k = 0; k < 7; k++) chunk |= (symbols[i + k] ?? 0) << (12 - 2 * k);
    out.push(chunk);
    i += 7;
  }
  const b = Buffer.alloc(out.length * 2);
  out.forEach((v, k) => b.writeUInt16BE(v, k * 2));
  return b;
}
