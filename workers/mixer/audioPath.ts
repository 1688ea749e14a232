// Where a mix's audio spends its time in the mixer (RoomMixer.audioPath(), in-process only:
// bench/latency.ts prints it; docs/AUDIO-PATH.md): the 20 ms tick's lateness, each occupied
// slot's queue (wait, depth, underruns, what its drain cut) and the audio FFmpeg's write → packet.

import type { StageLatency, StageSummary } from '../../pipeline/audio/StageLatency.ts';
import type { MixSlot } from './MixSlot.ts';

/** ms unless named. */
export interface MixAudioPath {
  /** The 20 ms audio timer firing after its tick's due instant. */
  tickLateMs: StageSummary;
  /** Per occupied slot: its queue's wait (push → pull of each chunk's first sample) and depth before each pull. */
  slots: Array<{ slot: number; participantId: string; waitMs: StageSummary; depthMs: StageSummary; underruns: number; drainedMs: number; drains: number; marginMs: number }>;
  /** A 20 ms write to the audio FFmpeg → the full mix's Opus packet carrying it read back at Node's socket. */
  ffmpegMs: StageSummary;
  droppedWrites: number;
}

/** The serving audio process's figures (AudioMixerProcess). */
interface AudioProcessFigures {
  writeToPacket: StageLatency;
  droppedWrites: number;
}

export function audioPathOf(slots: ReadonlyArray<MixSlot | null>, audio: AudioProcessFigures | null, tickLate: StageLatency, sampleRate: number): MixAudioPath {
  const perMs = sampleRate / 1000;
  const round = (samples: number) => Math.round((samples / perMs) * 10) / 10;
  const ms = (x: StageSummary): StageSummary => {
    const f = (v: number | null) => (v === null ? null : round(v));
    return { n: x.n, p50: f(x.p50), p95: f(x.p95), max: f(x.max) };
  };
  const out: MixAudioPath['slots'] = [];
  slots.forEach((s, k) => {
    if (!s) return;
    const a = s.audio;
    out.push({
      slot: k, participantId: s.participantId, waitMs: a.waitMs.summary(), depthMs: ms(a.depthSamples.summary()),
      underruns: a.underruns, drainedMs: round(a.drainedSamples), drains: a.drains, marginMs: round(a.marginSamples),
    });
  });
  return {
    tickLateMs: tickLate.summary(),
    slots: out,
    ffmpegMs: audio?.writeToPacket.summary() ?? { n: 0, p50: null, p95: null, max: null },
    droppedWrites: audio?.droppedWrites ?? 0,
  };
}
