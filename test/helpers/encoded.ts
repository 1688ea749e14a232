// Test publishers of pre-encoded media, as other clients send it: a werift peer connection
// that offers exactly one video codec (VP8, or H.264 with a chosen profile and
// packetization-mode) + Opus, packetizes FFmpeg-encoded frames itself (RFC 7741 / RFC 6184:
// single NAL, STAP-A, FU-A) and can trickle its candidates by PATCH (RFC 9725) instead of
// putting them in the offer. The picture is a recognisable pattern: left half one colour,
// right half another.

import fs from 'node:fs';
import path from 'node:path';
import { MediaStreamTrack, RTCPeerConnection, RTCRtpCodecParameters, RtpHeader, RtpPacket, useSdesMid, useTransportWideCC } from 'werift';
import '../../workers/weriftDtlsFix.ts'; // werift's DTLS client survives a repeated HelloVerifyRequest
import { FfmpegProcess } from '../../workers/ffmpeg/FfmpegProcess.ts';
import { parseIvf } from '../../pipeline/mixer/ivf.ts';
import { annexBNals } from '../../pipeline/rtp/depacketize.ts';
import { audioFixture } from '../../bench/lib/fixtures.ts';
import type { Rgb } from '../../workers/clients/webrtc.ts';

const DIR = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../fixtures');
const MTU = 1100;

export type H264Variant = { profile: 'baseline' | 'high'; mode: 0 | 1 };
export interface EncodedVideo {
  codec: 'vp8' | 'h264';
  /** One entry per frame: VP8 frame, or the NAL units of an H.264 access unit. */
  frames: Buffer[][];
  fmtp: string;
}

const hex = (c: Rgb) => c.map((v) => v.toString(16).padStart(2, '0')).join('');

/** `seconds` of a two-colour picture (left `a`, right `b`) at `w`x`h`, 30 fps, a keyframe at its start. */
export async function patternVideo(w: number, h: number, a: Rgb, b: Rgb, h264?: H264Variant, seconds = 2): Promise<EncodedVideo> {
  const frames = 30 * seconds;
  const tag = h264 ? `h264-${h264.profile}-m${h264.mode}` : 'vp8';
  const file = path.join(DIR, `pattern-${w}x${h}-${hex(a)}-${hex(b)}-${tag}.${h264 ? 'h264' : 'ivf'}`);
  if (!fs.existsSync(file)) {
    fs.mkdirSync(DIR, { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    // drawbox, not hstack of two halves: odd half widths would not survive yuv420p.
    const picture = `color=c=0x${hex(a)}:s=${w}x${h}:r=30:d=${seconds}`;
    const enc = h264
      ? ['-c:v', 'libx264', '-profile:v', h264.profile, '-preset', 'veryfast', '-tune', 'zerolatency', '-g', String(frames), '-bsf:v', 'h264_mp4toannexb',
        ...(h264.mode === 0 ? ['-x264-params', `slice-max-size=${MTU}`] : []), '-f', 'h264']
      : ['-c:v', 'libvpx', '-b:v', '800k', '-g', String(frames), '-deadline', 'realtime', '-cpu-used', '8', '-auto-alt-ref', '0', '-f', 'ivf'];
    const p = new FfmpegProcess('fixture-pattern', {
      globalOptions: ['-hide_banner', '-nostats', '-loglevel', 'error', '-y'],
      inputs: [{ url: picture, options: ['-f', 'lavfi'] }],
      filterComplex: `[0:v]format=yuv420p,drawbox=x=${Math.floor(w / 2)}:y=0:w=${w - Math.floor(w / 2)}:h=${h}:color=0x${hex(b)}:t=fill[v]`,
      outputs: [{ url: tmp, options: ['-map', '[v]', '-frames:v', String(frames), ...enc] }],
    });
    const exit = await p.exited;
    if (exit.code !== 0) throw new Error(`pattern fixture: ${exit.stderrTail.join(' | ')}`);
    fs.renameSync(tmp, file);
  }
  const data = fs.readFileSync(file);
  if (!h264) return { codec: 'vp8', frames: parseIvf(data).frames.map((f) => [f]), fmtp: '' };
  // Access units: a new one starts at each slice whose first_mb_in_slice is 0 (or at SPS/AUD).
  const aus: Buffer[][] = [];
  for (const nal of annexBNals(data)) {
    const type = nal[0] & 0x1f;
    const firstMb0 = (type === 1 || type === 5) && (nal[1] & 0x80) !== 0;
    const startsAu = type === 9 || type === 7 || (firstMb0 && !(aus.length && aus[aus.length - 1].every((n) => [7, 8, 6, 9].includes(n[0] & 0x1f))));
    if (startsAu || !aus.length) aus.push([]);
    aus[aus.length - 1].push(nal);
  }
  const profileLevel = h264.profile === 'baseline' ? '42e01f' : '640c1f';
  return { codec: 'h264', frames: aus, fmtp: `profile-level-id=${profileLevel};packetization-mode=${h264.mode};level-asymmetry-allowed=1` };
}

export function h264Packets(nals: Buffer[], mode: 0 | 1): Buffer[] {
  const out: Buffer[] = [];
  for (const nal of nals) {
    if (nal.length <= MTU || mode === 0) {
      out.push(nal);
      continue;
    }
    const header = nal[0];
    const body = nal.subarray(1);
    for (let off = 0; off < body.length; off += MTU) {
      const start = off === 0;
      const end = off + MTU >= body.length;
      out.push(Buffer.concat([Buffer.from([(header & 0xe0) | 28, (start ? 0x80 : 0) | (end ? 0x40 : 0) | (header & 0x1f)]), body.subarray(off, off + MTU)]));
    }
  }
  return out;
}

function vp8Packets(frame: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let off = 0; off < frame.length; off += MTU) out.push(Buffer.concat([Buffer.from([off === 0 ? 0x10 : 0x00]), frame.subarray(off, off + MTU)]));
  return out;
}

export interface EncodedPublisherOptions {
  whipUrl: string;
  video: EncodedVideo | null;
  audio?: boolean;
  /** POST the offer without candidates, then PATCH them (trickle ICE). */
  trickle?: boolean;
}

export class EncodedPublisher {
  readonly pc: RTCPeerConnection;
  private readonly vt = new MediaStreamTrack({ kind: 'video' });
  private readonly at = new MediaStreamTrack({ kind: 'audio' });
  private timer: NodeJS.Timeout | null = null;
  private video: EncodedVideo | null;
  private closed = false;
  location = '';
  etag = '';
  participantId = '';
  patches: number[] = [];
  framesSent = 0;

  private constructor(private readonly o: EncodedPublisherOptions) {
    this.video = o.video;
    const fb = [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'transport-cc' }];
    this.pc = new RTCPeerConnection({
      codecs: {
        video: o.video
          ? [new RTCRtpCodecParameters(o.video.codec === 'h264'
            ? { mimeType: 'video/H264', clockRate: 90000, payloadType: 102, rtcpFeedback: fb, parameters: o.video.fmtp }
            : { mimeType: 'video/VP8', clockRate: 90000, payloadType: 96, rtcpFeedback: fb })]
          : [],
        audio: [new RTCRtpCodecParameters({ mimeType: 'audio/opus', clockRate: 48000, channels: 2, payloadType: 111 })],
      },
      headerExtensions: { video: [useSdesMid(), useTransportWideCC()], audio: [useSdesMid(), useTransportWideCC()] },
    });
  }

  static async start(o: EncodedPublisherOptions): Promise<EncodedPublisher> {
    const p = new EncodedPublisher(o);
    try {
      await p.connect();
    } catch (err) {
      await p.close();
      throw err;
    }
    return p;
  }

  private async connect(): Promise<void> {
    if (this.o.audio !== false) this.pc.addTransceiver(this.at, { direction: 'sendonly' });
    if (this.video) this.pc.addTransceiver(this.vt, { direction: 'sendonly' });
    await this.pc.setLocalDescription(await this.pc.createOffer());
    const gathered = new Promise<void>((resolve) => {
      if (this.pc.iceGatheringState === 'complete') return resolve();
      const t = setTimeout(resolve, 3000);
      this.pc.iceGatheringStateChange.subscribe((s) => s === 'complete' && (clearTimeout(t), resolve()));
    });
    let offer = this.pc.localDescription!.sdp;
    if (!this.o.trickle) {
      await gathered;
      offer = this.pc.localDescription!.sdp;
    }
    offer = offer.split('\r\n').filter((l) => !(this.o.trickle && (l.startsWith('a=candidate:') || l === 'a=end-of-candidates'))).join('\r\n');
    const res = await fetch(this.o.whipUrl, { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: offer });
    const answer = await res.text();
    if (res.status !== 201) throw new Error(`WHIP ${res.status}: ${answer.slice(0, 300)}`);
    this.location = new URL(res.headers.get('Location')!, this.o.whipUrl).toString();
    this.participantId = this.location.split('/').pop()!;
    this.etag = res.headers.get('ETag') ?? '';
    await this.pc.setRemoteDescription({ type: 'answer', sdp: answer });
    if (this.o.trickle) {
      await gathered;
      const sdp = this.pc.localDescription!.sdp;
      const ufrag = /a=ice-ufrag:(\S+)/.exec(sdp)![1];
      const mid = /a=mid:(\S+)/.exec(sdp)![1];
      const cands = sdp.split('\r\n').filter((l) => l.startsWith('a=candidate:'));
      const frag = [`a=ice-ufrag:${ufrag}`, `m=${this.o.audio !== false ? 'audio' : 'video'} 9 UDP/TLS/RTP/SAVPF 0`, `a=mid:${mid}`, ...cands, 'a=end-of-candidates', ''].join('\r\n');
      const patch = await fetch(this.location, { method: 'PATCH', headers: { 'Content-Type': 'application/trickle-ice-sdpfrag', 'If-Match': this.etag }, body: frag });
      this.patches.push(patch.status);
    }
    await new Promise<void>((resolve, reject) => {
      if (this.pc.connectionState === 'connected') return resolve();
      const t = setTimeout(() => reject(new Error('not connected within 10 s')), 10_000);
      this.pc.connectionStateChange.subscribe((s) => s === 'connected' && (clearTimeout(t), resolve()));
    });
    await this.pace();
  }

  /** Sends another picture from its next frame on (its first frame is a keyframe). */
  setVideo(v: EncodedVideo): void {
    this.video = v;
    this.videoIndex = 0;
  }

  private videoIndex = 0;

  private async pace(): Promise<void> {
    const audio = this.o.audio !== false ? await audioFixture('tone') : null;
    const start = performance.now();
    let n = 0;
    let k = 0;
    let seqV = 1000;
    let seqA = 1;
    const tick = () => {
      if (this.closed) return;
      const now = performance.now();
      while (this.video && start + (n * 1000) / 30 <= now) {
        const v = this.video;
        const frame = v.frames[this.videoIndex % v.frames.length];
        this.videoIndex++;
        const payloads = v.codec === 'h264' ? h264Packets(frame, Number(/packetization-mode=(\d)/.exec(v.fmtp)?.[1] ?? 1) as 0 | 1) : vp8Packets(frame[0]);
        const ts = (n * 3000) >>> 0;
        payloads.forEach((payload, i) => {
          const header = new RtpHeader({ payloadType: v.codec === 'h264' ? 102 : 96, sequenceNumber: seqV++ & 0xffff, timestamp: ts, marker: i === payloads.length - 1 });
          this.vt.writeRtp(new RtpPacket(header, payload));
        });
        this.framesSent++;
        n++;
      }
      while (audio && start + k * 20 <= now) {
        const header = new RtpHeader({ payloadType: 111, sequenceNumber: seqA++ & 0xffff, timestamp: (k * 960) >>> 0, marker: false });
        this.at.writeRtp(new RtpPacket(header, audio[k % audio.length]));
        k++;
      }
      this.timer = setTimeout(tick, 5);
    };
    tick();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.location) await fetch(this.location, { method: 'DELETE' }).catch(() => {});
    await this.pc.close().catch(() => {});
  }
}
