// When a room's mixer process is replaced, and how soon. A planned replacement (another slot
// capacity, another set of rungs) starts the new process at once beside the serving one; a dead
// or hung one is replaced after a growing backoff, which resets once a process has run for
// STABLE_AFTER_MS. Also the two watchdog rules (a frozen process, an incoming one that never
// sends media). Pure: the caller passes the time and owns the timers.

export const RESTART_BACKOFF_MS = [100, 500, 1000, 2000, 5000] as const;
/** A process that runs this long resets the backoff. */
export const STABLE_AFTER_MS = 10_000;
/** No RTP for this long while ticking means FFmpeg is hung: replace it. */
export const FROZEN_AFTER_MS = 3000;
/** An incoming process that has opened its inputs but sent no media for this long is replaced. */
export const NO_FIRST_MEDIA_MS = 9000;

/** Why a process is replaced; the planned reasons keep the serving process until the new one has media. */
export type PlannedReason = 'capacity' | 'rungs';

export function isPlanned(reason: string): reason is PlannedReason {
  return reason === 'capacity' || reason === 'rungs';
}

export class RestartBackoff {
  private attempts = 0;

  constructor(private readonly steps: readonly number[] = RESTART_BACKOFF_MS) {}

  /** The delay before the next start, and which attempt since the last stable run it is (1-based). */
  next(reason: string): { delayMs: number; attempt: number } {
    if (isPlanned(reason)) return { delayMs: 0, attempt: this.attempts + 1 };
    const delayMs = this.steps[Math.min(this.attempts, this.steps.length - 1)];
    this.attempts++;
    return { delayMs, attempt: this.attempts };
  }

  /** A process has run for STABLE_AFTER_MS: the next failure starts from the first step. */
  reset(): void {
    this.attempts = 0;
  }

  get failuresInARow(): number {
    return this.attempts;
  }
}

/** The serving process sent nothing for FROZEN_AFTER_MS (0: it has not started sending). */
export function isFrozen(lastPacketAt: number, now: number, frozenAfterMs = FROZEN_AFTER_MS): boolean {
  return lastPacketAt > 0 && now - lastPacketAt > frozenAfterMs;
}

/** The incoming process opened its inputs (at `connectedAt`; 0: not yet) and has sent no media since. */
export function isStuckIncoming(connectedAt: number, now: number, limitMs = NO_FIRST_MEDIA_MS): boolean {
  return connectedAt > 0 && now - connectedAt > limitMs;
}
