// Which of a publisher's streams an incoming RTP packet belongs to, without relying on SSRC
// lines in the SDP (many clients send none): the MID header extension first, then SSRCs the
// SDP announced or earlier packets taught, then the payload type (unique within a BUNDLE).
// Retransmissions (RTX, RFC 4588) are unwrapped to the original packet. A simulcast video
// section's packets are told apart by the RID header extension (RTX: the repaired-RID one),
// then by the SSRCs those taught (pipeline/simulcast.ts RidMap). Pure.

import type { IngestPlan } from '../ingestCodecs.ts';
import { RidMap } from '../simulcast.ts';

export type StreamKind = 'audio' | 'video';

export interface RoutedPacket {
  kind: StreamKind;
  /** The media SSRC (for RTX: the stream it repairs, once known). */
  ssrc: number;
  sequenceNumber: number;
  payload: Buffer;
  retransmit: boolean;
  /** The simulcast layer (null: not a simulcast stream). */
  rid: string | null;
}

export interface RtpLike {
  header: { ssrc: number; payloadType: number; sequenceNumber: number; extensions: Array<{ id: number; payload: Buffer }> };
  payload: Buffer;
}

export class IngestRouter {
  private readonly bySsrc = new Map<number, { kind: StreamKind; rtx: boolean }>();
  /** The media SSRC of each kind, learned from its first non-RTX packet. */
  private readonly mediaSsrc = new Map<StreamKind, number>();
  unroutable = 0;
  /** SSRC → layer of a simulcast video section (null: one video stream). */
  readonly rids: RidMap | null;

  constructor(private readonly plan: IngestPlan) {
    this.rids = plan.video?.simulcast ? new RidMap(plan.video.simulcast) : null;
    for (const s of plan.audio?.ssrcs ?? []) this.bySsrc.set(s, { kind: 'audio', rtx: false });
    // A video section's SSRC lines list media and RTX SSRCs; which is which is learned from
    // payload types (an FID group would say too, but not every client writes one).
  }

  route(pkt: RtpLike): RoutedPacket | null {
    const { header } = pkt;
    let kind = this.kindByMid(pkt) ?? this.bySsrc.get(header.ssrc)?.kind ?? this.kindOfPt(header.payloadType);
    if (!kind) {
      this.unroutable++;
      return null;
    }
    const video = this.plan.video;
    const rtx = kind === 'video' && video?.rtxPt !== null && header.payloadType === video?.rtxPt;
    if (!rtx && kind === 'video' && video && header.payloadType !== video.pt) return null;
    if (kind === 'audio' && header.payloadType !== this.plan.audio?.pt) return null;
    if (kind === 'video' && this.rids) return this.routeLayer(pkt, rtx);
    this.bySsrc.set(header.ssrc, { kind, rtx });
    if (!rtx) {
      if (!this.mediaSsrc.has(kind)) this.mediaSsrc.set(kind, header.ssrc);
      return { kind, ssrc: header.ssrc, sequenceNumber: header.sequenceNumber, payload: pkt.payload, retransmit: false, rid: null };
    }
    // RTX: the original sequence number leads the payload. Padding-only RTX (bandwidth probes) is empty.
    if (pkt.payload.length < 2) return null;
    const media = this.mediaSsrc.get('video');
    if (media === undefined) return null;
    return { kind, ssrc: media, sequenceNumber: pkt.payload.readUInt16BE(0), payload: pkt.payload.subarray(2), retransmit: true, rid: null };
  }

  /** A simulcast video packet: its layer by RID (or the SSRC a RID taught); RTX to its layer's media SSRC. */
  private routeLayer(pkt: RtpLike, rtx: boolean): RoutedPacket | null {
    const { header } = pkt;
    const layer = this.rids!.classify(header.ssrc, header.extensions);
    if (!layer) {
      this.unroutable++;
      return null;
    }
    this.bySsrc.set(header.ssrc, { kind: 'video', rtx });
    if (!rtx) {
      if (!this.mediaSsrc.has('video')) this.mediaSsrc.set('video', header.ssrc);
      return { kind: 'video', ssrc: header.ssrc, sequenceNumber: header.sequenceNumber, payload: pkt.payload, retransmit: false, rid: layer.rid };
    }
    const media = this.rids!.ssrcOf(layer.rid);
    if (pkt.payload.length < 2 || media === undefined) return null;
    return { kind: 'video', ssrc: media, sequenceNumber: pkt.payload.readUInt16BE(0), payload: pkt.payload.subarray(2), retransmit: true, rid: layer.rid };
  }

  /** The kind of a stream seen (or announced), by its SSRC. */
  kindOfSsrc(ssrc: number): StreamKind | null {
    return this.bySsrc.get(ssrc)?.kind ?? null;
  }

  ssrcOf(kind: StreamKind): number | undefined {
    return this.mediaSsrc.get(kind);
  }

  private kindByMid(pkt: RtpLike): StreamKind | null {
    for (const kind of ['audio', 'video'] as const) {
      const p = this.plan[kind];
      if (!p || !p.midExtId || p.mid === null) continue;
      const ext = pkt.header.extensions.find((e) => e.id === p.midExtId);
      if (ext && ext.payload.toString('utf8') === p.mid) return kind;
    }
    return null;
  }

  kindOfPt(pt: number): StreamKind | null {
    if (this.plan.video && (pt === this.plan.video.pt || pt === this.plan.video.rtxPt)) return 'video';
    if (this.plan.audio && pt === this.plan.audio.pt) return 'audio';
    return null;
  }
}
