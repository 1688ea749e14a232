// The mixer's clocks: a tick every `periodMs` counted from one start instant, so timer lateness
// never accumulates (each timer is set for the next tick's due time, not `period` after the last
// one). Late ticks are caught up one after another; after a long stall (GC, a busy loop) the clock
// skips ahead instead of bursting old ticks. Pure: the caller passes the time and owns the timer.

export class TickClock {
  private startAt = 0;
  private done = 0;

  /**
   * @param periodMs  time between ticks (1000 / fps for video, 20 ms for audio)
   * @param maxBehind more ticks than this overdue and all but the last are skipped
   */
  constructor(
    readonly periodMs: number,
    private readonly maxBehind: number,
  ) {}

  /** Ticks run so far (the number of the last one). */
  get ticks(): number {
    return this.done;
  }

  /** The instant tick `n` is due (the clock's time of its content, whenever the timer fired). */
  at(n: number): number {
    return this.startAt + n * this.periodMs;
  }

  start(now: number): void {
    this.startAt = now;
    this.done = 0;
  }

  /** How long from `now` until the next tick is due (0 when it is overdue). */
  delayToNext(now: number): number {
    return Math.max(0, this.startAt + (this.done + 1) * this.periodMs - now);
  }

  /** The numbers of the ticks due at `now`, oldest first; they count as run once returned. */
  due(now: number): number[] {
    const due = Math.floor((now - this.startAt) / this.periodMs);
    if (due - this.done > this.maxBehind) this.done = due - 1;
    const out: number[] = [];
    while (this.done < due) out.push(++this.done);
    return out;
  }
}
