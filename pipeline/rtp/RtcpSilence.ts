// When a subscriber that has been sending RTCP is taken for gone: silent for 3 × its longest RTCP
// interval seen, but at least `minMs` and at most `maxMs`. Video receivers report at least every
// second; an audio-only one may report every 5 s × 1.5 (RFC 3550; libwebrtc does), so until two
// of its intervals are known it gets the longest wait (a 5 s floor cut live audio-only
// subscribers). One that never sent RTCP is left to ICE/DTLS.

export const RTCP_SILENT_MAX_MS = 20_000;

export class RtcpSilence {
  /** When the last RTCP packet came (0: none yet). */
  lastAt = 0;
  private longestGap = 0;
  /** RTCP gaps seen (an audio-only client's interval is known after two). */
  private gaps = 0;

  constructor(private readonly minMs: number, private readonly hasVideo: boolean, private readonly maxMs = RTCP_SILENT_MAX_MS) {}

  note(now: number): void {
    if (this.lastAt) {
      this.longestGap = Math.max(this.longestGap, now - this.lastAt);
      this.gaps++;
    }
    this.lastAt = now;
  }

  /** How long the silence may last now. */
  get limitMs(): number {
    if (!this.hasVideo && this.gaps < 2) return this.maxMs;
    return Math.min(this.maxMs, Math.max(this.minMs, 3 * this.longestGap));
  }

  /** The silence (ms) when it is past the limit, else null (also before any RTCP). */
  overdue(now: number): number | null {
    if (!this.lastAt) return null;
    const silent = now - this.lastAt;
    return silent > this.limitMs ? silent : null;
  }
}
