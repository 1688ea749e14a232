// One room mixer: the video FFmpeg and its plumbing (its stdin, which Node writes the canvas
// into, the unix sockets of the triggers, the UDP sockets the rungs come back on), and
// beside it the audio FFmpeg (AudioMixerProcess), so that video work never delays the audio.
// The two start, are ready and are replaced together, except that a new pair made only for
// other rungs adopts the serving pair's audio process (the audio is not switched when a watcher
// of another rung comes or goes); either dying ends the pair. A room's H.264 rungs run in a
// process without audio (`withAudio` false; RoomMixer's H.264 lane). It does not pace or decide anything: RoomMixer
// drives it tick by tick and replaces it when it dies.

import type dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import type { Writable } from 'node:stream';
import { EventEmitter } from 'node:events';
import {
  buildMixerSpec,
  canvasSocket,
  rungTriggerSocket,
  canvasRungIndex,
  triggerSocket,
  type MixerSettings,
} from '../../pipeline/mixer/graph.ts';
import type { MixerCommand } from '../../pipeline/mixer/command.ts';
import type { PooledCanvas } from './CanvasComposer.ts';
import { ivfFileHeader, ivfFrame } from '../../pipeline/mixer/ivf.ts';
import { FfmpegProcess, type FfmpegExit } from '../ffmpeg/FfmpegProcess.ts';
import { spawnMethod } from '../ffmpeg/spawnChild.ts';
import type { TriggerFrames } from './trigger.ts';
import type { RungSpec } from '../../pipeline/ladder.ts';
import { FULL_MIX_KEY, minusStreamKey, videoStreamKey, type MixStreamKey } from '../../pipeline/mixer/streamKey.ts';
import { makeTempDir } from '../tmp.ts';
import { rnnoiseModel, voiceChainEnabled, vp8MaxIntraFromEnv, vp8ThreadsFromEnv } from './voiceModel.ts';
import { AudioMixerProcess } from './AudioMixerProcess.ts';
import { RtpSocket } from './RtpSocket.ts';
import { StageLatency } from '../../pipeline/audio/StageLatency.ts';
import { ContentTimeline } from '../../pipeline/rtp/ContentTimeline.ts';
import { rungTakesFrame } from '../../pipeline/mixer/rungCadence.ts';

export type { MixStreamKey } from '../../pipeline/mixer/streamKey.ts';

export interface MixerProcessEvents {
  /** A packet and the instant its content went into the mix (null: unknown; ContentTimeline). */
  rtp: [MixStreamKey, Buffer, number | null];
  /** A processed slot's RMS level (dBFS) over the last 20 ms. */
  level: [number, number];
  died: [FfmpegExit];
  connected: [];
}

interface Writer {
  socket: Writable | null;
  connected: boolean;
}

/** Bytes queued in one socket beyond which a tick is skipped rather than buffered. */
const MAX_QUEUED_FRAMES = 3;

export class MixerProcess extends EventEmitter<MixerProcessEvents> {
  readonly dir: string;
  readonly ffmpeg: FfmpegProcess;
  readonly capacity: number;
  /** The audio FFmpeg: voice chains, mix, mix-minus, limiter, Opus, meter (null: a video-only process). */
  readonly audio: AudioMixerProcess | null;
  /** Whether close() stops the audio process too (false while adopted and not yet handed over). */
  private ownsAudio: boolean;
  private readonly audioListeners: Array<[string, (...args: any[]) => void]> = [];
  private readonly sockets: RtpSocket[];
  private readonly trigger: Writer = { socket: null, connected: false };
  /** The canvas input (FFmpeg's stdin): one picture per tick, every tile drawn (CanvasComposer). */
  private readonly canvas: Writer = { socket: null, connected: false };
  /** Per rung its own trigger; null for the canvas rung, whose keyframes are the canvas trigger's. */
  private readonly rungTriggers: Array<Writer | null>;
  private readonly canvasRung: number;
  private readonly rungPts: number[];
  /** Per rung: when each of its trigger frames (its output frames) was written. */
  private readonly rungTimelines: ContentTimeline[];
  /** When each of the first rung's units was written (Node's clock), for writeToPacket. */
  private readonly writtenAt: ContentTimeline;
  private lastFirstRungTs = -1;
  /** A tick's write → the first RTP packet of the first rung's frame carrying it, read back at Node's socket. */
  readonly writeToPacket = new StageLatency(300);
  /** Canvas pictures still queued in Node's socket to FFmpeg when a tick is written. */
  readonly queuedFrames = new StageLatency(300);
  readonly rungs: readonly RungSpec[];
  /** The RNNoise model the graph loads (null: afftdn); commands must name the right filter. */
  readonly denoiseModel: string | null;
  private closing: Promise<void> | null = null;
  private connectTimers = new Set<NodeJS.Timeout>();
  private _allConnected = false;
  private pts = 0;
  private lastVideoPacketAt = 0;
  private connectedAt = 0;

  static async start(
    name: string,
    settings: MixerSettings,
    /** Slots of the audio mix (its inputs, voice chains and mix-minus outputs). */
    capacity: number,
    trigger: TriggerFrames,
    /** The canvas's first picture (probed and dropped by FFmpeg). */
    prerollCanvas: Buffer,
    rungs: readonly RungSpec[],
    /** The serving pair's audio process, to adopt (same capacity) instead of starting one. */
    adopt: AudioMixerProcess | null = null,
    /** false: video only, no audio process at all (the H.264 lane). */
    withAudio = true,
  ): Promise<MixerProcess> {
    const denoiseModel = settings.denoiseModel === undefined ? rnnoiseModel() : settings.denoiseModel;
    const sockets = await RtpSocket.bindAll(rungs.map((r) => videoStreamKey(r.id)));
    let audio: AudioMixerProcess | null;
    const owns = withAudio && !(adopt && adopt.capacity === capacity);
    try {
      audio = !withAudio ? null : !owns ? adopt! : await AudioMixerProcess.start(
        `${name}/audio`,
        { ...settings, denoiseModel, voiceChain: settings.voiceChain ?? voiceChainEnabled() },
        capacity,
      );
    } catch (err) {
      for (const s of sockets) s.close();
      throw err;
    }
    const dir = makeTempDir('mix');
    try {
      return new MixerProcess(name, { ...settings, denoiseModel, vp8Threads: settings.vp8Threads ?? vp8ThreadsFromEnv(), vp8MaxIntraPct: settings.vp8MaxIntraPct ?? vp8MaxIntraFromEnv() }, capacity, trigger, prerollCanvas, rungs, dir, sockets, audio, owns);
    } catch (err) {
      if (owns) await audio?.close();
      for (const s of sockets) s.close();
      fs.rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  }

  private constructor(
    readonly name: string,
    private readonly settings: MixerSettings,
    capacity: number,
    private readonly triggerFrames: TriggerFrames,
    prerollCanvas: Buffer,
    rungs: readonly RungSpec[],
    dir: string,
    sockets: RtpSocket[],
    audio: AudioMixerProcess | null,
    owns: boolean,
  ) {
    super();
    this.dir = dir;
    this.rungs = rungs;
    this.capacity = capacity;
    this.sockets = sockets;
    this.audio = audio;
    this.ownsAudio = owns;
    this.denoiseModel = settings.denoiseModel ?? null;
    // The canvas on FFmpeg's stdin where the posix_spawn addon sizes the pipe; else a unix socket.
    const canvasInput = spawnMethod() === 'posix_spawn' ? 'stdin' : 'socket';
    const spec = buildMixerSpec(settings, { socketDir: dir, rungRtpPorts: sockets.map((s) => s.port), canvasInput }, rungs);
    this.ffmpeg = new FfmpegProcess(name, spec, { stdin: canvasInput === 'stdin' });
    // A rung's output frame n is its trigger frame n (fps_mode passthrough); the first one out
    // is frame 1 (the decoder drops the probed preroll, frame 0). Measured: a slot picture
    // changed in the tick of rung frame 40 is in output frame 40 counted this way.
    this.rungTimelines = rungs.map((r) => new ContentTimeline(90000 / r.fps, 1000 / r.fps, 1));
    this.writtenAt = new ContentTimeline(90000 / (rungs[0]?.fps ?? settings.fps), 1000 / (rungs[0]?.fps ?? settings.fps), 1);
    sockets.forEach((s, i) => {
      const timeline = this.rungTimelines[i];
      s.accept(() => this.ffmpeg.pid);
      s.on('rtp', (key, msg) => {
        this.lastVideoPacketAt = performance.now();
        const ts = msg.readUInt32BE(4);
        if (i === 0 && ts !== this.lastFirstRungTs) {
          this.lastFirstRungTs = ts;
          const wrote = this.writtenAt.contentAt(ts);
          if (wrote !== null) this.writeToPacket.add(this.lastVideoPacketAt - wrote);
        }
        this.emit('rtp', key, msg, timeline.contentAt(ts));
      });
    });
    // Either process dying ends the pair (RoomMixer replaces both); reported once.
    let died = false;
    const onDied = (info: FfmpegExit) => {
      if (died) return;
      died = true;
      this.emit('died', info);
    };
    this.ffmpeg.on('died', onDied);
    const listen = (event: string, fn: (...args: any[]) => void) => {
      if (!audio) return;
      (audio as EventEmitter).on(event, fn);
      this.audioListeners.push([event, fn]);
    };
    listen('died', onDied);
    listen('rtp', (key: MixStreamKey, msg: Buffer, at: number | null) => this.emit('rtp', key, msg, at));
    listen('level', (slot: number, db: number) => this.emit('level', slot, db));
    listen('connected', () => this.checkAllConnected());
    // FFmpeg opens its inputs one after another and reads one packet from each before
    // opening the next; each socket gets exactly one preroll packet on connect (probing
    // discards it under -fflags nobuffer), so all inputs start the paced ticks aligned.
    const header = ivfFileHeader(this.triggerFrames.width, this.triggerFrames.height, settings.fps);
    this.connect(this.trigger, triggerSocket(dir), Buffer.concat([header, ivfFrame(this.triggerFrames.key, 0)]));
    if (canvasInput === 'stdin') {
      // FFmpeg's stdin: there from the start; its first picture waits in the pipe.
      this.canvas.socket = this.ffmpeg.stdin;
      this.canvas.connected = this.canvas.socket !== null;
      this.canvas.socket?.write(prerollCanvas);
    } else {
      this.connect(this.canvas, canvasSocket(dir), prerollCanvas);
    }
    this.canvasRung = canvasRungIndex(settings, rungs);
    this.rungTriggers = rungs.map((_, i) => (i === this.canvasRung ? null : { socket: null, connected: false }));
    this.rungPts = rungs.map(() => 0);
    rungs.forEach((r, i) => {
      const w = this.rungTriggers[i];
      if (!w) return;
      const h = ivfFileHeader(this.triggerFrames.width, this.triggerFrames.height, r.fps);
      this.connect(w, rungTriggerSocket(dir, r.id), Buffer.concat([h, ivfFrame(this.triggerFrames.key, 0)]));
    });
  }

  get allConnected(): boolean {
    return this._allConnected;
  }

  /** The audio process's command channel (the video process takes no commands). */
  get commandChannelUp(): boolean {
    return this.audio?.commandChannelUp ?? true;
  }

  /**
   * When the pair last sent media: the older of the video's last packet (if it encodes any
   * rung) and the audio's, so a hung process of either kind shows; a kind that has sent
   * nothing yet counts from when all inputs were open. 0 before that.
   */
  get lastPacketAt(): number {
    if (!this.connectedAt) return 0;
    const times = [...(this.audio ? [this.audio.lastPacketAt] : []), ...(this.rungs.length ? [this.lastVideoPacketAt] : [])];
    return times.length ? Math.min(...times.map((t) => t || this.connectedAt)) : this.connectedAt;
  }

  /** Datagrams dropped on the RTP sockets: not from this pair's FFmpegs, or not a whole RTP packet. */
  get droppedDatagrams(): number {
    return (this.audio?.droppedDatagrams ?? 0) + this.sockets.reduce((n, s) => n + s.dropped, 0);
  }

  /** Every RTP socket of the pair, video first (fault injection and tests). */
  get udp(): dgram.Socket[] {
    return [...this.sockets.map((s) => s.socket), ...(this.audio?.udp ?? [])];
  }

  /** The video FFmpeg's pid; the audio one is audio.ffmpeg.pid. */
  get videoPid(): number | undefined {
    return this.ffmpeg.pid;
  }

  private connect(w: Writer, file: string, preroll: Buffer): void {
    const attempt = () => {
      if (this.closing) return;
      const socket = net.connect(file);
      socket.once('connect', () => {
        w.socket = socket;
        w.connected = true;
        socket.write(preroll);
        this.checkAllConnected();
      });
      socket.on('error', () => {
        if (!w.connected && !this.closing) {
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

  private checkAllConnected(): void {
    if (this._allConnected) return;
    if (!this.trigger.connected) return;
    if (!this.canvas.connected || !(this.audio?.allConnected ?? true)) return;
    if (!this.rungTriggers.every((w) => !w || w.connected)) return;
    this._allConnected = true;
    this.connectedAt = performance.now();
    this.emit('connected');
  }

  /** 20 ms of PCM per slot (its own clock, see RoomMixer; `atMs` its tick). Dropped while not connected. */
  writeAudio(audio: readonly Buffer[], atMs = performance.now()): void {
    if (!this._allConnected || this.closing) return;
    this.audio?.write(audio, atMs);
  }

  /**
   * Writes one video tick: the canvas and the triggers. Returns null (and writes nothing) when
   * FFmpeg is not keeping up, so that the inputs stay frame-aligned. The socket holds `canvas`
   * (retained) until it is sent.
   */
  writeTick(keyRungs: ReadonlySet<string>, canvas: PooledCanvas, atMs = performance.now()): Set<string> | null {
    if (!this._allConnected || this.closing) return null;
    const frameBytes = canvas.data.length;
    const queued = this.canvas.socket?.writableLength ?? 0;
    if (queued > frameBytes * MAX_QUEUED_FRAMES) return null;
    this.queuedFrames.add(queued / frameBytes);
    this.pts++;
    // Rungs at their own frame rate: a 15 fps rung gets every other frame written (not tick:
    // see rungCadence.ts). A rung's first frame after the preroll is a keyframe (the decoder
    // drops the probed preroll).
    const keyed = new Set<string>();
    const due = this.rungs.map((r, i) => {
      if (!rungTakesFrame(this.pts, this.settings.fps, r.fps)) return null;
      this.rungPts[i]++;
      this.rungTimelines[i].wrote(this.rungPts[i], atMs);
      if (i === 0) this.writtenAt.wrote(this.rungPts[i], performance.now());
      const key = this.rungPts[i] === 1 || keyRungs.has(r.id);
      if (key) keyed.add(r.id);
      return key;
    });
    // The canvas decoder needs one keyframe (the probed preroll is dropped); after that, the
    // canvas rung's keyframes.
    const canvasKey = this.pts === 1 || due[this.canvasRung] === true;
    this.trigger.socket!.write(ivfFrame(canvasKey ? this.triggerFrames.key : this.triggerFrames.delta, this.pts));
    this.canvas.socket!.write(canvas.data, canvas.retain());
    this.rungs.forEach((_, i) => {
      const w = this.rungTriggers[i];
      if (w && due[i] !== null) w.socket!.write(ivfFrame(due[i] ? this.triggerFrames.key : this.triggerFrames.delta, this.rungPts[i]));
    });
    return keyed;
  }

  /** Whether the audio process is this pair's to stop. */
  get ownsAudioProcess(): boolean {
    return this.ownsAudio;
  }

  /**
   * Hands the audio process over to `to` (which adopted it): this pair stops listening to it
   * and its close() leaves it running.
   */
  handOverAudio(to: MixerProcess): void {
    if (!this.audio || to.audio !== this.audio || !this.ownsAudio) return;
    for (const [event, fn] of this.audioListeners) (this.audio as EventEmitter).off(event, fn);
    this.audioListeners.length = 0;
    this.ownsAudio = false;
    to.ownsAudio = true;
  }

  /** Commands to the audio graph (gain, denoise, limiter). */
  sendAudioCommands(commands: readonly MixerCommand[]): Promise<string[]> {
    return this.audio ? this.audio.sendCommands(commands) : Promise.resolve([]);
  }

  /** Ends the process and releases every socket and file. Idempotent. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closing = (async () => {
      for (const t of this.connectTimers) clearTimeout(t);
      this.connectTimers.clear();
      for (const [event, fn] of this.audioListeners) (this.audio as EventEmitter).off(event, fn);
      const stopped = Promise.all([this.ffmpeg.stop(), this.ownsAudio ? this.audio?.close() : null]);
      // Closing the inputs lets FFmpeg see end-of-stream and exit on its own.
      for (const w of [this.trigger, this.canvas, ...this.rungTriggers]) w?.socket?.destroy();
      await stopped;
      for (const s of this.sockets) s.close();
      fs.rmSync(this.dir, { recursive: true, force: true });
      this.removeAllListeners();
    })();
    return this.closing;
  }
}
