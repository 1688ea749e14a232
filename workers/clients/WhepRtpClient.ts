// A WHEP subscriber at the RTP level (werift): it receives the mix without decoding it and hands
// each RTP packet to its caller. The recording worker remuxes those packets into a file; the
// tests and benchmarks count them. It offers one video codec (VP8 or H.264) and Opus.

import { EventEmitter } from 'node:events';
import { RTCPeerConnection, RTCRtpCodecParameters, RTCRtpHeaderExtensionParameters, type RtpPacket } from 'werift';
import '../weriftDtlsFix.ts'; // werift's DTLS client survives a repeated HelloVerifyRequest
import { exchangeSdp } from './sdpExchange.ts';
import { iceGathered } from '../iceGathering.ts';

const FB = [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'goog-remb' }];

export type VideoCodecName = 'VP8' | 'H264';

/** The payload types and parameters this client offers; a remuxer's SDP uses the same ones. */
export const WHEP_RTP_CODECS = {
  VP8: { payloadType: 96, mimeType: 'video/VP8', fmtp: '' },
  H264: { payloadType: 102, mimeType: 'video/H264', fmtp: 'profile-level-id=42e01f;packetization-mode=1;level-asymmetry-allowed=1' },
  opus: { payloadType: 111, mimeType: 'audio/opus', fmtp: 'minptime=10;useinbandfec=1' },
} as const;

export interface WhepRtpClientOptions {
  /** The WHEP endpoint, e.g. http://mcu:8080/rooms/demo/whep?level=720p */
  url: string;
  codec: VideoCodecName;
  /** Extra request headers (Authorization). */
  headers?: Record<string, string>;
  /** Video m-lines offered (default 1): N for individual tracks (?tracks=N); all emit 'video'. */
  videoLines?: number;
  /** RTP header extensions offered on the video (URIs; default none). */
  videoHeaderExtensions?: string[];
}

export interface WhepRtpClientEvents {
  video: [RtpPacket];
  audio: [RtpPacket];
  /** The connection failed or the server ended the session. */
  gone: [string];
}

/** When each step of the connection happened (Date.now(), 0: not yet): a recording's start breakdown. */
export interface WhepTimeline {
  created: number;
  offered: number;
  posted: number;
  answered: number;
  iceConnected: number;
  dtlsConnected: number;
  firstRtp: number;
}

export class WhepRtpClient extends EventEmitter<WhepRtpClientEvents> {
  readonly pc: RTCPeerConnection;
  readonly timeline: WhepTimeline = { created: Date.now(), offered: 0, posted: 0, answered: 0, iceConnected: 0, dtlsConnected: 0, firstRtp: 0 };
  location = '';
  answer = '';
  videoPackets = 0;
  audioPackets = 0;
  private videoSsrc = 0;
  private closing: Promise<void> | null = null;

  private constructor(private readonly opts: WhepRtpClientOptions) {
    super();
    const v = WHEP_RTP_CODECS[opts.codec];
    const a = WHEP_RTP_CODECS.opus;
    this.pc = new RTCPeerConnection({
      codecs: {
        video: [
          new RTCRtpCodecParameters({ mimeType: v.mimeType, clockRate: 90000, payloadType: v.payloadType, rtcpFeedback: FB, parameters: v.fmtp || undefined }),
        ],
        audio: [new RTCRtpCodecParameters({ mimeType: a.mimeType, clockRate: 48000, channels: 2, payloadType: a.payloadType, parameters: a.fmtp })],
      },
      headerExtensions: { audio: [], video: (opts.videoHeaderExtensions ?? []).map((uri) => new RTCRtpHeaderExtensionParameters({ uri })) },
    });
  }

  static async connect(opts: WhepRtpClientOptions): Promise<WhepRtpClient> {
    const c = new WhepRtpClient(opts);
    try {
      await c.negotiate();
      return c;
    } catch (err) {
      await c.pc.close().catch(() => {});
      throw err;
    }
  }

  private async negotiate(): Promise<void> {
    const { pc } = this;
    // Tracks (several video lines): audio first, as test/helpers/tracks-subscriber.ts offers them.
    const lines = this.opts.videoLines ?? 1;
    const early = lines > 1 ? pc.addTransceiver('audio', { direction: 'recvonly' }) : null;
    const vts = Array.from({ length: Math.max(1, lines) }, () => pc.addTransceiver('video', { direction: 'recvonly' }));
    const at = early ?? pc.addTransceiver('audio', { direction: 'recvonly' });
    for (const t of vts)
      t.onTrack.subscribe((track) =>
        track.onReceiveRtp.subscribe((rtp) => {
          if (!this.videoPackets) this.timeline.firstRtp = Date.now();
          this.videoPackets++;
          this.videoSsrc = rtp.header.ssrc;
          this.emit('video', rtp);
        }),
      );
    at.onTrack.subscribe((track) =>
      track.onReceiveRtp.subscribe((rtp) => {
        this.audioPackets++;
        this.emit('audio', rtp);
      }),
    );
    pc.iceConnectionStateChange.subscribe((state) => {
      if (state === 'connected' && !this.timeline.iceConnected) this.timeline.iceConnected = Date.now();
    });
    pc.connectionStateChange.subscribe((state) => {
      if (state === 'connected' && !this.timeline.dtlsConnected) this.timeline.dtlsConnected = Date.now();
      if ((state === 'failed' || state === 'closed') && !this.closing) this.emit('gone', `peer connection ${state}`);
    });
    await pc.setLocalDescription(await pc.createOffer());
    this.timeline.offered = Date.now();
    await iceGathered(pc, 3000);
    this.timeline.posted = Date.now();
    const { answer, location } = await exchangeSdp(this.opts.url, pc.localDescription!.sdp, this.opts.headers);
    this.timeline.answered = Date.now();
    this.answer = answer;
    this.location = location;
    await pc.setRemoteDescription({ type: 'answer', sdp: answer });
  }

  /** Asks the MCU for a keyframe on the rung this session watches. */
  requestKeyframe(): void {
    const t = this.pc.getTransceivers().find((x) => x.kind === 'video');
    if (t && this.videoSsrc) void t.receiver.sendRtcpPLI(this.videoSsrc).catch(() => {});
  }

  /** Ends the WHEP session (DELETE) and the peer connection. Idempotent. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closing = (async () => {
      if (this.location) {
        await fetch(this.location, { method: 'DELETE', headers: this.opts.headers, signal: AbortSignal.timeout(3000) }).catch(() => {});
      }
      await this.pc.close().catch(() => {});
      this.removeAllListeners();
    })();
    return this.closing;
  }
}
