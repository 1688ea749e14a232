// The NTP ↔ RTP mapping a sender report announces for one outgoing stream. A receiver plays
// audio and video in sync by mapping both streams' RTP timestamps to the sender's wall clock, so
// both mappings must come from the same clock and must not jitter.
//
// werift maps each stream's last RTP timestamp to its own ntpTime() at send, which (a) writes
// the decimal digits of the fraction of a second as the NTP fraction (1234.5678 s → fraction
// 5678/2³²), so every SR is off by up to a second, differently per stream, and (b) carries the
// send jitter of that one packet (a burst puts it late). This gives, for packets as they are
// sent, the wall time their timestamp stands for: the earliest (arrival − ts/rate) seen, so a
// packet that left late in a burst does not move the mapping. The mapping follows slow drift
// (it may rise by DRIFT_PER_S per second) and starts over on a jump of timestamps against the
// clock (a source switch the continuity layer did not smooth).
// Pure: times are passed in.

/** How fast the mapping may move later (a sender's clock running slow against the wall). */
const DRIFT_PER_S = 0.002;
/** A packet this much later than the mapping is a discontinuity, not a late packet. */
const RESET_AFTER_MS = 250;

export class SenderReportClock {
  /** Wall time (ms) at which RTP timestamp `baseTs` stands (unwrapped timeline). */
  private offsetMs: number | null = null;
  private lastTs = 0;
  private unwrapped = 0;
  private lastAt = 0;

  constructor(readonly clockRate: number) {}

  /**
   * One packet sent at wall time `atMs` (ms since the Unix epoch) with RTP timestamp `ts`.
   * Returns the wall time (ms) its timestamp stands for: ≤ atMs, steady across bursts.
   */
  map(ts: number, atMs: number): number {
    if (this.offsetMs === null) {
      this.unwrapped = 0;
    } else {
      // Signed 32-bit difference: wraps and small reorderings both come out right.
      const d = ((ts - this.lastTs) | 0);
      this.unwrapped += d;
    }
    this.lastTs = ts >>> 0;
    const mediaMs = (this.unwrapped / this.clockRate) * 1000;
    const candidate = atMs - mediaMs;
    if (this.offsetMs === null || candidate - this.offsetMs > RESET_AFTER_MS || this.offsetMs - candidate > RESET_AFTER_MS) {
      this.offsetMs = candidate;
    } else {
      // Late packets do not move it; earlier ones do at once; slow drift up is allowed.
      this.offsetMs = Math.min(candidate, this.offsetMs + Math.max(0, atMs - this.lastAt) * DRIFT_PER_S);
    }
    this.lastAt = atMs;
    return this.offsetMs + mediaMs;
  }
}

const NTP_EPOCH_OFFSET_S = 2_208_988_800; // 1900-01-01 → 1970-01-01

/** Unix wall time (ms) as a 64-bit NTP timestamp: seconds since 1900 and a 2⁻³² fraction. */
export function ntpFromUnixMs(ms: number): bigint {
  const seconds = Math.floor(ms / 1000);
  const fraction = Math.floor(((ms - seconds * 1000) / 1000) * 2 ** 32);
  return (BigInt(seconds + NTP_EPOCH_OFFSET_S) << 32n) | BigInt(Math.min(fraction, 2 ** 32 - 1));
}

/** The inverse, for tests and diagnostics. */
export function unixMsFromNtp(ntp: bigint): number {
  const seconds = Number(ntp >> 32n) - NTP_EPOCH_OFFSET_S;
  const fraction = Number(ntp & 0xffffffffn) / 2 ** 32;
  return (seconds + fraction) * 1000;
}
