// A publisher of pre-encoded media (fixtures.ts) over WebRTC (werift): it packetizes VP8
// (RFC 7741) and Opus and paces them, without encoding anything, so a hundred of them cost
// less than one real encoder. It records when each stamped frame and each beep left.
// `negotiate` is WHIP (POST the offer) or, for the direct-call floor, a local answerer.

import { MediaStreamTrack, RTCPeerConnection, RTCRtpCodecParameters, RtpHeader, RtpPacket } from 'werift';
import '../../workers/weriftDtlsFix.ts'; // werift's DTLS client survives a repeated HelloVerifyRequest
import { exchangeSdp } from '../../workers/clients/webrtc.ts';
import { FIXTURE_FPS } from './fixtures.ts';

const MAX_PAYLOAD = 1100;

export interface RtpPublisherOptions {
  video: Buffer[] | null;
  audio: Buffer[] | null;
  /** Offer → answer: WHIP, or a local peer. */
  negotiate: (offer: string) => Promise<string>;
  /** On a PLI, jump the loop to its next keyframe (a pre-encoded stream's way to answer one). */
  keyframeOnPli?: boolean;
}

export class RtpPublisher {
  readonly pc: RTCPeerConnection;
  private readonly videoTrack = new MediaStreamTrack({ kind: 'video' });
  private readonly audioTrack = new MediaStreamTrack({ kind: 'audio' });
  private timers: NodeJS.Timeout[] = [];
  private closed = false;
  /** Wall time (performance.now) at which loop frame i was last sent, by fixture index. */
  readonly frameSentAt = new Map<number, number>();
  /** Wall times at which a beep's first packet was sent. */
  readonly beepSentAt: number[] = [];
  /** Wall time each audio packet was sent, by RTP timestamp (the last 200). */
  readonly audioSentAt = new Map<number, number>();
  framesSent = 0;
  /** PLIs received from the server. */
  plisReceived = 0;
  /** Set by a PLI (keyframeOnPli): the next frame sent is the loop's next keyframe. */
  private keyframeWanted = false;
  location = '';
  /** The audio loop being sent (setAudio swaps it without a gap in the stream). */
  private audio: Buffer[] | null;

  private constructor(private readonly o: RtpPublisherOptions) {
    this.audio = o.audio;
    this.pc = new RTCPeerConnection({
      codecs: {
        video: [new RTCRtpCodecParameters({ mimeType: 'video/VP8', clockRate: 90000, payloadType: 96, rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }] })],
        audio: [new RTCRtpCodecParameters({ mimeType: 'audio/opus', clockRate: 48000, channels: 2, payloadType: 111 })],
      },
    });
  }

  static async start(o: RtpPublisherOptions): Promise<RtpPublisher> {
    const p = new RtpPublisher(o);
    try {
      if (o.audio) p.pc.addTransceiver(p.audioTrack, { direction: 'sendonly' });
      if (o.video) {
        const t = p.pc.addTransceiver(p.videoTrack, { direction: 'sendonly' });
        t.sender.onPictureLossIndication.subscribe(() => {
          p.plisReceived++;
          if (o.keyframeOnPli) p.keyframeWanted = true;
        });
      }
      await p.pc.setLocalDescription(await p.pc.createOffer());
      await new Promise<void>((resolve) => {
        if (p.pc.iceGatheringState === 'complete') return resolve();
        const t = setTimeout(resolve, 3000);
        p.pc.iceGatheringStateChange.subscribe((s) => s === 'complete' && (clearTimeout(t), resolve()));
      });
      await p.pc.setRemoteDescription({ type: 'answer', sdp: await o.negotiate(p.pc.localDescription!.sdp) });
      await new Promise<void>((resolve, reject) => {
        if (p.pc.connectionState === 'connected') return resolve();
        const t = setTimeout(() => reject(new Error('not connected within 10 s')), 10_000);
        p.pc.connectionStateChange.subscribe((s) => s === 'connected' && (clearTimeout(t), resolve()));
      });
      p.pace();
      return p;
    } catch (err) {
      await p.close();
      throw err;
    }
  }

  /** WHIP publish to `url`. */
  static async whip(url: string, video: Buffer[] | null, audio: Buffer[] | null, opts: { keyframeOnPli?: boolean } = {}): Promise<RtpPublisher> {
    let location = '';
    const p = await RtpPublisher.start({
      ...opts,
      video,
      audio,
      negotiate: async (offer) => {
        const r = await exchangeSdp(url, offer);
        location = r.location;
        return r.answer;
      },
    });
    p.location = location;
    return p;
  }

  /** Drift-free pacing from one start time: frame n at start + n/30 s, packet k at start + 20k ms. */
  private pace(): void {
    const start = performance.now();
    let n = 0;
    let k = 0;
    /** Loop frames skipped by keyframe jumps (the stream's timestamps go on from n). */
    let skip = 0;
    let seqV = 0;
    let seqA = 0;
    const video = this.o.video;
    const tick = () => {
      const audio = this.audio;
      if (this.closed) return;
      const now = performance.now();
      while (video && start + (n * 1000) / FIXTURE_FPS <= now) {
        if (this.keyframeWanted) {
          this.keyframeWanted = false;
          let j = (n + skip) % video.length;
          const from = j;
          while ((video[j][0] & 0x01) !== 0 && (j = (j + 1) % video.length) !== from) skip++;
        }
        const i = (n + skip) % video.length;
        const frame = video[i];
        const ts = (n * (90000 / FIXTURE_FPS)) >>> 0;
        for (let off = 0, first = true; off < frame.length; first = false) {
          const chunk = frame.subarray(off, off + MAX_PAYLOAD);
          off += chunk.length;
          const header = new RtpHeader({ payloadType: 96, sequenceNumber: seqV++ & 0xffff, timestamp: ts, marker: off >= frame.length });
          this.videoTrack.writeRtp(new RtpPacket(header, Buffer.concat([Buffer.from([first ? 0x10 : 0x00]), chunk])));
        }
        this.frameSentAt.set(i, performance.now());
        this.framesSent++;
        n++;
      }
      while (audio && start + k * 20 <= now) {
        const i = k % audio.length;
        const header = new RtpHeader({ payloadType: 111, sequenceNumber: seqA++ & 0xffff, timestamp: (k * 960) >>> 0, marker: false });
        this.audioTrack.writeRtp(new RtpPacket(header, audio[i]));
        this.audioSentAt.set(header.timestamp, performance.now());
        if (this.audioSentAt.size > 200) this.audioSentAt.delete(this.audioSentAt.keys().next().value!);
        if (i % 50 === 0) {
          this.beepSentAt.push(performance.now());
          if (this.beepSentAt.length > 200) this.beepSentAt.shift();
        }
        k++;
      }
      const next = Math.min(video ? start + (n * 1000) / FIXTURE_FPS : Infinity, this.audio ? start + k * 20 : Infinity);
      this.timers[0] = setTimeout(tick, Math.max(0, next - performance.now()));
    };
    tick();
  }

  /** Sends another audio loop from the next packet on (e.g. silence → talking). */
  setAudio(packets: Buffer[]): void {
    if (this.audio) this.audio = packets;
  }

  /** Stops sending; DELETEs the WHIP session; closes. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    if (this.location) await fetch(this.location, { method: 'DELETE' }).catch(() => {});
    await this.pc.close().catch(() => {});
  }
}
