// Loss a subscriber reports for one outgoing track, over the last few seconds of its receiver
// reports (Δlost / Δexpected). Steadier than one report's "fraction lost": libwebrtc reports
// every second or so, and NACK repairs make single intervals swing between 0 and 100 %.

const WINDOW_MS = 3000;

export class LossWindow {
  /** Cumulative lost and extended highest sequence number of each report kept. */
  private readonly reports: Array<{ at: number; lost: number; highest: number }> = [];

  add(packetsLost: number, highestSequence: number, now: number): void {
    this.reports.push({ at: now, lost: packetsLost, highest: highestSequence });
    while (this.reports.length > 2 && now - this.reports[1].at > WINDOW_MS) this.reports.shift();
  }

  /** Forget earlier reports (after a rung switch they describe another stream). */
  reset(): void {
    this.reports.length = 0;
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
