// A room's mix: participant slots, the 30 fps and 20 ms clocks (pipeline/mixer/clock.ts), the
// keyframe policy (pipeline/mixer/keyframePolicy.ts), and the FFmpeg pair behind them
// (MixerProcess: the video compositor and, beside it, the audio mixer), which MixerSupervisor
// starts, promotes and replaces.
//
// The clocks are Node's: every video tick each slot's latest picture is written again
// (sample-and-hold), every 20 ms exactly one Opus frame of each slot's audio (silence when it
// has none), so a stalled or missing participant never stalls the mix. Tile positions and
// voice settings are commands to the running processes; the pair is only replaced when one
// dies, the room outgrows its slot capacity, or the set of VP8 rungs changes (then the new pair
// keeps the audio process). H.264 rungs are a lane of their own (pipeline/mixer/lanes.ts,
// OnDemandLane): a video-only process fed the same ticks, started for the first H.264 watcher
// and stopped after the last, so neither touches the process the VP8 watchers are on.
// Subscribers are told nothing of any of this: egress keeps their RTP continuous across a switch.

import { EventEmitter } from 'node:events';
import type { MixerSettings } from '../../pipeline/mixer/graph.ts';
import { CanvasComposer, type PooledCanvas } from './CanvasComposer.ts';
import { SlotTable } from '../../pipeline/mixer/SlotTable.ts';
import type { Rect } from '../../pipeline/layout/geometry.ts';
import { MixerProcess, type MixStreamKey } from './MixerProcess.ts';
import { rungOfStreamKey } from '../../pipeline/mixer/streamKey.ts';
import { rungById, sortRungs } from '../../pipeline/ladder.ts';
import { triggerFrames, type TriggerFrames } from './trigger.ts';
import { newCounters, type Counters, type RoomMixerStats } from './stats.ts';
import type { SlotVoice } from '../../pipeline/audio/voice.ts';
import { AudioControls } from './AudioControls.ts';
import { MixSlot, type VideoFrame } from './MixSlot.ts';
import { envInt } from '../../pipeline/env.ts';
import { flatI420 } from '../../pipeline/media/i420.ts';
import { AUDIO_TICK_MS, MixClocks } from './MixClocks.ts';
import { KeyframePolicy } from '../../pipeline/mixer/keyframePolicy.ts';
import { MixerSupervisor } from './MixerSupervisor.ts';
import { OnDemandLane } from './OnDemandLane.ts';
import { splitRungs, type Lane } from '../../pipeline/mixer/lanes.ts';
import { log as rootLog, type Logger } from '../log.ts';
import { StageLatency } from '../../pipeline/audio/StageLatency.ts';
import { ContentLag } from '../../pipeline/mixer/ContentLag.ts';
import { audioPathOf, type MixAudioPath } from './audioPath.ts';
export type { MixAudioPath } from './audioPath.ts';
export type { VideoFrame } from './MixSlot.ts';
export type { RoomMixerStats, MixTiming } from './stats.ts';
import { EMPTY_STAGE, type MixTiming } from './stats.ts';

export interface RoomMixerEvents {
  /**
   * Packet of one of the mix's RTP streams; `epoch` changes whenever the process is replaced;
   * the last is the instant (performance.now()) its content was mixed: the video tick or the
   * 20 ms audio tick, one clock for both kinds (null while unknown).
   */
  rtp: [MixStreamKey, Buffer, number, number | null];
  /** A process replaced (not the first start) in a lane (pipeline/mixer/lanes.ts). */
  restarted: [{ reason: string; epoch: number; lane: Lane }];
  /** A participant's level after their slot's voice processing (dBFS, 100 ms). */
  level: [string, number];
  error: [Error];
}

/** Trailing slots empty this long: the mixer shrinks to the capacity its participants need. */
/** Default of MIXER_SHRINK_AFTER_MS. */
const SHRINK_AFTER_MS = 10_000;

export class RoomMixer extends EventEmitter<RoomMixerEvents> {
  /** Who is in which slot, and where each slot's picture goes. */
  private readonly table: SlotTable<MixSlot>;
  private trigger: TriggerFrames | null = null;
  /** The video tick (1/fps) and the 20 ms audio tick. */
  private readonly clocks: MixClocks;
  private lastTickAt = 0;
  private readonly keyframes = new KeyframePolicy();
  /** Every rung encoded (both lanes), and the main lane's (VP8). */
  private rungs: string[] = [];
  private mainRungs: string[] = [];
  private readonly supervisor: MixerSupervisor;
  /** The H.264 rungs' process, while any is watched. */
  private readonly h264: OnDemandLane;
  private readonly log: Logger;
  private _closed = false;
  private readonly emptyPicture: Buffer;
  /** Draws each tick's canvas from the slots' pictures and placements. */
  private readonly composer: CanvasComposer;
  /** The canvas's background alone: each new process's first (probed) picture. */
  private readonly blankCanvas: Buffer;
  private readonly samplesPerAudioTick: number;
  /** Voice chains, gains and the limiter, as commands to the serving process. */
  private readonly audioControls = new AudioControls(() => this.table.slots, () => this.supervisor.serving);
  private readonly counters: Counters;
  private shrinkTimer: NodeJS.Timeout | null = null;
  private readonly tickLate = new StageLatency(500);
  private readonly videoTickLate = new StageLatency(300);
  /** How old the content of each write is (sender reports map writes to their content's instant). */
  private readonly videoLag = new ContentLag();
  private readonly audioLag = new ContentLag();

  constructor(readonly name: string, readonly settings: MixerSettings, capacity = 4) {
    super();
    this.log = rootLog.child({ mixer: name });
    this.table = new SlotTable(capacity);
    this.emptyPicture = flatI420(settings.slotSize, 40, 128, 128);
    this.composer = new CanvasComposer(settings.canvas, settings.slotSize, settings.background);
    this.blankCanvas = this.composer.blank();
    this.samplesPerAudioTick = (settings.sampleRate * AUDIO_TICK_MS) / 1000;
    this.clocks = new MixClocks(settings.fps, (tick) => this.tick(tick), (tick) => this.audioTick(tick));
    this.counters = newCounters(capacity);
    const readyTimeoutMs = envInt(process.env, 'MIXER_READY_TIMEOUT_MS', 10_000, 100, 600_000);
    this.shrinkAfterMs = envInt(process.env, 'MIXER_SHRINK_AFTER_MS', SHRINK_AFTER_MS, 0, 3_600_000);
    this.supervisor = new MixerSupervisor(name, {
      start: (procName, adopt) => MixerProcess.start(
        procName, this.settings, this.table.capacity, this.trigger!, this.blankCanvas, this.mainRungs.map((id) => rungById(id)!), adopt,
      ),
      promoted: (proc, reason, epoch) => this.promoted(proc, reason, epoch, 'main'),
      rtp: (key, buf, epoch, at) => this.onRtp(key, buf, epoch, at),
      level: (k, db) => {
        const slot = this.table.slots[k];
        if (slot) this.emit('level', slot.participantId, db);
      },
      error: (err) => this.emit('error', err),
    }, this.log, readyTimeoutMs);
    this.h264 = new OnDemandLane(`${name}/h264`, {
      start: (procName, rungs) => MixerProcess.start(
        procName, this.settings, this.table.capacity, this.trigger!, this.blankCanvas, rungs.map((id) => rungById(id)!), null, false,
      ),
      promoted: (proc, reason, epoch) => this.promoted(proc, reason, epoch, 'h264'),
      rtp: (key, buf, epoch, at) => this.onRtp(key, buf, epoch, at),
      error: (err) => this.emit('error', err),
    }, this.log.child({ lane: 'h264' }), readyTimeoutMs);
  }

  private onRtp(key: MixStreamKey, buf: Buffer, epoch: number, at: number | null): void {
    const rung = rungOfStreamKey(key);
    if (rung !== null) {
      this.counters.videoBytesOut += buf.length;
      this.counters.videoBytesByRung[rung] = (this.counters.videoBytesByRung[rung] ?? 0) + buf.length;
    }
    this.emit('rtp', key, buf, epoch, at);
  }

  /** A snapshot of what the mixer has done (GET /rooms, /stats, /metrics, admission). */
  stats(): RoomMixerStats {
    const c = this.counters;
    const s = this.supervisor;
    return {
      ...c, keyframesByRung: { ...c.keyframesByRung }, videoBytesByRung: { ...c.videoBytesByRung },
      epoch: s.epoch, pid: s.pid, restarts: s.restarts, processesStarted: s.processesStarted, lastExit: s.lastExit, rungs: this.rungs,
      h264Lane: this.h264.stats(),
    };
  }

  /** The audio path's stages in the mixer over the recent ticks and packets (in-process only: bench/latency.ts; no HTTP route). */
  audioPath(): MixAudioPath {
    return audioPathOf(this.table.slots, this.supervisor.serving?.audio ?? null, this.tickLate, this.settings.sampleRate);
  }

  /**
   * The mix's timing over the last ~10 s (GET /rooms/{room}): each clock's timer lateness (Node's
   * event loop) and each FFmpeg's write → packet back at Node (its own work and its share of the CPU).
   */
  timing(): MixTiming {
    const serving = this.supervisor.serving;
    return {
      videoTickLateMs: this.videoTickLate.summary(),
      videoWriteToPacketMs: serving?.writeToPacket.summary() ?? EMPTY_STAGE,
      videoQueuedFrames: serving?.queuedFrames.summary() ?? EMPTY_STAGE,
      audioTickLateMs: this.tickLate.summary(),
      audioWriteToPacketMs: serving?.audio?.writeToPacket.summary() ?? EMPTY_STAGE,
    };
  }

  /** Changes with every process replacement (packets carry the epoch they were sent in). */
  get epoch(): number {
    return this.supervisor.epoch;
  }

  /** How long trailing slots stay empty before the mixer shrinks (MIXER_SHRINK_AFTER_MS). */
  private readonly shrinkAfterMs: number;

  /** How long a new process may take to open its inputs (MIXER_READY_TIMEOUT_MS). */
  get readyTimeoutMs(): number {
    return this.supervisor.readyTimeoutMs;
  }

  get closed(): boolean {
    return this._closed;
  }

  get capacity(): number {
    return this.table.capacity;
  }

  get pid(): number | undefined {
    return this.supervisor.serving?.ffmpeg.pid;
  }

  /** Starts the clock and the first process. Resolves once FFmpeg has all its inputs. */
  async start(): Promise<void> {
    this.trigger = await triggerFrames(this.settings.background, this.settings.fps);
    this.clocks.start(performance.now());
    this.h264.begin();
    await this.supervisor.start();
  }

  slotOf(participantId: string): number {
    return this.table.slotOf(participantId);
  }

  addParticipant(participantId: string, name = ''): number {
    const { slot, grew } = this.table.add(participantId, () => this.newSlot(participantId, name));
    if (grew) {
      // The room outgrew this process: a larger one replaces it, slots keep their numbers.
      this.counters.capacity = this.table.capacity;
      this.replaceAll('capacity');
    }
    return slot;
  }

  /** Changes a participant's label (and placeholder) from the next frame on. */
  setName(participantId: string, name: string): void {
    const slot = this.table.slots[this.slotOf(participantId)];
    if (!slot) return;
    slot.name = name;
    this.renderDecorations(slot);
  }

  private renderDecorations(slot: MixSlot): void {
    slot.renderDecorations(this.settings.slotSize).catch((err: Error) => this.emit('error', err));
  }

  removeParticipant(participantId: string): void {
    this.table.remove(participantId);
    this.scheduleShrink();
  }

  /**
   * A room that grew (4 → 8 → 16 slots) and emptied again keeps paying for its empty slots (their
   * audio inputs and voice chains): once the trailing slots have been empty for
   * MIXER_SHRINK_AFTER_MS (10 s),
   * a smaller process replaces this one (make before break). Only trailing slots go, so every
   * participant keeps its slot number (and its subscribers their mix-minus).
   */
  private scheduleShrink(): void {
    if (this.shrinkTimer || this._closed) return;
    if (this.table.shrinkTarget() >= this.table.capacity) return;
    this.shrinkTimer = setTimeout(() => {
      this.shrinkTimer = null;
      const target = this.table.shrinkTarget();
      if (this._closed || target >= this.table.capacity) return;
      this.log.info({ from: this.table.capacity, to: target }, 'mixer shrinks to fewer slots');
      this.table.shrinkTo(target);
      this.counters.capacity = target;
      this.replaceAll('capacity');
    }, this.shrinkAfterMs);
    this.shrinkTimer.unref();
  }

  /** Every lane's process is replaced (the slot capacity changed). */
  private replaceAll(reason: string): void {
    void this.supervisor.replace(reason);
    this.h264.replace(reason);
  }

  private newSlot(participantId: string, name: string): MixSlot {
    const slot = new MixSlot(participantId, name, this.settings.sampleRate);
    this.renderDecorations(slot);
    return slot;
  }

  /**
   * Latest decoded picture of a participant (kept until the next one: sample-and-hold). Frames
   * come at the slot size from the ingest's decoder, which scales and letterboxes any input;
   * anything else is counted and dropped. `contentAt`: where the frame's content stands on the
   * content clock (its arrival; performance.now()).
   */
  pushVideo(participantId: string, frame: VideoFrame, contentAt?: number): void {
    const k = this.slotOf(participantId);
    const slot = this.table.slots[k];
    if (!slot) {
      frame.release?.();
      return;
    }
    const placement = this.table.placements[k];
    const shown = placement?.visible ? placement.crop : undefined;
    const now = performance.now();
    if (!slot.setPicture(frame, this.settings.slotSize, shown, now, contentAt ?? now)) this.counters.wrongSizeFrames++;
  }

  /** `contentAt`: where the first sample stands on the same content clock as the pictures (NaN: unknown). */
  pushAudio(participantId: string, samples: Int16Array, sampleRate: number, channels: number, contentAt = NaN): void {
    this.table.slots[this.slotOf(participantId)]?.pushAudio(samples, sampleRate, channels, contentAt);
  }

  /** Moves tiles: participant id → where its picture goes and what part of it (absent = hidden); drawn from the next tick. */
  setLayout(tiles: ReadonlyMap<string, { rect: Rect; crop?: Rect | null }>): void {
    this.table.place(tiles);
  }

  /** Switches a participant's voice processing (runtime commands; no restart). */
  setVoice(participantId: string, voice: SlotVoice): void {
    const slot = this.table.slots[this.slotOf(participantId)];
    if (slot) this.audioControls.setVoice(slot, voice);
  }

  /** The AGC's gain for a participant (dB), computed in Node (pipeline/audio/GainRider.ts). */
  setGain(participantId: string, db: number): void {
    const k = this.slotOf(participantId);
    const slot = this.table.slots[k];
    if (slot) this.audioControls.setGain(k, slot, db);
  }

  /** Switches the limiter after the mix (full mix and every mix-minus). */
  setLimiter(on: boolean): void {
    this.audioControls.setLimiter(on);
  }

  /** Asks for a keyframe on one rung (or every rung); served within a tick, rate-limited per rung. */
  requestKeyframe(rungId?: string): void {
    this.keyframes.request(rungId ? [rungId] : this.rungs);
  }

  /**
   * The rungs whose consumers cannot ask for keyframes (taps, recorders, subscribers without
   * PLI/FIR): they get one every KEYFRAME_INTERVAL_MS; the others only when asked.
   */
  setPeriodicKeyframes(rungIds: Iterable<string>): void {
    this.keyframes.setPeriodic(rungIds);
  }

  /** The rungs currently encoded (ids, see pipeline/ladder.ts). */
  get activeRungs(): readonly string[] {
    return this.rungs;
  }

  /**
   * Sets which rungs are encoded: only those someone watches. A change of the VP8 rungs starts
   * a new main process with the new outputs and switches to it once it produces media (make
   * before break); a change of the H.264 rungs starts, replaces or stops the H.264 lane's.
   */
  setRungs(ids: Iterable<string>): void {
    const next = sortRungs(ids);
    if (next.join() === this.rungs.join()) return;
    this.rungs = next;
    const lanes = splitRungs(next);
    this.h264.setRungs(lanes.h264);
    if (lanes.main.join() === this.mainRungs.join()) return;
    this.mainRungs = lanes.main;
    if (this.trigger) void this.supervisor.replace('rungs');
  }

  /** One 20 ms frame of every slot's audio (silence for an empty slot) to the audio mixer. */
  private audioTick(tick: number): void {
    const at = this.clocks.audio.at(tick); // when this frame is mixed
    const now = performance.now();
    this.tickLate.add(now - at);
    const audio = this.table.slots.map((s) => {
      const pcm = s ? s.pullAudio(this.samplesPerAudioTick, now) : new Int16Array(this.samplesPerAudioTick);
      return Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength);
    });
    // The sender reports map this frame to when its content was captured, on the pictures' clock.
    const content = this.audioLag.contentAt(at, this.table.slots.map((s) => s?.audioContentAt ?? NaN));
    // A pair that adopted the serving pair's audio process shares it: one write.
    const { serving, incoming } = this.supervisor;
    if (incoming && incoming.audio !== serving?.audio) incoming.writeAudio(audio, content);
    serving?.writeAudio(audio, content);
  }

  private tick(tick: number): void {
    this.counters.ticks++;
    const now = performance.now();
    this.videoTickLate.add(now - this.clocks.video.at(tick));
    const mainLive = this.supervisor.watchdog(now);
    const h264Live = this.h264.watchdog(now);
    if (!mainLive && !h264Live) return;
    const ages: number[] = [];
    const video = this.table.slots.map((s) => {
      if (!s) return null;
      const live = s.livePicture(now);
      if (live && s.pictureAt <= this.lastTickAt) this.counters.repeatedFrames++;
      if (live) ages.push(s.pictureContentAt);
      return live ?? s.placeholder ?? this.emptyPicture;
    });
    this.lastTickAt = now;
    // The sender reports map this tick to when its pictures' content arrived, not when it was mixed.
    const content = this.videoLag.contentAt(this.clocks.video.at(tick), ages);
    const due = this.keyframes.due(this.rungs, now);
    const keyed = new Set<string>();
    const { canvas, release } = this.composer.compose(video, this.table.placements, this.table.version);
    if (mainLive && !this.writeLane(this.supervisor, due, canvas, content, keyed)) this.counters.skippedTicks++;
    // A tick the H.264 lane's process skips is not counted: skippedTicks is the main mix's.
    if (h264Live) this.writeLane(this.h264, due, canvas, content, keyed);
    release();
    this.keyframes.sent(keyed, now);
    for (const id of keyed) {
      this.counters.keyframesForced++;
      this.counters.keyframesByRung[id] = (this.counters.keyframesByRung[id] ?? 0) + 1;
    }
  }

  /**
   * One lane's tick: its incoming process (make before break) gets the same canvas, its
   * serving one the keyframes due on its rungs (those it forced are added to `keyed`). False
   * when the serving process is not keeping up and the tick was skipped.
   */
  private writeLane(
    lane: { serving: MixerProcess | null; incoming: MixerProcess | null },
    due: ReadonlySet<string>, canvas: PooledCanvas, at: number, keyed: Set<string>,
  ): boolean {
    lane.incoming?.writeTick(new Set(), canvas, at);
    const proc = lane.serving;
    if (!proc || !proc.allConnected) return true;
    const forced = proc.writeTick(due, canvas, at);
    if (!forced) return false;
    for (const id of forced) keyed.add(id);
    return true;
  }

  /** A new process serves: the audio process gets the state commands sent while it was starting. */
  private promoted(proc: MixerProcess, reason: string, epoch: number, lane: Lane): void {
    if (lane === 'main') this.counters.capacity = proc.capacity;
    // Its own first frames were keyframes; the periodic interval starts now.
    this.keyframes.started(proc.rungs.map((r) => r.id), performance.now());
    if (lane === 'main') this.audioControls.replay(proc);
    if (reason !== 'start') {
      this.log.info({ reason, epoch, lane, ffmpegPid: proc.ffmpeg.pid }, 'mixer process replaced');
      this.emit('restarted', { reason, epoch, lane });
    }
  }

  /** For fault injection: the live FFmpeg process. */
  get currentProcess(): MixerProcess | null {
    return this.supervisor.serving;
  }

  /** The H.264 lane's serving process (null while no H.264 rung is encoded). */
  get h264Process(): MixerProcess | null {
    return this.h264.serving;
  }

  async close(): Promise<void> {
    if (this._closed) return this.supervisor.close();
    this._closed = true;
    this.clocks.stop();
    if (this.shrinkTimer) clearTimeout(this.shrinkTimer);
    await Promise.all([this.supervisor.close(), this.h264.close()]);
    this.removeAllListeners();
  }
}
