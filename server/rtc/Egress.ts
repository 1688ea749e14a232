// One subscriber's peer connection (werift, RTP level): answers the WHEP offer and forwards
// already-encoded RTP of the mix. Nothing is decoded or encoded per subscriber, so adding one
// costs a copy, a header rewrite and SRTP per packet.

import { EventEmitter } from 'node:events';
import { MediaStreamTrack, RTCPeerConnection, RTCRtpCodecParameters } from 'werift';
import { ContinuousStream } from '../../pipeline/rtp/Continuity.ts';

const FEEDBACK = [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }, { type: 'goog-remb' }];

export interface EgressEvents {
  keyframeRequest: [];
  gone: [string];
}

/** One outgoing track: continuity across source switches, gated on a first keyframe for video. */
export class ForwardedTrack {
  readonly track: MediaStreamTrack;
  private readonly stream: ContinuousStream;
  packets = 0;
  bytes = 0;
  /** Frames forwarded (RTP marker bit ends a video frame). */
  frames = 0;
  firstPacketAt = 0;
  sender: any = null;
  /** Interarrival jitter the subscriber last reported for this track, ms. */
  remoteJitterMs: number | null = null;
  /** The subscriber's receiver reports for this track: cumulative lost, extended highest seq. */
  private readonly reports: Array<{ at: number; lost: number; highest: number }> = [];

  onReceiverReport(report: { packetsLost: number; highestSequence: number; jitter: number }, clockRate: number): void {
    this.remoteJitterMs = (report.jitter / clockRate) * 1000;
    const now = performance.now();
    this.reports.push({ at: now, lost: report.packetsLost, highest: report.highestSequence });
    while (this.reports.length > 2 && now - this.reports[1].at > 3000) this.reports.shift();
  }

  /** Forget earlier reports: after a rung switch they describe another stream. */
  resetFeedback(): void {
    this.reports.length = 0;
  }

  /**
   * Loss over the last few seconds of receiver reports (Δlost / Δexpected), which is steadier
   * than one report's "fraction lost": libwebrtc reports every second or so, and NACK repairs
   * make single intervals swing between 0 and 100 %.
   */
  private windowLossPercent(): number | null {
    if (this.reports.length < 2) return null;
    const a = this.reports[0];
    const b = this.reports[this.reports.length - 1];
    const expected = b.highest - a.highest;
    if (expected <= 0) return null;
    return Math.max(0, Math.min(100, (100 * (b.lost - a.lost)) / expected));
  }

  /** Video codec of this track ('vp8' | 'h264'); decides how keyframes are recognised. */
  get codec(): 'vp8' | 'h264' {
    return this.stream.codec;
  }
  set codec(c: 'vp8' | 'h264') {
    this.stream.codec = c;
  }

  constructor(readonly kind: 'audio' | 'video') {
    this.track = new MediaStreamTrack({ kind });
    this.stream = new ContinuousStream(kind);
  }

  forward(source: string, packet: Buffer): boolean {
    const copy = this.stream.next(source, packet, performance.now());
    if (!copy) return false;
    this.track.writeRtp(copy);
    this.packets++;
    this.bytes += copy.length;
    if (copy[1] & 0x80) this.frames++;
    if (!this.firstPacketAt) this.firstPacketAt = Date.now();
    return true;
  }

  isKeyframeStart(packet: Buffer): boolean {
    return this.stream.isKeyframeStart(packet);
  }

  /** What the subscriber's RTCP says of this track: loss, RTT, bandwidth estimate. */
  feedback(): { lossPercent: number; rttMs: number | null; estimateKbps: number | null } {
    const s = this.sender;
    return {
      lossPercent: this.windowLossPercent() ?? 0,
      rttMs: typeof s?.rtt === 'number' ? s.rtt * 1000 : null,
      estimateKbps: s?.receiverEstimatedMaxBitrate ? Number(s.receiverEstimatedMaxBitrate) / 1000 : null,
    };
  }

  get needsKeyframe(): boolean {
    return this.stream.needsKeyframe;
  }
}

export class Egress extends EventEmitter<EgressEvents> {
  readonly video: ForwardedTrack | null;
  readonly audio: ForwardedTrack | null;
  private _closed = false;

  private constructor(readonly pc: RTCPeerConnection, wantsAudio: boolean, wantsVideo: boolean) {
    super();
    this.video = wantsVideo ? new ForwardedTrack('video') : null;
    this.audio = wantsAudio ? new ForwardedTrack('audio') : null;
    pc.connectionStateChange.subscribe((state) => {
      if (state === 'failed' || state === 'closed') this.emit('gone', `connection ${state}`);
    });
  }

  static async answer(
    offer: string,
    wants: { audio: boolean; video: boolean; videoCodec?: string | null },
    iceServers: Array<{ urls: string; username?: string; credential?: string }> = [],
  ): Promise<{ egress: Egress; answer: string }> {
    const pc = new RTCPeerConnection({
      iceServers,
      codecs: {
        audio: [new RTCRtpCodecParameters({ mimeType: 'audio/opus', clockRate: 48000, channels: 2 })],
        // Offer exactly the codec the subscriber gets, so the answer cannot pick another.
        video: [
          wants.videoCodec === 'H264'
            ? new RTCRtpCodecParameters({
                mimeType: 'video/H264',
                clockRate: 90000,
                rtcpFeedback: FEEDBACK,
                parameters: 'profile-level-id=42e01f;packetization-mode=1;level-asymmetry-allowed=1',
              })
            : new RTCRtpCodecParameters({ mimeType: 'video/VP8', clockRate: 90000, rtcpFeedback: FEEDBACK }),
        ],
      },
    });
    const egress = new Egress(pc, wants.audio, wants.video);
    if (egress.video) egress.video.codec = wants.videoCodec === 'H264' ? 'h264' : 'vp8';
    try {
      await pc.setRemoteDescription({ type: 'offer', sdp: offer });
      let videoBound = false;
      let audioBound = false;
      for (const t of pc.getTransceivers()) {
        const fwd = t.kind === 'video' && !videoBound ? egress.video : t.kind === 'audio' && !audioBound ? egress.audio : null;
        if (!fwd) {
          t.setDirection('inactive');
          continue;
        }
        if (t.kind === 'video') videoBound = true;
        else audioBound = true;
        t.setDirection('sendonly');
        await t.sender.replaceTrack(fwd.track);
        fwd.sender = t.sender;
        const clockRate = t.kind === 'video' ? 90000 : 48000;
        t.sender.onRtcp.subscribe((rtcp: any) => {
          for (const report of rtcp.reports ?? []) {
            if (report.ssrc === t.sender.ssrc && typeof report.jitter === 'number') fwd.onReceiverReport(report, clockRate);
          }
        });

      }
      await pc.setLocalDescription(await pc.createAnswer());
      // PLI / FIR. Read off the transport rather than werift's per-sender PLI event: werift
      // routes feedback by the sender SSRC first, which misses when the client's offer
      // announced SSRCs of its own.
      const videoSender = pc.getTransceivers().find((t) => t.kind === 'video' && egress.video?.sender === t.sender)?.sender;
      videoSender?.dtlsTransport.onRtcp.subscribe((p: any) => {
        if (p.type !== 206 || !p.feedback) return;
        const fmt = p.feedback.count;
        if ((fmt === 1 && p.feedback.mediaSsrc === videoSender.ssrc) || fmt === 4) egress.emit('keyframeRequest');
      });
      await waitForWeriftGathering(pc, 2000);
      return { egress, answer: pc.localDescription!.sdp };
    } catch (err) {
      await egress.close();
      throw err;
    }
  }

  get closed(): boolean {
    return this._closed;
  }

  async close(): Promise<void> {
    if (this._closed) return;
    this._closed = true;
    this.removeAllListeners();
    try {
      await this.pc.close();
    } catch {
      /* already closed */
    }
  }
}

async function waitForWeriftGathering(pc: RTCPeerConnection, timeoutMs: number): Promise<void> {
  if (pc.iceGatheringState === 'complete') return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      sub.unSubscribe();
      resolve();
    }, timeoutMs);
    const sub = pc.iceGatheringStateChange.subscribe((state) => {
      if (state === 'complete') {
        clearTimeout(timer);
        sub.unSubscribe();
        resolve();
      }
    });
  });
}
