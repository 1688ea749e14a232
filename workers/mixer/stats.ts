// What a room's mixer has done (RoomMixer.stats(), read by GET /rooms, /stats, /metrics and
// admission): the counters RoomMixer keeps, and its supervisor's epoch, pid, restarts and last exit;
// and the mix's timing (RoomMixer.timing(), GET /rooms/{room}).

import type { FfmpegExit } from '../ffmpeg/FfmpegProcess.ts';
import type { LaneStats } from './OnDemandLane.ts';
import type { StageSummary } from '../../pipeline/audio/StageLatency.ts';

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

/** RoomMixer.timing(): ms, p50 / p95 / max over the recent ticks or frames. */
export interface MixTiming {
  /** The video tick's timer firing after its due instant. */
  videoTickLateMs: StageSummary;
  /** A video tick's write → the first packet of the serving process's first rung's frame carrying it, at Node's socket. */
  videoWriteToPacketMs: StageSummary;
  /** Frames still queued in Node's socket to the fullest picture input when a tick is written (not ms). */
  videoQueuedFrames: StageSummary;
  audioTickLateMs: StageSummary;
  /** A 20 ms write to the audio FFmpeg → the full mix's Opus packet carrying it, at Node's socket. */
  audioWriteToPacketMs: StageSummary;
}

export const EMPTY_STAGE: StageSummary = { n: 0, p50: null, p95: null, max: null };
