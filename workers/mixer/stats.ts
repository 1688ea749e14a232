// What a room's mixer has done (RoomMixer.stats(), read by GET /rooms, /stats, /metrics and
// admission): the counters RoomMixer keeps, and its supervisor's epoch, pid, restarts and last exit.

import type { FfmpegExit } from '../ffmpeg/FfmpegProcess.ts';
import type { LaneStats } from './OnDemandLane.ts';

/** What the mixer has done (RoomMixer.stats(): a snapshot; the counters only grow). */
export interface RoomMixerStats {
  epoch: number;
  pid: number | undefined;
  capacity: number;
  /** The rungs encoded now (ids, see pipeline/ladder.ts). */
  rungs: readonly string[];
  ticks: number;
  skippedTicks: number;
  restarts: number;
  /** Mixer processes started in the room's life: 1, then one per swap (rungs, capacity) or restart. */
  processesStarted: number;
  keyframesForced: number;
  keyframesByRung: Record<string, number>;
  /** Slot pictures written again because no newer one had arrived (sample-and-hold). */
  repeatedFrames: number;
  videoBytesOut: number;
  /** Encoded bytes per rung id. */
  videoBytesByRung: Record<string, number>;
  /** Frames pushed that were not of the slot size (dropped). */
  wrongSizeFrames: number;
  lastExit: FfmpegExit | null;
  /** The H.264 lane (its own video process while an H.264 rung is watched); the fields above are the main lane's. */
  h264Lane: LaneStats;
}

/** Counters RoomMixer keeps itself; stats() adds the supervisor's. */
export type Counters = Omit<RoomMixerStats, 'epoch' | 'pid' | 'restarts' | 'processesStarted' | 'lastExit' | 'rungs' | 'h264Lane'>;

export function newCounters(capacity: number): Counters {
  return {
    capacity, ticks: 0, skippedTicks: 0, keyframesForced: 0, keyframesByRung: {},
    repeatedFrames: 0, videoBytesOut: 0, videoBytesByRung: {}, wrongSizeFrames: 0,
  };
}
