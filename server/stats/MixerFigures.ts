// Each room's mixer between two samples: its composite frame rate, its encoded kbps per rung
// and its CPU (GET /stats), and the growth of its counters added to the _total counters
// (skipped ticks, repeated pictures, forced keyframes, restarts) on /metrics.

import type { monitorMetrics } from './metrics.ts';
import type { RoomMixerStats } from '../../workers/mixer/stats.ts';

type MixerMetrics = Pick<ReturnType<typeof monitorMetrics>, 'skipped' | 'repeated' | 'keyframes' | 'restarts'>;

/** What the figures read of a room. */
export interface MixedRoom {
  readonly name: string;
  readonly mixer: { stats(): RoomMixerStats; readonly pid: number | undefined };
}

export interface MixerFigure {
  fps: number;
  encoderKbps: Record<string, number>;
  /** Cores its video FFmpeg used, both lanes' (null: not known yet). */
  cpu: number | null;
}

export class MixerFigures {
  /** Per room name, the ticks written and bytes encoded at the last sample. */
  private readonly prev = new Map<string, { at: number; ticks: number; byRung: Record<string, number> }>();
  private readonly figures = new Map<string, MixerFigure>();
  /** Per live room, the mixer's counters at the last sample (their growth feeds the _total counters). */
  private readonly counts = new Map<MixedRoom, { skipped: number; repeated: number; keyframes: number; restarts: number }>();

  constructor(private readonly m: MixerMetrics) {}

  /** One room's mixer at `now`: its figures since the last sample (null at its first). */
  sample(room: MixedRoom, now: number, cpuOf: (pid: number | undefined) => number | null): MixerFigure | null {
    const mix = room.mixer.stats();
    const prev = this.prev.get(room.name);
    let fig: MixerFigure | null = null;
    if (prev) {
      const secs = (now - prev.at) / 1000;
      const byRung: Record<string, number> = {};
      for (const rung of mix.rungs) byRung[rung] = (((mix.videoBytesByRung[rung] ?? 0) - (prev.byRung[rung] ?? 0)) * 8) / secs / 1000;
      const cpu = cpuOf(room.mixer.pid);
      const h264 = mix.h264Lane.pid === null ? null : cpuOf(mix.h264Lane.pid);
      fig = { fps: (mix.ticks - mix.skippedTicks - prev.ticks) / secs, encoderKbps: byRung, cpu: cpu === null ? null : cpu + (h264 ?? 0) };
      this.figures.set(room.name, fig);
    }
    this.prev.set(room.name, { at: now, ticks: mix.ticks - mix.skippedTicks, byRung: { ...mix.videoBytesByRung } });
    const was = this.counts.get(room) ?? { skipped: 0, repeated: 0, keyframes: 0, restarts: 0 };
    this.m.skipped.inc(Math.max(0, mix.skippedTicks - was.skipped));
    this.m.repeated.inc(Math.max(0, mix.repeatedFrames - was.repeated));
    this.m.keyframes.inc(Math.max(0, mix.keyframesForced - was.keyframes));
    this.m.restarts.inc(Math.max(0, mix.restarts - was.restarts));
    this.counts.set(room, { skipped: mix.skippedTicks, repeated: mix.repeatedFrames, keyframes: mix.keyframesForced, restarts: mix.restarts });
    return fig;
  }

  /** Forgets the rooms that are gone (`live`: the rooms now; `named`: whether a room of that name is live). */
  prune(live: readonly MixedRoom[], named: (name: string) => boolean): void {
    for (const room of [...this.counts.keys()]) if (!live.includes(room)) this.counts.delete(room);
    for (const name of [...this.prev.keys()]) {
      if (!named(name)) {
        this.prev.delete(name);
        this.figures.delete(name);
      }
    }
  }

  /** A room's last figures (null fields before its second sample). */
  of(name: string): MixerFigure | { fps: null; encoderKbps: Record<string, number>; cpu: null } {
    return this.figures.get(name) ?? { fps: null, encoderKbps: {}, cpu: null };
  }
}
