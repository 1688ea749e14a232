// When the mix forces a keyframe on a rung: soon after anyone asks (a new subscriber, a PLI, a
// rung switch, a tap), never two within KEYFRAME_MIN_GAP_MS on one rung (a burst of PLIs from
// many subscribers costs one keyframe), and every KEYFRAME_INTERVAL_MS on the rungs whose
// consumers cannot ask: HLS and RTMP taps (HLS cuts its 2 s segments on these; the encoder
// output is copied, never re-encoded), recorders (a recording seeks by them), subscribers whose
// offer has no PLI or FIR. Not on the others: a periodic keyframe, 6-10× a delta frame, keeps a
// browser's video jitter estimate (and through lip sync its audio buffer) up for minutes.
// Pure: the caller passes the time.

export const KEYFRAME_INTERVAL_MS = 2000;
export const KEYFRAME_MIN_GAP_MS = 300;

export class KeyframePolicy {
  private readonly pending = new Set<string>();
  private readonly lastAt = new Map<string, number>();
  /** The rungs that get a keyframe every interval unasked (null: every rung). */
  private periodic: ReadonlySet<string> | null = null;

  constructor(
    private readonly intervalMs = KEYFRAME_INTERVAL_MS,
    private readonly minGapMs = KEYFRAME_MIN_GAP_MS,
  ) {}

  /** Someone asked for a keyframe on these rungs; served by the next due() the limit allows. */
  request(rungs: Iterable<string>): void {
    for (const id of rungs) this.pending.add(id);
  }

  /** Only these rungs get a keyframe every interval whether asked or not (until set, every rung). */
  setPeriodic(rungs: Iterable<string>): void {
    this.periodic = new Set(rungs);
  }

  /** The rungs (of those encoded) whose next frame should be a keyframe. */
  due(rungs: Iterable<string>, now: number): Set<string> {
    const keys = new Set<string>();
    for (const id of rungs) {
      const last = this.lastAt.get(id) ?? 0;
      const periodic = this.periodic === null || this.periodic.has(id);
      const due = this.pending.has(id) || (periodic && now - last >= this.intervalMs);
      if (due && now - last >= this.minGapMs) keys.add(id);
    }
    return keys;
  }

  /** These rungs' keyframes were written: requests are served, the interval restarts. */
  sent(rungs: Iterable<string>, now: number): void {
    for (const id of rungs) {
      this.lastAt.set(id, now);
      this.pending.delete(id);
    }
  }

  /**
   * A new process started these rungs (its first frames are keyframes): the interval and the
   * limit count from now; requests still pending are served once the limit allows.
   */
  started(rungs: Iterable<string>, now: number): void {
    for (const id of rungs) this.lastAt.set(id, now);
  }
}
