// Loss a subscriber reports for one outgoing track, over the last few seconds of its receiver
// reports (Δlost / Δexpected). Steadier than one report's "fraction lost": libwebrtc reports
// every second or so, and NACK repairs make single intervals swing between 0 and 100 %.

const WINDOW_MS = 3000;

export class LossWindow {
  /** Cumulative lost and extended highest sequence number of each report kept. */
  private readonly reports: Array<{ at: number; lost: number; highest: number }> = [];
  /** After a reset: reports are ignored until one has seen this sequence number (16-bit). */
  private fromSeq: number | null = null;

  add(packetsLost: number, highestSequence: number, now: number): void {
    if (this.fromSeq !== null) {
      // Not yet past the reset: the receiver has not seen the new stream, and its next report
      // may count as lost, all at once, packets of the old one it only now knows it missed.
      if (((highestSequence - this.fromSeq) & 0xffff) >= 0x8000) return;
      this.fromSeq = null;
    }
    this.reports.push({ at: now, lost: packetsLost, highest: highestSequence });
    while (this.reports.length > 2 && now - this.reports[1].at > WINDOW_MS) this.reports.shift();
  }

  /**
   * Forget earlier reports (after a rung switch, or video paused and resumed, they describe
   * another stream). `fromSeq`: the sequence number of the next packet sent; reports from
   * before the receiver saw it are not kept. A receiver learns of packets lost at the tail of
   * a stream only when the next one arrives (a level step down to audio, then up again: the
   * first report after the resume counted 68 % lost at 5 Mbit/s in e2e/adaptation, and the
   * subscriber went back to audio).
   */
  reset(fromSeq: number | null = null): void {
    this.reports.length = 0;
    this.fromSeq = fromSeq === null ? null : fromSeq & 0xffff;
  }

  /** Percent lost across the window; null until two reports span some packets. */
  percent(): number | null {
    if (this.reports.length < 2) return null;
    const a = this.reports[0];
    const b = this.reports[this.reports.length - 1];
    const expected = b.highest - a.highest;
    if (expected <= 0) return null;
    return Math.max(0, Math.min(100, (100 * (b.lost - a.lost)) / expected));
  }
}
