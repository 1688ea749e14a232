// What GET /stats, /metrics and the dashboard read of a subscriber's connection (Egress.stats()):
// its forwarded tracks' counters and what the subscriber's RTCP says of them.

/** A forwarded track as the figures read it (Egress's ForwardedTrack). */
export interface EgressTrackSource {
  readonly kind: 'audio' | 'video';
  readonly bytes: number;
  readonly packets: number;
  readonly frames: number;
  readonly firstPacketAt: number;
  readonly remoteJitterMs: number | null;
  readonly sender: { remoteFractionLost?: number; rtt?: unknown } | null;
}

export interface EgressStats {
  bytes: number;
  packets: number;
  /** Video frames forwarded. */
  frames: number;
  /** The worst of the tracks' last receiver-report loss (%), RTT (ms) and jitter (ms). */
  lossPercent: number;
  rttMs: number | null;
  jitterMs: number | null;
  /** When the first packet of any track, of audio, of video went out (ms since the epoch; 0: none yet). */
  firstPacketAt: number;
  firstAudioAt: number;
  firstVideoAt: number;
}

export function egressStats(video: EgressTrackSource | null, audio: EgressTrackSource | null): EgressStats {
  const out: EgressStats = { bytes: 0, packets: 0, frames: 0, lossPercent: 0, rttMs: null, jitterMs: null, firstPacketAt: 0, firstAudioAt: audio?.firstPacketAt ?? 0, firstVideoAt: video?.firstPacketAt ?? 0 };
  const tracks = [video, audio].filter((t): t is EgressTrackSource => t !== null);
  for (const t of tracks) {
    out.bytes += t.bytes;
    out.packets += t.packets;
    if (t.kind === 'video') out.frames += t.frames;
    const sender = t.sender;
    if (sender) {
      out.lossPercent = Math.max(out.lossPercent, 100 * (sender.remoteFractionLost ?? 0));
      if (typeof sender.rtt === 'number') out.rttMs = Math.max(out.rttMs ?? 0, sender.rtt * 1000);
    }
    if (t.remoteJitterMs !== null) out.jitterMs = Math.max(out.jitterMs ?? 0, t.remoteJitterMs);
  }
  const first = Math.min(...tracks.map((t) => t.firstPacketAt || Infinity));
  out.firstPacketAt = Number.isFinite(first) ? first : 0;
  return out;
}
