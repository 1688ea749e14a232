// A room's mix: participant slots, the 30 fps clock, and the FFmpeg process behind them.
//
// The clock is Node's: every tick each slot's latest picture is written again
// (sample-and-hold) together with exactly one tick of its audio (silence when it has none),
// so a stalled or missing participant never stalls the composite. Tile positions are
// commands to the running process; the process is only replaced when it dies or the room
// outgrows its slot capacity. Subscribers are told nothing of either: egress keeps their
// RTP continuous across the switch.

import { EventEmitter } from 'node:events';
import sharp from 'sharp';
import {
  capacityFor,
  placementCommands,
  type MixerSettings,
  type SlotPlacement,
} from '../../pipeline/mixer/graph.ts';
import { fitInside, type Rect, type Size } from '../../pipeline/layout/geometry.ts';
import { JitterBuffer, toMono } from '../../pipeline/audio/JitterBuffer.ts';
import { MixerProcess, type MixStreamKey } from './MixerProcess.ts';
import { rungById, sortRungs } from '../../pipeline/ladder.ts';
import { triggerFrames, type TriggerFrames } from './trigger.ts';
import type { FfmpegExit } from '../ffmpeg/FfmpegProcess.ts';
import { looksBlack, participantColour, renderLabel, renderPlaceholder, stampLabel, type I420Image } from './labels.ts';

export interface VideoFrame {
  width: number;
  height: number;
  data: Uint8Array;
}

export interface RoomMixerEvents {
  /** Packet of one of the mix's RTP streams; `epoch` changes whenever the process is replaced. */
  rtp: [MixStreamKey, Buffer, number];
  restarted: [{ reason: string; epoch: number }];
  error: [Error];
}

interface Slot {
  participantId: string;
  name: string;
  picture: Buffer | null;
  pictureAt: number;
  /** The latest picture is (nearly) all black: a camera that sends black frames when muted. */
  black: boolean;
  resizing: boolean;
  audio: JitterBuffer;
  label: I420Image | null;
  /** Initials on the participant's colour, with the label: shown while there is no live video. */
  placeholder: Buffer | null;
}

/** No frame for this long means the camera is off or muted: show the placeholder. */
const VIDEO_MUTED_AFTER_MS = 2000;

export interface RoomMixerStats {
  epoch: number;
  pid: number | undefined;
  capacity: number;
  ticks: number;
  skippedTicks: number;
  restarts: number;
  keyframesForced: number;
  keyframesByRung: Record<string, number>;
  /** Slot pictures written again because no newer one had arrived (sample-and-hold). */
  repeatedFrames: number;
  videoBytesOut: number;
  /** Encoded bytes per rung id. */
  videoBytesByRung: Record<string, number>;
  lastExit: FfmpegExit | null;
}

// 2 s: HLS cuts its 2 s segments on these keyframes (the encoder output is copied, never re-encoded).
const KEYFRAME_INTERVAL_MS = 2000;
const KEYFRAME_MIN_GAP_MS = 300;
const AUDIO_TICK_MS = 20;
const RESTART_BACKOFF_MS = [100, 500, 1000, 2000, 5000];
/** No RTP for this long while ticking means FFmpeg is hung: replace it. */
const FROZEN_AFTER_MS = 3000;

export function i420Size(s: Size): number {
  return s.width * s.height + 2 * Math.ceil(s.width / 2) * Math.ceil(s.height / 2);
}

/** A flat I420 frame (the "no picture" fill for a slot). */
export function flatI420(s: Size, y: number, u: number, v: number): Buffer {
  const buf = Buffer.alloc(i420Size(s));
  const luma = s.width * s.height;
  const chroma = Math.ceil(s.width / 2) * Math.ceil(s.height / 2);
  buf.fill(y, 0, luma);
  buf.fill(u, luma, luma + chroma);
  buf.fill(v, luma + chroma);
  return buf;
}

/**
 * Scales an I420 picture of any size into `target`, letterboxed, keeping its aspect ratio.
 * libvips does the pixels, plane by plane; Node only copies rows into place.
 */
export async function normalizeI420(frame: VideoFrame, target: Size): Promise<Buffer> {
  const { width: w, height: h, data } = frame;
  const cw = Math.ceil(w / 2);
  const ch = Math.ceil(h / 2);
  const fit = fitInside({ width: w, height: h }, { x: 0, y: 0, ...target });
  const out = flatI420(target, 16, 128, 128);
  const planes: Array<{ src: Uint8Array; sw: number; sh: number; rect: Rect; stride: number; base: number }> = [
    { src: data.subarray(0, w * h), sw: w, sh: h, rect: fit, stride: target.width, base: 0 },
  ];
  const tcw = Math.ceil(target.width / 2);
  const tch = Math.ceil(target.height / 2);
  const half = { x: fit.x / 2, y: fit.y / 2, width: fit.width / 2, height: fit.height / 2 };
  planes.push({ src: data.subarray(w * h, w * h + cw * ch), sw: cw, sh: ch, rect: half, stride: tcw, base: target.width * target.height });
  planes.push({ src: data.subarray(w * h + cw * ch, w * h + 2 * cw * ch), sw: cw, sh: ch, rect: half, stride: tcw, base: target.width * target.height + tcw * tch });
  await Promise.all(
    planes.map(async (p) => {
      const scaled = await sharp(p.src, { raw: { width: p.sw, height: p.sh, channels: 1 } })
        .resize(p.rect.width, p.rect.height, { fit: 'fill', kernel: 'linear' })
        .raw()
        .toBuffer();
      for (let row = 0; row < p.rect.height; row++) {
        scaled.copy(out, p.base + (p.rect.y + row) * p.stride + p.rect.x, row * p.rect.width, (row + 1) * p.rect.width);
      }
    }),
  );
  return out;
}

export class RoomMixer extends EventEmitter<RoomMixerEvents> {
  private slots: Array<Slot | null>;
  private placements: SlotPlacement[];
  private process: MixerProcess | null = null;
  private starting: Promise<void> | null = null;
  private trigger: TriggerFrames | null = null;
  private timer: NodeJS.Timeout | null = null;
  private clockStart = 0;
  /** Audio has its own 20 ms clock: one Opus frame per write, so packets leave evenly and
   * subscribers' jitter buffers stay short (per-video-tick writes made 33 ms bursts). */
  private audioTimer: NodeJS.Timeout | null = null;
  private audioTicksDone = 0;
  private ticksDone = 0;
  private lastTickAt = 0;
  private readonly keyPending = new Set<string>();
  private readonly lastKeyAt = new Map<string, number>();
  private rungs: string[] = [];
  /** The process being started to replace `process` (make before break). */
  private next: MixerProcess | null = null;
  private nextPid: number | undefined;
  private replaceAgain: string | null = null;
  private restartAttempts = 0;
  private restartTimer: NodeJS.Timeout | null = null;
  private replacing = false;
  private _closed = false;
  private readonly emptyPicture: Buffer;
  private readonly samplesPerAudioTick: number;
  epoch = 0;
  stats: RoomMixerStats;

  constructor(readonly name: string, readonly settings: MixerSettings, capacity = 4) {
    super();
    this.slots = new Array(capacity).fill(null);
    this.placements = this.slots.map(() => ({ visible: false, rect: { x: 0, y: 0, width: 16, height: 16 } }));
    this.emptyPicture = flatI420(settings.slotSize, 40, 128, 128);
    this.samplesPerAudioTick = (settings.sampleRate * AUDIO_TICK_MS) / 1000;
    this.stats = {
      epoch: 0, pid: undefined, capacity, ticks: 0, skippedTicks: 0, restarts: 0, keyframesForced: 0, keyframesByRung: {},
      repeatedFrames: 0, videoBytesOut: 0, videoBytesByRung: {}, lastExit: null,
    };
  }

  get closed(): boolean {
    return this._closed;
  }

  get capacity(): number {
    return this.slots.length;
  }

  get pid(): number | undefined {
    return this.process?.ffmpeg.pid;
  }

  /** Starts the clock and the first process. Resolves once FFmpeg has all its inputs. */
  async start(): Promise<void> {
    this.trigger = await triggerFrames(this.settings.background, this.settings.fps);
    this.clockStart = performance.now();
    this.scheduleTick();
    this.scheduleAudioTick();
    await this.spawn('start');
  }

  slotOf(participantId: string): number {
    return this.slots.findIndex((s) => s?.participantId === participantId);
  }

  addParticipant(participantId: string, name = ''): number {
    const existing = this.slotOf(participantId);
    if (existing >= 0) return existing;
    let slot = this.slots.indexOf(null);
    if (slot < 0) {
      // The room outgrew this process: a larger one replaces it, slots keep their numbers.
      const capacity = capacityFor(this.slots.length + 1);
      if (capacity <= this.slots.length) throw new Error(`the room is full (${this.slots.length} participants)`);
      slot = this.slots.length;
      while (this.slots.length < capacity) {
        this.slots.push(null);
        this.placements.push({ visible: false, rect: { x: 0, y: 0, width: 16, height: 16 } });
      }
      this.stats.capacity = capacity;
      this.slots[slot] = this.newSlot(participantId, name);
      void this.replace('capacity');
      return slot;
    }
    this.slots[slot] = this.newSlot(participantId, name);
    return slot;
  }

  /** Changes a participant's label (and placeholder) from the next frame on. */
  setName(participantId: string, name: string): void {
    const slot = this.slots[this.slotOf(participantId)];
    if (!slot) return;
    slot.name = name;
    void this.renderDecorations(slot);
  }

  private async renderDecorations(slot: Slot): Promise<void> {
    const name = slot.name || 'Guest';
    const colour = participantColour(slot.participantId);
    const size = this.settings.slotSize;
    try {
      const [label, placeholder] = await Promise.all([renderLabel(name, colour, size), renderPlaceholder(name, colour, size)]);
      if (slot.name !== name && slot.name) return; // renamed meanwhile: the newer render wins
      stampLabel(placeholder.data, size, label);
      slot.label = label;
      slot.placeholder = placeholder.data;
    } catch (err) {
      this.emit('error', err as Error);
    }
  }

  removeParticipant(participantId: string): void {
    const slot = this.slotOf(participantId);
    if (slot >= 0) this.slots[slot] = null;
  }

  private newSlot(participantId: string, name: string): Slot {
    const rate = this.settings.sampleRate;
    const slot: Slot = {
      participantId,
      name,
      picture: null,
      pictureAt: 0,
      black: false,
      resizing: false,
      // Prime with 30 ms (a 20 ms audio tick + wrtc's 10 ms chunks), never hold more than 120 ms.
      audio: new JitterBuffer((rate * 30) / 1000, (rate * 120) / 1000),
      label: null,
      placeholder: null,
    };
    void this.renderDecorations(slot);
    return slot;
  }

  private setPicture(slot: Slot, picture: Buffer): void {
    const size = this.settings.slotSize;
    slot.black = looksBlack(picture, size);
    if (slot.label) stampLabel(picture, size, slot.label);
    slot.picture = picture;
    slot.pictureAt = performance.now();
  }

  /** Latest decoded picture of a participant (kept until the next one: sample-and-hold). */
  pushVideo(participantId: string, frame: VideoFrame): void {
    const slot = this.slots[this.slotOf(participantId)];
    if (!slot) return;
    const target = this.settings.slotSize;
    if (frame.width === target.width && frame.height === target.height) {
      // libwebrtc hands over a fresh buffer per frame: it is ours to stamp the label on.
      this.setPicture(slot, Buffer.from(frame.data.buffer, frame.data.byteOffset, frame.data.byteLength));
      return;
    }
    // Another size (or a mid-call resolution change): rescale off the event loop, dropping
    // frames while one is in flight rather than queueing them.
    if (slot.resizing) return;
    slot.resizing = true;
    normalizeI420(frame, target)
      .then((buf) => this.setPicture(slot, buf))
      .catch(() => {})
      .finally(() => {
        slot.resizing = false;
      });
  }

  pushAudio(participantId: string, samples: Int16Array, sampleRate: number, channels: number): void {
    const slot = this.slots[this.slotOf(participantId)];
    if (!slot || sampleRate !== this.settings.sampleRate) return;
    slot.audio.push(toMono(samples, channels));
  }

  /** Moves tiles: participant id → where its picture goes and what part of it (absent = hidden). */
  setLayout(tiles: ReadonlyMap<string, { rect: Rect; crop?: Rect | null }>): void {
    const next: SlotPlacement[] = this.slots.map((s, k) => {
      const t = s ? tiles.get(s.participantId) : undefined;
      return t ? { visible: true, rect: t.rect, crop: t.crop ?? undefined } : { visible: false, rect: this.placements[k].rect };
    });
    const commands = placementCommands(this.placements, next, this.settings.slotSize);
    this.placements = next;
    if (commands.length && this.process) void this.process.sendCommands(commands);
  }

  /** Asks for a keyframe on one rung (or every rung); served within a tick, rate-limited per rung. */
  requestKeyframe(rungId?: string): void {
    for (const id of rungId ? [rungId] : this.rungs) this.keyPending.add(id);
  }

  /** The rungs currently encoded (ids, see pipeline/ladder.ts). */
  get activeRungs(): readonly string[] {
    return this.rungs;
  }

  /**
   * Sets which rungs are encoded: only those someone watches. A change starts a new process
   * with the new outputs and switches to it once it produces media (make before break).
   */
  setRungs(ids: Iterable<string>): void {
    const next = sortRungs(ids);
    if (next.join() === this.rungs.join()) return;
    this.rungs = next;
    if (this.trigger) void this.replace('rungs');
  }

  private scheduleTick(): void {
    if (this._closed) return;
    const period = 1000 / this.settings.fps;
    const next = this.clockStart + (this.ticksDone + 1) * period;
    this.timer = setTimeout(() => this.onTick(), Math.max(0, next - performance.now()));
  }

  private scheduleAudioTick(): void {
    if (this._closed) return;
    const next = this.clockStart + (this.audioTicksDone + 1) * AUDIO_TICK_MS;
    this.audioTimer = setTimeout(() => this.onAudioTick(), Math.max(0, next - performance.now()));
  }

  private onAudioTick(): void {
    const due = Math.floor((performance.now() - this.clockStart) / AUDIO_TICK_MS);
    if (due - this.audioTicksDone > 10) this.audioTicksDone = due - 1;
    while (this.audioTicksDone < due) {
      this.audioTicksDone++;
      const audio = this.slots.map((s) => {
        const pcm = s ? s.audio.pull(this.samplesPerAudioTick) : new Int16Array(this.samplesPerAudioTick);
        return Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength);
      });
      this.next?.writeAudio(audio);
      this.process?.writeAudio(audio);
    }
    this.scheduleAudioTick();
  }

  private onTick(): void {
    const period = 1000 / this.settings.fps;
    const due = Math.floor((performance.now() - this.clockStart) / period);
    // After a long stall (GC, a busy loop), skip ahead instead of bursting old ticks.
    if (due - this.ticksDone > 5) this.ticksDone = due - 1;
    while (this.ticksDone < due) {
      this.ticksDone++;
      this.tick();
    }
    this.scheduleTick();
  }

  private tick(): void {
    this.stats.ticks++;
    const proc = this.process;
    const now = performance.now();
    if (proc && proc.lastPacketAt > 0 && now - proc.lastPacketAt > FROZEN_AFTER_MS) {
      void this.replace('frozen: no output for 3 s');
      return;
    }
    const video = this.slots.map((s) => {
      if (!s) return this.emptyPicture;
      const live = s.picture !== null && !s.black && now - s.pictureAt < VIDEO_MUTED_AFTER_MS;
      if (live && s.pictureAt <= this.lastTickAt) this.stats.repeatedFrames++;
      return live ? s.picture! : (s.placeholder ?? this.emptyPicture);
    });
    this.lastTickAt = now;
    // The incoming process (make before break) is fed the same ticks.
    this.next?.writeTick(this.ticksDone, new Set(), video);
    if (!proc || !proc.allConnected) return;
    const keys = new Set<string>();
    for (const id of this.rungs) {
      const last = this.lastKeyAt.get(id) ?? 0;
      const due = this.keyPending.has(id) || now - last >= KEYFRAME_INTERVAL_MS;
      if (due && now - last >= KEYFRAME_MIN_GAP_MS) keys.add(id);
    }
    const keyed = proc.writeTick(this.ticksDone, keys, video);
    if (!keyed) {
      this.stats.skippedTicks++;
      return;
    }
    for (const id of keyed) {
      this.lastKeyAt.set(id, now);
      this.keyPending.delete(id);
      this.stats.keyframesForced++;
      this.stats.keyframesByRung[id] = (this.stats.keyframesByRung[id] ?? 0) + 1;
    }
  }

  private async spawn(reason: string): Promise<void> {
    if (this._closed || !this.trigger) return;
    if (this.starting) return this.starting;
    this.starting = (async () => {
      const rungs = this.rungs.map((id) => rungById(id)!);
      const proc = await MixerProcess.start(
        `${this.name}#${this.epoch + 1}`, this.settings, this.placements, this.trigger!, this.emptyPicture, rungs,
      );
      if (this._closed) {
        await proc.close();
        return;
      }
      const hasVideo = rungs.length > 0;
      let epoch = -1;
      proc.on('rtp', (key, buf) => {
        // Promote the incoming process on its first media (its first video frame is a keyframe).
        if (this.next === proc && (!hasVideo || key.startsWith('video:'))) {
          epoch = this.promote(proc, reason);
        }
        if (this.process !== proc) return;
        if (key.startsWith('video:')) {
          this.stats.videoBytesOut += buf.length;
          const rung = key.slice(6);
          this.stats.videoBytesByRung[rung] = (this.stats.videoBytesByRung[rung] ?? 0) + buf.length;
        }
        this.emit('rtp', key, buf, epoch);
      });
      proc.on('died', (info) => {
        this.stats.lastExit = info;
        if (this.process === proc) void this.replace(`exited (code ${info.code}, signal ${info.signal})`);
        else if (this.next === proc) {
          this.next = null;
          void this.replace(`replacement exited (code ${info.code})`);
        }
      });
      proc.ffmpeg.started.then((pid) => (this.nextPid = pid), () => {});
      this.next = proc;
      await new Promise<void>((resolve) => {
        if (proc.allConnected) return resolve();
        proc.once('connected', resolve);
        proc.once('died', () => resolve());
      });
    })().finally(() => {
      this.starting = null;
    });
    return this.starting;
  }

  private promote(proc: MixerProcess, reason: string): number {
    const old = this.process;
    this.process = proc;
    this.next = null;
    this.epoch++;
    this.stats.epoch = this.epoch;
    this.stats.pid = proc.ffmpeg.pid ?? this.nextPid;
    this.stats.capacity = proc.capacity;
    // Its own first frames were keyframes; the periodic interval starts now.
    for (const r of proc.rungs) this.lastKeyAt.set(r.id, performance.now());
    if (old) void old.close();
    // Layout commands sent while it was starting went to the old process.
    void proc.sendCommands(placementCommands(proc.initialPlacements, this.placements, this.settings.slotSize));
    if (reason !== 'start') this.emit('restarted', { reason, epoch: this.epoch });
    return this.epoch;
  }

  /**
   * Replaces the running process. A dead or hung one is replaced after a backoff; a change of
   * capacity or rungs starts the new process beside the old, which keeps serving until the
   * new one has media.
   */
  private async replace(reason: string): Promise<void> {
    if (this._closed) return;
    if (this.replacing) {
      this.replaceAgain = reason;
      return;
    }
    this.replacing = true;
    // Let a start in flight finish first: whatever it produced is what gets replaced.
    await this.starting?.catch(() => {});
    if (this._closed) return;
    const planned = reason === 'capacity' || reason === 'rungs';
    if (!planned) {
      const old = this.process;
      this.process = null;
      if (old) void old.close();
    }
    if (this.next) {
      const stale = this.next;
      this.next = null;
      void stale.close();
    }
    this.stats.restarts++;
    const delay = planned ? 0 : RESTART_BACKOFF_MS[Math.min(this.restartAttempts, RESTART_BACKOFF_MS.length - 1)];
    if (!planned) this.restartAttempts++;
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      this.spawn(reason)
        .then(() => {
          // A process that runs for a while resets the backoff.
          setTimeout(() => {
            if (this.process && this.process.ffmpeg.running) this.restartAttempts = 0;
          }, 10_000).unref();
        })
        .catch((err: Error) => {
          this.emit('error', err);
          this.replaceAgain = `spawn failed: ${err.message}`;
        })
        .finally(() => {
          this.replacing = false;
          const again = this.replaceAgain;
          this.replaceAgain = null;
          if (again) void this.replace(again);
        });
    }, delay);
  }

  /** For fault injection: the live FFmpeg process. */
  get currentProcess(): MixerProcess | null {
    return this.process;
  }

  async close(): Promise<void> {
    if (this._closed) return;
    this._closed = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.audioTimer) clearTimeout(this.audioTimer);
    if (this.restartTimer) clearTimeout(this.restartTimer);
    await this.starting?.catch(() => {});
    const procs = [this.process, this.next];
    this.process = this.next = null;
    await Promise.all(procs.map((p) => p?.close()));
    this.removeAllListeners();
  }
}
