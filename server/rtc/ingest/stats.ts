// What GET /stats, /metrics and the dashboard read of a publisher's connection (Ingest.stats()).

import type { VideoReceiver } from './VideoReceiver.ts';
import type { AudioReceiver } from './AudioReceiver.ts';

/** What the figures are read from (an Ingest; named here so this file does not import it back). */
export interface IngestStatsSource {
  readonly closed: boolean;
  readonly connectedAt: number;
  readonly stalled: boolean;
  readonly firstVideoAt: number;
  readonly firstAudioAt: number;
  rttMs(): number | null;
  readonly video: VideoReceiver | null;
  readonly audio: AudioReceiver | null;
  readonly rates: {
    readonly fps: number;
    readonly videoKbps: number;
    readonly audioKbps: number;
    readonly pixelsPerSec: number;
    readonly layers: ReadonlyMap<string, { fps: number; kbps: number }>;
  };
  readonly nackPacketsSent: number;
  readonly pliSent: number;
  readonly firSent: number;
  readonly twccFeedbackSent: number;
  /** How much later than its picture the publisher's audio of an instant arrives (its sender reports); null: not known yet. */
  readonly captureSkew: { audioLagMs(): number | null };
}

export interface StreamStats {
  ssrc: number | null;
  packets: number;
  bytes: number;
  /** Never received, retransmissions counted as received. */
  packetsLost: number;
  jitterMs: number | null;
}

export interface SimulcastStats {
  /** The layer decoded, and the one waited for (its keyframe) when a switch is under way. */
  layer: string | null;
  target: string | null;
  switches: number;
  /** The layer forwarded to tracks subscribers. */
  forwarded: string | null;
  layers: Array<{ rid: string; ssrc: number | null; width: number | null; height: number | null; live: boolean; packets: number; fps: number; bitrateKbps: number; keyframes: number }>;
}

export interface IngestStats {
  state: 'connecting' | 'connected' | 'stalled' | 'closed';
  /** When the first decoded picture and the first decoded audio came (ms since the epoch; 0: not yet). */
  firstVideoAt: number;
  firstAudioAt: number;
  rttMs: number | null;
  video: (StreamStats & {
    codec: string;
    width: number | null;
    height: number | null;
    framesAssembled: number;
    framesDecoded: number;
    /** Decoded frames per second and received bitrate over the last second. */
    fps: number;
    bitrateKbps: number;
    framesDropped: number;
    keyframes: number;
    decodeMsP50: number | null;
    nacksSent: number;
    retransmitsReceived: number;
    plisSent: number;
    firsSent: number;
    decoderRestarts: number;
    decoderPid: number | null;
    /** Decode work: decoded frames per second × their pixels as sent, over the last second. */
    decodedPixelsPerSec: number;
    simulcast: SimulcastStats | null;
  }) | null;
  audio: (StreamStats & { codec: 'opus'; bitrateKbps: number; concealed: number; recoveredByFec: number; late: number; samplesOut: number; lagOverVideoMs: number | null }) | null;
  twccFeedbackSent: number;
}

const p50 = (xs: number[]): number | null => {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
};

/** A simulcast publisher's layers (null: one stream). */
export function simulcastStats(v: VideoReceiver, rates: IngestStatsSource['rates']): SimulcastStats | null {
  if (!v.switcher) return null;
  return {
    layer: v.switcher.current,
    target: v.switcher.target,
    switches: v.switcher.switches,
    forwarded: v.forwardedLayer,
    layers: v.layers().map((l) => {
      const s = v.streams.get(l.rid);
      const r = rates.layers.get(l.rid);
      return {
        rid: l.rid,
        ssrc: s?.ssrc ?? null,
        width: l.size?.width ?? null,
        height: l.size?.height ?? null,
        live: l.live,
        packets: s?.stats.packets ?? 0,
        fps: Math.round((r?.fps ?? 0) * 10) / 10,
        bitrateKbps: Math.round(r?.kbps ?? 0),
        keyframes: s?.assembler.stats.keyframesOut ?? 0,
      };
    }),
  };
}

function round1(v: number | null): number | null {
  return v === null ? null : Math.round(v * 10) / 10;
}

export function ingestStats(i: IngestStatsSource): IngestStats {
  const v = i.video;
  const a = i.audio;
  const vs = v?.stats;
  const as_ = v?.assembler?.stats;
  const as = a?.stats;
  return {
    state: i.closed ? 'closed' : !i.connectedAt ? 'connecting' : i.stalled ? 'stalled' : 'connected',
    firstVideoAt: i.firstVideoAt,
    firstAudioAt: i.firstAudioAt,
    rttMs: i.rttMs(),
    video: v
      ? {
          codec: v.plan.codec,
          ssrc: vs?.ssrc ?? null,
          packets: vs?.packets ?? 0,
          bytes: vs?.bytes ?? 0,
          packetsLost: vs?.lost ?? 0,
          jitterMs: vs ? vs.jitterMs : null,
          width: v.source?.width ?? null,
          height: v.source?.height ?? null,
          framesAssembled: as_?.framesOut ?? 0,
          framesDecoded: v.framesDecoded,
          fps: Math.round(i.rates.fps * 10) / 10,
          bitrateKbps: Math.round(i.rates.videoKbps),
          framesDropped: (as_?.framesDropped ?? 0) + (as_?.framesHeldBack ?? 0),
          keyframes: as_?.keyframesOut ?? 0,
          decodeMsP50: p50(v.decodeMs),
          nacksSent: i.nackPacketsSent,
          retransmitsReceived: vs?.retransmits ?? 0,
          plisSent: i.pliSent,
          firsSent: i.firSent,
          decoderRestarts: v.decoder.stats.restarts,
          decoderPid: v.decoder.pid ?? null,
          decodedPixelsPerSec: Math.round(i.rates.pixelsPerSec),
          simulcast: simulcastStats(v, i.rates),
        }
      : null,
    audio: a
      ? {
          codec: 'opus',
          ssrc: as?.ssrc ?? null,
          packets: as?.packets ?? 0,
          bytes: as?.bytes ?? 0,
          packetsLost: as?.lost ?? 0,
          jitterMs: as ? as.jitterMs : null,
          bitrateKbps: Math.round(i.rates.audioKbps),
          concealed: a.reorder.concealed,
          recoveredByFec: a.reorder.recoveredByFec,
          late: a.reorder.late,
          samplesOut: a.samplesOut,
          lagOverVideoMs: round1(i.captureSkew.audioLagMs()),
        }
      : null,
    twccFeedbackSent: i.twccFeedbackSent,
  };
}
