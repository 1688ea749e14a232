// Call setup: each WHIP/WHEP session from its creation to its first media, or to 10 s without:
// sessions attempted and reaching media (counters), the time to first audio and video (a
// histogram), and the success ratio over the sessions decided (a gauge, GET /stats' callSetup).

import type { monitorMetrics } from './metrics.ts';

type SetupMetrics = Pick<ReturnType<typeof monitorMetrics>, 'attempted' | 'reached' | 'timeToMedia' | 'setupSuccess'>;

interface SessionRecord {
  kind: 'whip' | 'whep';
  createdAt: number;
  reachedMedia: boolean;
}

/** A session without media this long after its creation counts as failed. */
const MEDIA_DEADLINE_MS = 10_000;

export class CallSetup {
  /** Sessions not decided at the last sample (and those that reached media since). */
  private readonly sessions = new Map<string, SessionRecord>();
  private readonly decided = { reached: 0, failed: 0 };

  constructor(private readonly m: SetupMetrics) {}

  created(id: string, kind: 'whip' | 'whep'): void {
    this.sessions.set(id, { kind, createdAt: Date.now(), reachedMedia: false });
    this.m.attempted.inc({ session: kind });
  }

  /** A session's first media times (ms since the epoch; 0: none yet). */
  media(id: string, firstAt: number, audioAt: number, videoAt: number): void {
    const s = this.sessions.get(id);
    if (!s || s.reachedMedia || !firstAt) return;
    s.reachedMedia = true;
    this.m.reached.inc({ session: s.kind });
    if (audioAt) this.m.timeToMedia.observe({ session: s.kind, kind: 'audio' }, Math.max(0, audioAt - s.createdAt) / 1000);
    if (videoAt) this.m.timeToMedia.observe({ session: s.kind, kind: 'video' }, Math.max(0, videoAt - s.createdAt) / 1000);
    this.updateRatio();
  }

  /** Decides the sessions that reached media or passed their deadline, and forgets them. */
  expire(now: number): void {
    for (const [id, s] of this.sessions) {
      if (s.reachedMedia) {
        this.decided.reached++;
        this.sessions.delete(id);
      } else if (now - s.createdAt > MEDIA_DEADLINE_MS) {
        this.decided.failed++;
        this.sessions.delete(id);
      }
    }
    this.updateRatio();
  }

  private updateRatio(): void {
    const pendingReached = [...this.sessions.values()].filter((s) => s.reachedMedia).length;
    const reached = this.decided.reached + pendingReached;
    const total = reached + this.decided.failed;
    this.m.setupSuccess.set(total ? reached / total : 1);
  }

  summary() {
    const pendingReached = [...this.sessions.values()].filter((s) => s.reachedMedia).length;
    const reached = this.decided.reached + pendingReached;
    const decided = reached + this.decided.failed;
    return { reachedMedia: reached, failed: this.decided.failed, pending: this.sessions.size - pendingReached, successRate: decided ? reached / decided : null };
  }
}
