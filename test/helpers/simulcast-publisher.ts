// A WHIP publisher of pre-encoded VP8 that sends simulcast as a browser does with
// `sendEncodings` (RIDs, one SSRC per layer, the MID and RID header extensions on every
// packet, `a=rid:X send` + `a=simulcast:send` in its offer) — werift's own sender cannot, so
// this one writes each layer's RTP itself on werift's DTLS transport. Each layer is its own
// picture (a colour of its own + a moving white box), so a decoded tile shows which layer the
// server decodes. On a PLI for a layer's SSRC that layer jumps to its loop's keyframe (its
// only one), as an encoder answers a keyframe request. With one layer and no RID it is a plain
// (non-simulcast) publisher of that loop. With `h264` it offers H.264 instead and sends each
// layer's access units (test/helpers/encoded.ts patternVideo; single NAL units and FU-A).

import fs from 'node:fs';
import path from 'node:path';
import { randomInt } from 'node:crypto';
import { MediaStreamTrack, RTCPeerConnection, RTCRtpCodecParameters, RtpHeader, useSdesMid, useSdesRTPStreamId, useRepairedRtpStreamId } from 'werift';
import '../../workers/weriftDtlsFix.ts'; // werift's DTLS client survives a repeated HelloVerifyRequest
import { FfmpegProcess } from '../../workers/ffmpeg/FfmpegProcess.ts';
import { parseIvf } from '../../pipeline/mixer/ivf.ts';
import { exchangeSdp } from '../../workers/clients/webrtc.ts';
import type { Rgb } from './media.ts';
import { h264Packets } from './encoded.ts';

function vp8Packets(frame: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let off = 0; off < frame.length; off += MTU) out.push(Buffer.concat([Buffer.from([off === 0 ? 0x10 : 0x00]), frame.subarray(off, off + MTU)]));
  return out;
}

const DIR = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../fixtures');
const MTU = 1100;
const PT_VP8 = 96;
const PT_H264 = 102;
/** An H.264 access unit holding an IDR slice (NAL type 5). */
const isIdr = (au: Buffer[]) => au.some((n) => (n[0] & 0x1f) === 5);
const FPS = 30;
const hex = (c: Rgb) => c.map((v) => v.toString(16).padStart(2, '0')).join('');

/**
 * `seconds` of VP8 at w x h: `colour` with a white box moving left to right at mid height; one
 * keyframe, at the start. A flat picture encodes far below `kbps` (a 720p layer at 1500k gives
 * ~50 kbit/s); `noise: true` adds temporal noise over it, so the layer takes about the bitrate
 * asked (what a link's capacity test needs) while its mean colour stays.
 */
export async function layerVideo(w: number, h: number, colour: Rgb, kbps: number, seconds = 4, noise = false): Promise<Buffer[]> {
  const frames = FPS * seconds;
  const file = path.join(DIR, `layer-${w}x${h}-${hex(colour)}-${kbps}k-${seconds}s${noise ? '-noise' : ''}.ivf`);
  if (!fs.existsSync(file)) {
    fs.mkdirSync(DIR, { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    const bw = Math.round(w / 8 / 2) * 2;
    const p = new FfmpegProcess('fixture-layer', {
      globalOptions: ['-hide_banner', '-nostats', '-loglevel', 'error', '-y'],
      inputs: [
        { url: `color=c=0x${hex(colour)}:s=${w}x${h}:r=${FPS}:d=${seconds}`, options: ['-f', 'lavfi'] },
        { url: `color=c=white:s=${bw}x${bw}:r=${FPS}:d=${seconds}`, options: ['-f', 'lavfi'] },
      ],
      filterComplex: `[0:v][1:v]overlay=x='mod(n*${Math.max(2, Math.round(w / 160))},W-w)':y=(H-h)/2,${noise ? 'noise=alls=12:allf=t,' : ''}format=yuv420p[v]`,
      outputs: [{
        url: tmp,
        options: ['-map', '[v]', '-frames:v', String(frames), '-c:v', 'libvpx', '-b:v', `${kbps}k`, '-g', String(frames), '-keyint_min', String(frames),
          '-deadline', 'realtime', '-cpu-used', '8', '-auto-alt-ref', '0', '-lag-in-frames', '0',
          // A noisy keyframe is otherwise 10× a second's worth: held to ~5 frames' worth, as a live encoder's would be.
          ...(noise ? ['-max-intra-rate', '500', '-maxrate', `${kbps}k`, '-bufsize', `${kbps}k`] : []), '-f', 'ivf'],
      }],
    });
    const exit = await p.exited;
    if (exit.code !== 0) throw new Error(`layer fixture: ${exit.stderrTail.join(' | ')}`);
    fs.renameSync(tmp, file);
  }
  return parseIvf(fs.readFileSync(file)).frames;
}

export interface Layer {
  /** null: a plain publisher (one layer, no simulcast lines). */
  rid: string | null;
  /** VP8 frames; for an H.264 publisher (`h264` option), each frame is an access unit's NAL units (patternVideo). */
  frames: Buffer[] | Buffer[][];
}

/** An H.264 publisher (instead of VP8): the fmtp it offers (profile-level-id, packetization-mode). */
export interface H264Codec {
  fmtp: string;
}

interface LayerState extends Layer {
  ssrc: number;
  seq: number;
  /** Index into the loop of the next frame. */
  index: number;
  keyframeWanted: boolean;
  plis: number;
  framesSent: number;
}

export class SimulcastPublisher {
  readonly pc: RTCPeerConnection;
  private readonly track = new MediaStreamTrack({ kind: 'video' });
  readonly layers: LayerState[];
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  location = '';
  participantId = '';
  offer = '';
  answer = '';

  private constructor(layers: Layer[], private readonly h264: H264Codec | null) {
    this.layers = layers.map((l) => ({ ...l, ssrc: randomInt(1, 0xffffffff), seq: randomInt(0, 0xffff), index: 0, keyframeWanted: false, plis: 0, framesSent: 0 }));
    const rtcpFeedback = [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }];
    this.pc = new RTCPeerConnection({
      codecs: {
        video: [new RTCRtpCodecParameters(h264
          ? { mimeType: 'video/H264', clockRate: 90000, payloadType: PT_H264, rtcpFeedback, parameters: h264.fmtp }
          : { mimeType: 'video/VP8', clockRate: 90000, payloadType: PT_VP8, rtcpFeedback })],
      },
      headerExtensions: { video: [useSdesMid(), useSdesRTPStreamId(), useRepairedRtpStreamId()] },
    });
  }

  get simulcast(): boolean {
    return this.layers.some((l) => l.rid !== null);
  }

  layer(rid: string | null): LayerState {
    return this.layers.find((l) => l.rid === rid)!;
  }

  static async whip(url: string, layers: Layer[], h264: H264Codec | null = null): Promise<SimulcastPublisher> {
    const p = new SimulcastPublisher(layers, h264);
    try {
      await p.connect(url);
    } catch (err) {
      await p.close();
      throw err;
    }
    return p;
  }

  private async connect(url: string): Promise<void> {
    const t = this.pc.addTransceiver(this.track, { direction: 'sendonly' });
    await this.pc.setLocalDescription(await this.pc.createOffer());
    await new Promise<void>((resolve) => {
      if (this.pc.iceGatheringState === 'complete') return resolve();
      const timer = setTimeout(resolve, 3000);
      this.pc.iceGatheringStateChange.subscribe((s) => s === 'complete' && (clearTimeout(timer), resolve()));
    });
    let offer = this.pc.localDescription!.sdp;
    if (this.simulcast) {
      // As Chromium writes it: one a=rid per layer and the simulcast line, at the end of the video section.
      const rids = this.layers.map((l) => l.rid!);
      // Chromium names no SSRCs for RID simulcast: the layers' SSRCs are learned from the RID extension.
      offer = offer.replace(/a=ssrc(-group)?:[^\r\n]*\r\n/g, '');
      offer = `${offer.replace(/\r\n$/, '')}\r\n${rids.map((r) => `a=rid:${r} send`).join('\r\n')}\r\na=simulcast:send ${rids.join(';')}\r\n`;
    } else {
      offer = offer.replace(/a=extmap:\d+ urn:ietf:params:rtp-hdrext:sdes:(rtp-stream-id|repaired-rtp-stream-id)\r\n/g, '');
    }
    this.offer = offer;
    const { answer, location } = await exchangeSdp(url, offer);
    this.answer = answer;
    this.location = location;
    this.participantId = location.split('/').pop()!;
    await this.pc.setRemoteDescription({ type: 'answer', sdp: answer });
    await new Promise<void>((resolve, reject) => {
      if (this.pc.connectionState === 'connected') return resolve();
      const timer = setTimeout(() => reject(new Error('not connected within 10 s')), 10_000);
      this.pc.connectionStateChange.subscribe((s) => s === 'connected' && (clearTimeout(timer), resolve()));
    });
    const dtls: any = (t as any).dtlsTransport ?? (t.sender as any).dtlsTransport;
    const extId = (uri: string) => Number(new RegExp(`a=extmap:(\\d+)(?:/\\w+)? ${uri}`).exec(answer)?.[1] ?? 0);
    const midId = extId('urn:ietf:params:rtp-hdrext:sdes:mid');
    const ridId = extId('urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id');
    if (this.simulcast && !ridId) throw new Error('the answer did not take the RID extension');
    const mid = t.mid!;
    dtls.onRtcp.subscribe((rtcp: any) => {
      const media = rtcp?.type === 206 && rtcp.feedback?.count === 1 ? rtcp.feedback.mediaSsrc : null;
      const l = this.layers.find((x) => x.ssrc === media);
      if (!l) return;
      l.plis++;
      l.keyframeWanted = true;
    });
    this.pace(dtls, midId, ridId, mid);
  }

  /** Every layer's frame n at start + n/30 s, all layers with the same RTP timestamp (one capture). */
  private pace(dtls: any, midId: number, ridId: number, mid: string): void {
    const start = performance.now();
    let n = 0;
    const tick = () => {
      if (this.closed) return;
      const now = performance.now();
      while (start + (n * 1000) / FPS <= now) {
        const ts = (n * (90000 / FPS)) >>> 0;
        for (const l of this.layers) this.sendFrame(dtls, l, ts, midId, ridId, mid);
        n++;
      }
      this.timer = setTimeout(tick, Math.max(0, start + (n * 1000) / FPS - performance.now()));
    };
    tick();
  }

  private sendFrame(dtls: any, l: LayerState, ts: number, midId: number, ridId: number, mid: string): void {
    if (l.keyframeWanted) {
      l.keyframeWanted = false;
      l.index = this.h264 ? (l.frames as Buffer[][]).findIndex(isIdr) : (l.frames as Buffer[]).findIndex((f) => (f[0] & 0x01) === 0);
    }
    const frame = l.frames[l.index % l.frames.length];
    l.index = (l.index + 1) % l.frames.length;
    const extensions = [
      ...(midId ? [{ id: midId, payload: Buffer.from(mid) }] : []),
      ...(ridId && l.rid ? [{ id: ridId, payload: Buffer.from(l.rid) }] : []),
    ];
    const payloads = this.h264 ? h264Packets(frame as Buffer[], Number(/packetization-mode=(\d)/.exec(this.h264.fmtp)?.[1] ?? 1) as 0 | 1) : vp8Packets(frame as Buffer);
    payloads.forEach((payload, i) => {
      const header = new RtpHeader({ payloadType: this.h264 ? PT_H264 : PT_VP8, sequenceNumber: l.seq, timestamp: ts, marker: i === payloads.length - 1, ssrc: l.ssrc, extensions, extension: extensions.length > 0, extensionProfile: 0xbede });
      l.seq = (l.seq + 1) & 0xffff;
      void dtls.sendRtp(payload, header);
    });
    l.framesSent++;
  }

  /** Stops sending; DELETEs the WHIP session; closes. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.location) await fetch(this.location, { method: 'DELETE' }).catch(() => {});
    await this.pc.close().catch(() => {});
  }
}
