// One FFmpeg mixer process and its plumbing: the unix sockets Node writes raw media into,
// the UDP sockets its RTP comes back on, and the zmq command channel. It does not pace or
// decide anything: RoomMixer drives it tick by tick and replaces it when it dies.

import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { EventEmitter } from 'node:events';
import {
  audioSocket,
  buildMixerSpec,
  commandSocket,
  rungTriggerSocket,
  triggerSocket,
  videoSocket,
  type MixerCommand,
  type MixerSettings,
  type SlotPlacement,
} from '../../pipeline/mixer/graph.ts';
import { isRtcpPacket } from '../../pipeline/rtp/Continuity.ts';
import { ivfFileHeader, ivfFrame } from '../../pipeline/mixer/ivf.ts';
import { FfmpegProcess, type FfmpegExit } from '../ffmpeg/FfmpegProcess.ts';
import { ZmqCommandClient } from './ZmqCommandClient.ts';
import type { TriggerFrames } from './trigger.ts';
import type { RungSpec } from '../../pipeline/ladder.ts';

/** 'video:<rung id>', 'full', or 'minus:<slot>'. */
export type MixStreamKey = string;

export interface MixerProcessEvents {
  rtp: [MixStreamKey, Buffer];
  died: [FfmpegExit];
  connected: [];
}

interface Writer {
  socket: net.Socket | null;
  connected: boolean;
}

/** Bytes queued in one socket beyond which a tick is skipped rather than buffered. */
const MAX_QUEUED_FRAMES = 3;

export class MixerProcess extends EventEmitter<MixerProcessEvents> {
  readonly dir: string;
  readonly ffmpeg: FfmpegProcess;
  readonly capacity: number;
  private readonly udp: dgram.Socket[] = [];
  private readonly trigger: Writer = { socket: null, connected: false };
  private readonly video: Writer[];
  private readonly audio: Writer[];
  private readonly rungTriggers: Writer[];
  private readonly rungPts: number[];
  readonly rungs: readonly RungSpec[];
  /** The placements the process was started with (its graph's initial positions). */
  readonly initialPlacements: SlotPlacement[];
  private readonly commands: ZmqCommandClient;
  private closing: Promise<void> | null = null;
  private connectTimers = new Set<NodeJS.Timeout>();
  private _allConnected = false;
  private pts = 0;
  lastPacketAt = 0;

  static async start(
    name: string,
    settings: MixerSettings,
    placements: readonly SlotPlacement[],
    trigger: TriggerFrames,
    prerollVideo: Buffer,
    rungs: readonly RungSpec[],
  ): Promise<MixerProcess> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcu-mix-'));
    const capacity = placements.length;
    const udp: dgram.Socket[] = [];
    try {
      for (let i = 0; i < rungs.length + 1 + capacity; i++) {
        const s = dgram.createSocket('udp4');
        udp.push(s);
        await new Promise<void>((resolve, reject) => {
          s.once('error', reject);
          s.bind(0, '127.0.0.1', () => {
            s.off('error', reject);
            resolve();
          });
        });
      }
    } catch (err) {
      for (const s of udp) s.close();
      fs.rmSync(dir, { recursive: true, force: true });
      throw err;
    }
    return new MixerProcess(name, settings, placements, trigger, prerollVideo, rungs, dir, udp);
  }

  private constructor(
    readonly name: string,
    private readonly settings: MixerSettings,
    placements: readonly SlotPlacement[],
    private readonly triggerFrames: TriggerFrames,
    private readonly prerollVideo: Buffer,
    rungs: readonly RungSpec[],
    dir: string,
    udp: dgram.Socket[],
  ) {
    super();
    this.dir = dir;
    this.rungs = rungs;
    this.initialPlacements = placements.map((p) => ({ ...p }));
    this.capacity = placements.length;
    this.udp.push(...udp);
    const port = (s: dgram.Socket) => s.address().port;
    const keys: MixStreamKey[] = [...rungs.map((r) => `video:${r.id}`), 'full', ...placements.map((_, k) => `minus:${k}`)];
    udp.forEach((s, i) => {
      const key = keys[i];
      s.on('message', (msg) => {
        if (isRtcpPacket(msg)) return;
        this.lastPacketAt = performance.now();
        this.emit('rtp', key, msg);
      });
      s.on('error', () => {});
    });
    const spec = buildMixerSpec(
      settings,
      {
        socketDir: dir,
        rungRtpPorts: udp.slice(0, rungs.length).map(port),
        fullMixRtpPort: port(udp[rungs.length]),
        mixMinusRtpPorts: udp.slice(rungs.length + 1).map(port),
      },
      placements,
      rungs,
    );
    this.ffmpeg = new FfmpegProcess(name, spec);
    this.ffmpeg.on('died', (info) => this.emit('died', info));
    this.commands = new ZmqCommandClient(commandSocket(dir));
    this.video = placements.map(() => ({ socket: null, connected: false }));
    this.audio = placements.map(() => ({ socket: null, connected: false }));
    const silence = Buffer.alloc((settings.sampleRate / settings.fps) * 2);
    // FFmpeg opens its inputs one after another and reads one packet from each before
    // opening the next; each socket gets exactly one preroll packet on connect (probing
    // discards it under -fflags nobuffer), so all inputs start the paced ticks aligned.
    const header = ivfFileHeader(this.triggerFrames.width, this.triggerFrames.height, settings.fps);
    this.connect(this.trigger, triggerSocket(dir), Buffer.concat([header, ivfFrame(this.triggerFrames.key, 0)]));
    this.video.forEach((w, k) => this.connect(w, videoSocket(dir, k), prerollVideo));
    this.audio.forEach((w, k) => this.connect(w, audioSocket(dir, k), silence));
    this.rungTriggers = rungs.map(() => ({ socket: null, connected: false }));
    this.rungPts = rungs.map(() => 0);
    rungs.forEach((r, i) => {
      const h = ivfFileHeader(this.triggerFrames.width, this.triggerFrames.height, r.fps);
      this.connect(this.rungTriggers[i], rungTriggerSocket(dir, r.id), Buffer.concat([h, ivfFrame(this.triggerFrames.key, 0)]));
    });
  }

  get allConnected(): boolean {
    return this._allConnected;
  }

  get commandChannelUp(): boolean {
    return this.commands.connected;
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
    if (!this.video.every((w) => w.connected) || !this.audio.every((w) => w.connected)) return;
    if (!this.rungTriggers.every((w) => w.connected)) return;
    this._allConnected = true;
    this.emit('connected');
  }

  /** 20 ms of PCM per slot (its own clock, see RoomMixer). Dropped while not connected. */
  writeAudio(audio: readonly Buffer[]): void {
    if (!this._allConnected || this.closing) return;
    for (let k = 0; k < this.capacity; k++) {
      const s = this.audio[k].socket!;
      // A stalled FFmpeg: drop audio rather than queue it (it would come out late).
      if (s.writableLength < audio[k].length * 10) s.write(audio[k]);
    }
  }

  /**
   * Writes one video tick to every video input and the triggers. Returns null (and writes
   * nothing) when FFmpeg is not keeping up, so that all inputs stay frame-aligned.
   */
  writeTick(tick: number, keyRungs: ReadonlySet<string>, video: readonly Buffer[]): Set<string> | null {
    if (!this._allConnected || this.closing) return null;
    const frameBytes = video[0]?.length ?? 0;
    for (const w of this.video) {
      if ((w.socket?.writableLength ?? 0) > frameBytes * MAX_QUEUED_FRAMES) return null;
    }
    this.pts++;
    // The canvas decoder needs one keyframe (the probed preroll is dropped); nothing after.
    this.trigger.socket!.write(ivfFrame(this.pts === 1 ? this.triggerFrames.key : this.triggerFrames.delta, this.pts));
    for (let k = 0; k < this.capacity; k++) this.video[k].socket!.write(video[k]);
    // Rung triggers at their own frame rate: a 15 fps rung gets every other tick. The first
    // frame after the preroll is a keyframe (the decoder drops the probed preroll).
    const keyed = new Set<string>();
    this.rungs.forEach((r, i) => {
      if (tick % Math.max(1, Math.round(this.settings.fps / r.fps)) !== 0) return;
      this.rungPts[i]++;
      const key = this.rungPts[i] === 1 || keyRungs.has(r.id);
      if (key) keyed.add(r.id);
      this.rungTriggers[i].socket!.write(ivfFrame(key ? this.triggerFrames.key : this.triggerFrames.delta, this.rungPts[i]));
    });
    return keyed;
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
      const stopped = this.ffmpeg.stop();
      // Closing the inputs lets FFmpeg see end-of-stream and exit on its own.
      for (const w of [this.trigger, ...this.video, ...this.audio, ...this.rungTriggers]) w.socket?.destroy();
      await stopped;
      for (const s of this.udp) {
        s.removeAllListeners('message');
        try {
          s.close();
        } catch {
          /* already closed */
        }
      }
      fs.rmSync(this.dir, { recursive: true, force: true });
      this.removeAllListeners();
    })();
    return this.closing;
  }
}
