// Which FFmpeg process of a room's mixer encodes a rung. FFmpeg cannot add an output to a
// running process, so a rung set that changes means a new process; the rungs are split so that
// such a change never touches the process nearly everyone watches:
//   main  the VP8 rungs (720p and 360p always on: docs/ARCHITECTURE.md), beside the audio process
//   h264  the H.264 rungs, in a video-only process of their own, started for the first H.264
//         watcher (a WHEP client that offers only H.264, an MP4 recording) and stopped after the last
// Each process composites the same slot pictures on the same ticks.

import { rungById, sortRungs } from '../ladder.ts';

export type Lane = 'main' | 'h264';

export function laneOfRung(id: string): Lane {
  return rungById(id)?.codec === 'h264' ? 'h264' : 'main';
}

/** The rungs of each lane, each in the mixer's stable output order (sortRungs). */
export function splitRungs(ids: Iterable<string>): Record<Lane, string[]> {
  const all = sortRungs(ids);
  return { main: all.filter((id) => laneOfRung(id) === 'main'), h264: all.filter((id) => laneOfRung(id) === 'h264') };
}
