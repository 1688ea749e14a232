// The mixer's two clocks as timers: the video tick (1/fps) and the 20 ms audio tick, each a
// drift-corrected TickClock (pipeline/mixer/clock.ts) that skips ahead after a long stall
// instead of bursting old ticks. Audio has its own clock: one Opus frame per write, so packets
// leave evenly and subscribers' jitter buffers stay short (per-video-tick writes made 33 ms bursts).

import { TickClock } from '../../pipeline/mixer/clock.ts';

export const AUDIO_TICK_MS = 20;

export class MixClocks {
  readonly video: TickClock;
  readonly audio = new TickClock(AUDIO_TICK_MS, 10);
  private readonly timers: Record<'video' | 'audio', NodeJS.Timeout | null> = { video: null, audio: null };
  private stopped = false;

  constructor(fps: number, private readonly onVideo: (tick: number) => void, private readonly onAudio: (tick: number) => void) {
    this.video = new TickClock(1000 / fps, 5);
  }

  start(now: number): void {
    this.video.start(now);
    this.audio.start(now);
    this.schedule('video');
    this.schedule('audio');
  }

  stop(): void {
    this.stopped = true;
    for (const t of Object.values(this.timers)) if (t) clearTimeout(t);
  }

  private schedule(kind: 'video' | 'audio'): void {
    if (this.stopped) return;
    const clock = this[kind];
    this.timers[kind] = setTimeout(() => {
      for (const tick of clock.due(performance.now())) (kind === 'video' ? this.onVideo : this.onAudio)(tick);
      this.schedule(kind);
    }, clock.delayToNext(performance.now()));
  }
}
