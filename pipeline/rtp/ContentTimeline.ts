// When the content of a mixer output packet went into the mix, on Node's one clock
// (performance.now()). The egress's sender reports map RTP timestamps to this instant, for the
// mixed audio and the mixed video alike, so a subscriber's lip sync lines up what was mixed
// together, whatever each FFmpeg (the audio mixer, the video compositor) took to send it.
//
// The mixer writes its inputs in units (one video tick's frame of a rung, one 20 ms block of
// audio) and notes each unit's instant here (`wrote`). FFmpeg passes timestamps through: the
// output's RTP timestamps advance by `unitTicks` per unit written (fps_mode passthrough; the
// audio's WAV input is timed by its sample count, 960 samples a 20 ms write). The first
// output packet is the first unit written (`firstIndex`), so a packet's unit is
// firstIndex + (ts − first ts) / unitTicks; fractions (an Opus packet shorter than a write)
// are interpolated within the unit. A unit older than the window, or not yet written (a
// timestamp jump: a process that skipped ahead), has no instant: null.
// Pure: times are passed in; per packet, a subtraction and a table read.

export class ContentTimeline {
  private readonly at: Float64Array;
  private readonly mask: number;
  private written = -1;
  private firstTs: number | null = null;
  private lastTs = 0;
  private unwrapped = 0;

  /**
   * @param unitTicks  RTP clock ticks per unit (3000 for 30 fps video at 90 kHz, 6000 at
   *                   15 fps, 960 for a 20 ms audio write at 48 kHz)
   * @param unitMs     the unit's duration (for a packet that starts inside a unit)
   * @param firstIndex the unit the first output packet carries
   * @param window     how many units back are remembered (a power of two)
   */
  constructor(
    readonly unitTicks: number,
    readonly unitMs: number,
    readonly firstIndex = 0,
    window = 512,
  ) {
    this.at = new Float64Array(window);
    this.mask = window - 1;
    if ((window & this.mask) !== 0) throw new Error('window must be a power of two');
  }

  /** Unit `index` (0, 1, 2, … in write order, none skipped) went in at `atMs`. */
  wrote(index: number, atMs: number): void {
    this.at[index & this.mask] = atMs;
    if (index > this.written) this.written = index;
  }

  /** The instant (ms) the content of the output packet with RTP timestamp `ts` went in. */
  contentAt(ts: number): number | null {
    if (this.firstTs === null) {
      this.firstTs = ts >>> 0;
      this.unwrapped = 0;
    } else {
      // Signed 32-bit difference: wraps and small reorderings both come out right.
      this.unwrapped += (ts - this.lastTs) | 0;
    }
    this.lastTs = ts >>> 0;
    const units = this.unwrapped / this.unitTicks;
    const whole = Math.floor(units);
    const index = this.firstIndex + whole;
    if (index < 0 || index > this.written || this.written - index > this.mask) return null;
    return this.at[index & this.mask] + (units - whole) * this.unitMs;
  }
}
