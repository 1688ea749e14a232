// The room's audio FFmpeg and its plumbing: the unix socket Node writes 20 ms of every slot's
// PCM into (one channel per slot), the UDP sockets the full mix and the mix-minus come back on, the meter tap and the zmq
// command channel (gain, denoise, limiter). It runs beside the video mixer (MixerProcess owns
// both), so a stalled compositor or encoder never delays the audio.

import { FULL_MIX_KEY, minusStreamKey, type MixStreamKey } from '../../pipeline/mixer/streamKey.ts';
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import { EventEmitter } from 'node:events';
import {
  audioCommandSocket,
  audioMeterSocket,
  buildAudioMixerSpec,
  pcmSocket,
  streamingWavHeader,
  frameBytes,
  interleaveF32,
  type AudioMixerSettings,
} from '../../pipeline/mixer/audioGraph.ts';
import type { MixerCommand } from '../../pipeline/mixer/command.ts';
import { FfmpegProcess, type FfmpegExit } from '../ffmpeg/FfmpegProcess.ts';
import { ZmqCommandClient } from './ZmqCommandClient.ts';
import { MeterTap } from './MeterTap.ts';
import { makeTempDir } from '../tmp.ts';
import { RtpSocket } from './RtpSocket.ts';
import { ContentTimeline } from '../../pipeline/rtp/ContentTimeline.ts';
import { StageLatency } from '../../pipeline/audio/StageLatency.ts';

export interface AudioMixerEvents {
  /**
   * 'full' or 'minus:<slot>'; the instant (performance.now()) its content was written to the
   * mix (null while unknown), see pipeline/rtp/ContentTimeline.ts.
   */
  rtp: [MixStreamKey, Buffer, number | null];
  level: [number, number];
  died: [FfmpegExit];
  connected: [];
}

/** libopus's lookahead with application lowdelay (OPUS_GET_LOOKAHEAD: 48000 / 400 samples). */
const OPUS_LOOKAHEAD_MS = 2.5;

/**
 * How much older than the write it leaves with the content of a packet is: arnndn's output lags
 * its input by one 10 ms frame (pipeline/audio/voice.ts); the rest of the chain holds nothing.
 */
const DENOISE_SHIFT_MS = 10;

/** Writes queued beyond this many 20 ms frames are dropped (a stalled FFmpeg would play them late). */
const MAX_QUEUED_WRITES = 3;

export class AudioMixerProcess extends EventEmitter<AudioMixerEvents> {
  readonly dir: string;
  readonly ffmpeg: FfmpegProcess;
  private readonly sockets: RtpSocket[];
  private writer: net.Socket | null = null;
  private readonly commands: ZmqCommandClient;
  private readonly meter: MeterTap;
  private readonly connectTimers = new Set<NodeJS.Timeout>();
  private closing: Promise<void> | null = null;
  lastPacketAt = 0;
  /** 20 ms writes dropped because FFmpeg was not reading. */
  droppedWrites = 0;
  /** Writes so far, the preroll being number 0; each output's timeline notes when each went in. */
  private writes = 0;
  private readonly timelines: ContentTimeline[];
  /** The full mix's timeline by when each write actually went in (not its tick's due instant). */
  private readonly writtenAt = new ContentTimeline(960, 20, 1);
  /** A write → the full mix's packet carrying it, at Node's socket (ms, recent packets). */
  readonly writeToPacket = new StageLatency(500);

  static async start(name: string, settings: AudioMixerSettings, capacity: number): Promise<AudioMixerProcess> {
    const keys: MixStreamKey[] = [FULL_MIX_KEY, ...Array.from({ length: capacity }, (_, k) => minusStreamKey(k))];
    const sockets = await RtpSocket.bindAll(keys);
    return new AudioMixerProcess(name, settings, capacity, sockets);
  }

  private constructor(
    readonly name: string,
    private readonly settings: AudioMixerSettings,
    readonly capacity: number,
    sockets: RtpSocket[],
  ) {
    super();
    this.dir = makeTempDir('amix');
    this.sockets = sockets;
    this.meter = new MeterTap(audioMeterSocket(this.dir), capacity, (slot, db) => this.emit('level', slot, db));
    const spec = buildAudioMixerSpec(
      settings,
      { socketDir: this.dir, fullMixRtpPort: sockets[0].port, mixMinusRtpPorts: sockets.slice(1).map((s) => s.port) },
      capacity,
    );
    this.ffmpeg = new FfmpegProcess(name, spec);
    this.ffmpeg.on('died', (info) => this.emit('died', info));
    // Opus at 48 kHz RTP clock: one 20 ms write is 960 ticks of every output. The first packet
    // out carries write 1, not the preroll (measured: a burst of noise in write 40 first shows
    // in packet 39 counted from 0), and Opus (application lowdelay) starts each packet
    // OPUS_LOOKAHEAD_MS before the write it carries.
    this.timelines = sockets.map(() => new ContentTimeline(960, 20, 1));
    const shift = OPUS_LOOKAHEAD_MS + (settings.voiceChain && settings.denoiseModel ? DENOISE_SHIFT_MS : 0);
    sockets.forEach((s, i) => {
      const timeline = this.timelines[i];
      s.accept(() => this.ffmpeg.pid);
      s.on('rtp', (key, msg) => {
        this.lastPacketAt = performance.now();
        const at = timeline.contentAt(msg.readUInt32BE(4));
        if (i === 0) {
          const wrote = this.writtenAt.contentAt(msg.readUInt32BE(4));
          if (wrote !== null) this.writeToPacket.add(this.lastPacketAt - wrote);
        }
        this.emit('rtp', key, msg, at === null ? null : at - shift);
      });
    });
    this.commands = new ZmqCommandClient(audioCommandSocket(this.dir));
    // The header, then one 20 ms of silence that probing takes (as for the video inputs).
    this.connect(Buffer.concat([streamingWavHeader(settings.sampleRate, capacity), Buffer.alloc(frameBytes(settings.sampleRate, capacity))]));
  }

  get allConnected(): boolean {
    return this.writer !== null;
  }

  get commandChannelUp(): boolean {
    return this.commands.connected;
  }

  /** Datagrams dropped on the RTP sockets (not from this FFmpeg, or not RTP). */
  get droppedDatagrams(): number {
    return this.sockets.reduce((n, s) => n + s.dropped, 0);
  }

  /** The UDP sockets (fault injection and tests). */
  get udp(): dgram.Socket[] {
    return this.sockets.map((s) => s.socket);
  }

  private connect(preroll: Buffer): void {
    const attempt = () => {
      if (this.closing) return;
      const socket = net.connect(pcmSocket(this.dir));
      socket.once('connect', () => {
        this.writer = socket;
        socket.write(preroll);
        this.noteWrite(performance.now());
        this.emit('connected');
      });
      socket.on('error', () => {
        if (this.writer !== socket && !this.closing) {
          const t = setTimeout(() => {
            this.connectTimers.delete(t);
            attempt();
          }, 10);
          this.connectTimers.add(t);
        }
      });
    };
    attempt();
  }

  private noteWrite(atMs: number): void {
    const n = this.writes++;
    for (const t of this.timelines) t.wrote(n, atMs);
    this.writtenAt.wrote(n, performance.now());
  }

  /**
   * 20 ms of s16 PCM per slot, from Node's audio clock (`atMs`: the tick's instant).
   * Dropped while not all connected.
   */
  write(audio: readonly Buffer[], atMs = performance.now()): void {
    const s = this.writer;
    if (!s || this.closing) return;
    // Exactly this process's channel count: silence for slots the room no longer has.
    const n = (audio[0]?.byteLength ?? 0) >> 1;
    const slots = Array.from({ length: this.capacity }, (_, k) => (audio[k] ? new Int16Array(audio[k].buffer, audio[k].byteOffset, audio[k].byteLength >> 1) : new Int16Array(n)));
    const frame = interleaveF32(slots);
    if (s.writableLength < frame.length * MAX_QUEUED_WRITES) {
      s.write(frame);
      this.noteWrite(atMs);
    } else this.droppedWrites++;
  }

  sendCommands(commands: readonly MixerCommand[]): Promise<string[]> {
    return this.commands.send(commands);
  }

  /** Ends the process and releases every socket and file. Idempotent. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closing = (async () => {
      for (const t of this.connectTimers) clearTimeout(t);
      this.connectTimers.clear();
      this.commands.close();
      this.meter.close();
      const stopped = this.ffmpeg.stop();
      this.writer?.destroy();
      await stopped;
      for (const s of this.sockets) s.close();
      fs.rmSync(this.dir, { recursive: true, force: true });
      this.removeAllListeners();
    })();
    return this.closing;
  }
}
