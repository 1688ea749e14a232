// An edge's WHEP session on the room's owner, at the RTP level (werift, recvonly, nothing
// decoded): it offers one video codec and Opus, hands each RTP packet to its listeners, sends
// PLIs upstream on request, and DELETEs the session when closed. Its sockets use this node's
// ICE settings (port range), like the node's other peer connections.

import { EventEmitter } from 'node:events';
import { RTCPeerConnection, RTCRtpCodecParameters, type RtpPacket } from 'werift';
import '../../workers/weriftDtlsFix.ts'; // werift's DTLS client survives a repeated HelloVerifyRequest
import { HOST_NETWORK, peerNetworkConfig, type IceNetwork } from '../rtc/network.ts';
import { iceGathered } from '../../workers/iceGathering.ts';

const FB = [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'goog-remb' }];
const CODECS = {
  VP8: { mimeType: 'video/VP8', fmtp: undefined },
  H264: { mimeType: 'video/H264', fmtp: 'profile-level-id=42e01f;packetization-mode=1;level-asymmetry-allowed=1' },
} as const;
const SDP_TIMEOUT_MS = 15_000;

export interface WhepPullEvents {
  video: [RtpPacket];
  audio: [RtpPacket];
  /** The peer connection failed or closed (not on close()). */
  gone: [string];
}

export class WhepPull extends EventEmitter<WhepPullEvents> {
  readonly pc: RTCPeerConnection;
  /** The session on the owner (absolute). */
  location = '';
  private videoSsrc = 0;
  private closing: Promise<void> | null = null;

  private constructor(private readonly headers: Record<string, string>, codec: 'VP8' | 'H264', net: IceNetwork) {
    super();
    const v = CODECS[codec];
    this.pc = new RTCPeerConnection({
      ...peerNetworkConfig(net),
      codecs: {
        video: [new RTCRtpCodecParameters({ mimeType: v.mimeType, clockRate: 90000, rtcpFeedback: FB, parameters: v.fmtp })],
        audio: [new RTCRtpCodecParameters({ mimeType: 'audio/opus', clockRate: 48000, channels: 2 })],
      },
    });
  }

  /** POSTs the offer to `url` (the owner's WHEP endpoint) and connects. */
  static async connect(url: string, codec: 'VP8' | 'H264', headers: Record<string, string>, net: IceNetwork = HOST_NETWORK): Promise<WhepPull> {
    const p = new WhepPull(headers, codec, net);
    try {
      await p.negotiate(url);
      return p;
    } catch (err) {
      await p.close();
      throw err;
    }
  }

  private async negotiate(url: string): Promise<void> {
    const { pc } = this;
    const vt = pc.addTransceiver('video', { direction: 'recvonly' });
    const at = pc.addTransceiver('audio', { direction: 'recvonly' });
    vt.onTrack.subscribe((track) =>
      track.onReceiveRtp.subscribe((rtp) => {
        this.videoSsrc = rtp.header.ssrc;
        this.emit('video', rtp);
      }),
    );
    at.onTrack.subscribe((track) => track.onReceiveRtp.subscribe((rtp) => this.emit('audio', rtp)));
    pc.connectionStateChange.subscribe((state) => {
      if ((state === 'failed' || state === 'closed') && !this.closing) this.emit('gone', `peer connection ${state}`);
    });
    await pc.setLocalDescription(await pc.createOffer());
    await iceGathered(pc, 3000);
    const res = await fetch(url, {
      method: 'POST',
      headers: { ...this.headers, 'Content-Type': 'application/sdp' },
      body: pc.localDescription!.sdp,
      signal: AbortSignal.timeout(SDP_TIMEOUT_MS),
    });
    const body = await res.text();
    if (res.status !== 201) throw new Error(`the owner answered ${res.status}: ${body.slice(0, 300)}`);
    const location = res.headers.get('Location');
    if (!location) throw new Error('the owner answered 201 without a Location');
    this.location = new URL(location, url).toString();
    await pc.setRemoteDescription({ type: 'answer', sdp: body });
  }

  /** A PLI for the rung this session watches. */
  requestKeyframe(): void {
    const t = this.pc.getTransceivers().find((x) => x.kind === 'video');
    if (t && this.videoSsrc) void t.receiver.sendRtcpPLI(this.videoSsrc).catch(() => {});
  }

  /** Ends the session on the owner (DELETE, best effort) and the peer connection. Idempotent. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closing = (async () => {
      if (this.location) {
        await fetch(this.location, { method: 'DELETE', headers: this.headers, signal: AbortSignal.timeout(3000) }).catch(() => {});
      }
      await this.pc.close().catch(() => {});
      this.removeAllListeners();
    })();
    return this.closing;
  }
}
