// Runs an FFmpeg that reads RTP from loopback UDP (described by an SDP file) and writes it out
// with `-c copy` (recording parts, HLS, RTMP). The caller feeds packets with video()/audio().
// FFmpeg is started before the first packet is sent; listening() says when its sockets are bound.

import dgram from 'node:dgram';
import fs from 'node:fs';
import path from 'node:path';
import { FfmpegProcess, type FfmpegExit, type FfmpegOptions } from '../ffmpeg/FfmpegProcess.ts';
import { rtpSdp, type RemuxInput, type VideoCodecName } from '../../pipeline/media/remux.ts';
import { MIX_RTP_PT, type FfmpegSpec } from '../../pipeline/mixer/graph.ts';
import { makeTempDir } from '../tmp.ts';
import { udpPortsOf } from '../proc.ts';

/** Two adjacent free UDP ports (RTP and its RTCP), the first even. */
async function freePortPair(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + 2 * Math.floor(Math.random() * 20_000);
    const socks: dgram.Socket[] = [];
    try {
      for (const p of [base, base + 1]) {
        const s = dgram.createSocket('udp4');
        socks.push(s);
        await new Promise<void>((resolve, reject) => {
          s.once('error', reject);
          s.bind(p, '127.0.0.1', () => resolve());
        });
      }
      return base;
    } catch {
      /* taken: try another */
    } finally {
      for (const s of socks) s.close();
    }
  }
  throw new Error('no free UDP port pair on 127.0.0.1');
}

export interface RtpRemuxOptions {
  name: string;
  videoCodec: VideoCodecName;
  videoPayloadType: number;
  videoFmtp?: string;
  /** How many video streams (rungs) the SDP carries. */
  videoStreams?: number;
  audioPayloadType: number;
  audioFmtp?: string;
  /** The FFmpeg spec, given the SDP file's path. */
  spec: (sdpPath: string) => FfmpegSpec;
  /** Options for the FFmpeg process (its logger, stderr redaction). */
  ffmpeg?: FfmpegOptions;
}

export class RtpRemux {
  readonly ffmpeg: FfmpegProcess;
  private readonly sock = dgram.createSocket('udp4');
  private closed = false;
  private stopping = false;
  /** The last audio packet's header fields, to continue the stream with silence on close. */
  private lastAudio: { pt: number; seq: number; ts: number; ssrc: number } | null = null;
  private lastSendAt = 0;

  private constructor(
    private readonly dir: string,
    private readonly videoPorts: number[],
    private readonly audioPort: number,
    spec: FfmpegSpec,
    name: string,
    ffmpegOptions: FfmpegOptions = {},
  ) {
    this.sock.on('error', () => {});
    this.ffmpeg = new FfmpegProcess(name, spec, ffmpegOptions);
  }

  static async start(o: RtpRemuxOptions): Promise<RtpRemux> {
    const n = o.videoStreams ?? 1;
    const videoPorts: number[] = [];
    for (let i = 0; i < n; i++) videoPorts.push(await freePortPair());
    const audioPort = await freePortPair();
    const input: RemuxInput = {
      video: videoPorts.map((port) => ({ port, payloadType: o.videoPayloadType, codec: o.videoCodec, fmtp: o.videoFmtp })),
      audio: { port: audioPort, payloadType: o.audioPayloadType, fmtp: o.audioFmtp },
    };
    const dir = makeTempDir('remux');
    const sdpPath = path.join(dir, 'in.sdp');
    fs.writeFileSync(sdpPath, rtpSdp(input));
    let spec: FfmpegSpec;
    try {
      spec = o.spec(sdpPath);
    } catch (err) {
      fs.rmSync(dir, { recursive: true, force: true });
      throw err;
    }
    const remux = new RtpRemux(dir, videoPorts, audioPort, spec, o.name, o.ffmpeg);
    try {
      await remux.ffmpeg.started;
    } catch (err) {
      await remux.close();
      throw err;
    }
    return remux;
  }

  /** A remux fed by a mixer tap (HLS, RTMP): H.264 rungs and the full mix, as the mixer sends them. */
  static forMixH264(name: string, videoStreams: number, spec: (sdpPath: string) => FfmpegSpec, ffmpeg?: FfmpegOptions): Promise<RtpRemux> {
    return RtpRemux.start({
      name,
      videoCodec: 'H264',
      videoPayloadType: MIX_RTP_PT.video,
      videoFmtp: 'packetization-mode=1',
      videoStreams,
      audioPayloadType: MIX_RTP_PT.audio,
      spec,
      ffmpeg,
    });
  }

  /**
   * Resolves once FFmpeg has bound every input port (read from /proc), so a packet sent now is
   * received, not refused: a keyframe sent before would be lost. Resolves false when FFmpeg
   * exits, or after `timeoutMs`.
   */
  async listening(timeoutMs = 5000): Promise<boolean> {
    const pid = await this.ffmpeg.started.catch(() => null);
    if (pid === null) return false;
    const ports = [...this.videoPorts, this.audioPort];
    const until = performance.now() + timeoutMs;
    while (this.running && performance.now() < until) {
      const bound = udpPortsOf(pid);
      if (ports.every((p) => bound.has(p))) return true;
      await new Promise((r) => setTimeout(r, 10));
    }
    return false;
  }

  get running(): boolean {
    return !this.closed && this.ffmpeg.running;
  }

  video(packet: Buffer, stream = 0): void {
    if (!this.running) return;
    this.send(packet, this.videoPorts[stream]);
  }

  audio(packet: Buffer): void {
    if (!this.running || packet.length < 12) return;
    this.lastAudio = { pt: packet[1] & 0x7f, seq: packet.readUInt16BE(2), ts: packet.readUInt32BE(4), ssrc: packet.readUInt32BE(8) };
    this.send(packet, this.audioPort);
  }

  private send(packet: Buffer, port: number): void {
    this.sock.send(packet, port, '127.0.0.1');
    this.lastSendAt = performance.now();
  }

  /**
   * FFmpeg notices SIGINT only between packets: reading RTP it blocks until one arrives. When
   * the source has gone quiet, 20 ms Opus silence frames (a zero-length CELT frame) continuing
   * the audio stream's numbering let it see the signal and write its trailer.
   */
  private nudge(): void {
    if (!this.lastAudio || performance.now() - this.lastSendAt < 100) return;
    const a = this.lastAudio;
    a.seq = (a.seq + 1) & 0xffff;
    a.ts = (a.ts + 960) >>> 0;
    const p = Buffer.alloc(13);
    p[0] = 0x80;
    p[1] = a.pt;
    p.writeUInt16BE(a.seq, 2);
    p.writeUInt32BE(a.ts, 4);
    p.writeUInt32BE(a.ssrc, 8);
    p[12] = 0xfc; // TOC: CELT fullband 20 ms, stereo, one frame of zero bytes (silence)
    this.send(p, this.audioPort);
  }

  /** Ends FFmpeg gracefully (SIGINT: it writes its trailer) and frees the sockets. Idempotent.
   * Packets keep flowing to FFmpeg until it has exited. */
  async close(): Promise<FfmpegExit> {
    if (!this.stopping) {
      this.stopping = true;
      const timer = setInterval(() => this.nudge(), 50);
      void this.ffmpeg.exited.then(() => clearInterval(timer));
    }
    const exit = await this.ffmpeg.stop(3000);
    this.closed = true;
    try {
      this.sock.close();
    } catch {
      /* already closed */
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
    return exit;
  }
}
