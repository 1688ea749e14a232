// One publisher's video decoder: an FFmpeg process fed whole compressed frames (IVF framing
// on stdin) that writes yuv420p frames of the mixer's slot size on stdout, the picture
// letterboxed inside (pipeline/decoder/spec.ts). Each output frame comes with its content
// rect, known from the bitstream's frame size (pipeline/media/frameSize.ts) — FFmpeg keeps
// frames in order, one out per frame in, so a queue of the frames inside pairs them.
//
// The process starts on the first keyframe; a process that does not start, stops producing
// while fed, or dies is logged and replaced (backoff), and the owner is asked for a keyframe
// (`needKeyframe`): the new decoder is fed from a keyframe on. A stop is SIGINT → SIGTERM →
// SIGKILL through FfmpegProcess. Nothing here throws into the room.

import { EventEmitter } from 'node:events';
import { FfmpegProcess } from '../ffmpeg/FfmpegProcess.ts';
import { decoderSpec, IVF_FOURCC, letterboxRect } from '../../pipeline/decoder/spec.ts';
import { frameSize, type Size } from '../../pipeline/media/frameSize.ts';
import { ivfFileHeader, ivfFrame } from '../../pipeline/mixer/ivf.ts';
import type { Rect } from '../../pipeline/layout/geometry.ts';
import type { VideoCodec } from '../../pipeline/rtp/depacketize.ts';
import { log as rootLog, type Logger } from '../log.ts';

export interface SlotFrame {
  width: number;
  height: number;
  data: Uint8Array;
  /** Where the picture is inside the frame (the rest is black letterbox). */
  content: Rect;
  /** Size of the picture as sent (before scaling). */
  source: Size;
  /**
   * Gives the buffer back to the decoder for a later frame, once its holder no longer reads it
   * (MixSlot: when the next picture replaces it). Optional: a frame never released is collected.
   */
  release?: () => void;
}

/** Frame buffers a decoder keeps for reuse (a held picture, one being filled, one spare). */
const SPARE_FRAMES = 3;

/** Where a replaced process's last reads go (dropped). */
const SCRATCH = Buffer.alloc(64 * 1024);

export interface VideoDecoderEvents {
  frame: [SlotFrame];
  /** The decoder can only continue from a keyframe (it was (re)started or fell behind). */
  needKeyframe: [string];
  restarted: [string];
}

export interface VideoDecoderStats {
  framesIn: number;
  framesOut: number;
  restarts: number;
  droppedBehind: number;
  lastExit: string | null;
}

const START_TIMEOUT_MS = 5000;
/** Fed but silent this long: hung, replace it. */
const FROZEN_AFTER_MS = 3000;
const BACKOFF_MS = [200, 1000, 2000, 5000];
/** More than this many bytes queued on stdin: FFmpeg is behind; drop until a keyframe. */
const MAX_QUEUED_BYTES = 4 * 1024 * 1024;
/**
 * The oldest frame written and not yet out is older than this: FFmpeg is behind; drop until a
 * keyframe. The byte bound alone let a 360p stream queue a minute of video (4 MB at 500 kb/s),
 * and the tile played it that late; a picture half a second old is no use to a conversation.
 */
export const MAX_BEHIND_MS = 500;

export class VideoDecoder extends EventEmitter<VideoDecoderEvents> {
  private proc: FfmpegProcess | null = null;
  private readonly frameBytes: number;
  private partial: Buffer | null = null;
  private partialFill = 0;
  /**
   * Buffers given back (SlotFrame.release): a 345,600-byte picture allocated per frame was a
   * fresh mmap (the server's fixed mmap threshold), page-faulted in as it was filled.
   */
  private readonly spare: Buffer[] = [];
  /** Which process's output is current (a replaced one's reads are dropped). */
  private generation = 0;
  /** The frames in FFmpeg (written, not yet out), oldest first: each one's rect and when it went in. */
  private readonly inFlight: Array<{ rect: { content: Rect; source: Size }; at: number }> = [];
  private current: { content: Rect; source: Size } | null = null;
  private waitKeyframe = true;
  private restartTimer: NodeJS.Timeout | null = null;
  private watchdog: NodeJS.Timeout | null = null;
  private attempts = 0;
  private lastWriteAt = 0;
  /** When the current process got its first frame (0: none yet). */
  private firstWriteAt = 0;
  private lastOutAt = 0;
  private pts = 0;
  private _closed = false;
  private readonly log: Logger;
  readonly stats: VideoDecoderStats = { framesIn: 0, framesOut: 0, restarts: 0, droppedBehind: 0, lastExit: null };

  constructor(readonly name: string, readonly codec: VideoCodec, readonly slot: Size, log: Logger = rootLog) {
    super();
    this.log = log.child({ decoder: name, codec });
    this.frameBytes = slot.width * slot.height + 2 * Math.ceil(slot.width / 2) * Math.ceil(slot.height / 2);
  }

  get closed(): boolean {
    return this._closed;
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  /** One whole compressed frame, in decode order. */
  write(frame: { data: Buffer; keyframe: boolean; timestamp: number }): void {
    if (this._closed) return;
    if (this.waitKeyframe && !frame.keyframe) return;
    if (frame.keyframe) {
      const size = frameSize(this.codec, frame.data);
      if (size) this.current = { source: size, content: letterboxRect(size, this.slot) };
    }
    if (!this.proc) {
      // A new process starts on a keyframe, once any backoff is over.
      if (this.restartTimer || !frame.keyframe) {
        this.waitKeyframe = true;
        return;
      }
      this.start(this.current?.source ?? this.slot);
    }
    this.waitKeyframe = false;
    const proc = this.proc;
    if (!proc?.stdin || !proc.running) return;
    const now = performance.now();
    // Only once it has put a frame out (a process's start is not its being behind), and with more
    // than one frame inside (a decoder may hold one back until the next: a sparse sender, e.g. a
    // still screen at 1 fps, is not a backlog).
    const behind = this.lastOutAt > 0 && this.inFlight.length > 1 && now - this.inFlight[0].at > MAX_BEHIND_MS;
    if (behind || proc.stdin.writableLength > MAX_QUEUED_BYTES) {
      this.stats.droppedBehind++;
      this.waitKeyframe = true;
      this.emit('needKeyframe', 'decoder behind');
      return;
    }
    this.inFlight.push({ rect: this.current ?? { source: this.slot, content: { x: 0, y: 0, ...this.slot } }, at: now });
    if (this.inFlight.length > 64) this.inFlight.shift();
    this.stats.framesIn++;
    this.lastWriteAt = now;
    if (!this.firstWriteAt) this.firstWriteAt = this.lastWriteAt;
    // IVF timestamps in 90 kHz units (the header says so); FFmpeg passes them through.
    proc.stdin.write(ivfFrame(frame.data, this.pts++));
  }

  private start(size: Size): void {
    // Before the process exists: its stdout's first buffer is asked for as it is made.
    this.partial = null;
    this.partialFill = 0;
    const gen = ++this.generation;
    const proc = new FfmpegProcess(`decode-${this.name}`, decoderSpec(this.codec, this.slot), {
      stdin: true, stdout: true, log: this.log,
      stdoutInto: { buffer: () => this.outputSpace(gen), written: (n) => this.outputWritten(gen, n) },
    });
    this.proc = proc;
    this.inFlight.length = 0;
    this.pts = 0;
    this.lastOutAt = 0;
    this.firstWriteAt = 0;
    proc.stdin!.write(ivfFileHeader(size.width, size.height, 90000, IVF_FOURCC[this.codec]));
    proc.on('died', (info) => {
      if (this.proc !== proc) return;
      this.stats.lastExit = `code ${info.code}, signal ${info.signal}: ${info.stderrTail.slice(-2).join(' | ')}`;
      this.replace(`exited (${this.stats.lastExit})`);
    });
    const timer = setTimeout(() => {
      if (this.proc === proc && !proc.pid) this.replace('did not start within 5 s');
    }, START_TIMEOUT_MS);
    timer.unref();
    proc.started.then(() => clearTimeout(timer), (err: Error) => {
      clearTimeout(timer);
      if (this.proc === proc) this.replace(`could not start: ${err.message}`);
    });
    if (!this.watchdog) {
      this.watchdog = setInterval(() => this.checkFrozen(), 1000);
      this.watchdog.unref();
    }
  }

  /**
   * Where the decoder's next stdout read goes: the rest of the picture being filled (a whole
   * one: no frame straddles two buffers, no copy). A replaced process's reads land in scratch.
   */
  private outputSpace(gen: number): Uint8Array {
    if (gen !== this.generation) return SCRATCH;
    if (!this.partial) {
      this.partial = this.spare.pop() ?? Buffer.allocUnsafeSlow(this.frameBytes);
      this.partialFill = 0;
    }
    return this.partial.subarray(this.partialFill);
  }

  private outputWritten(gen: number, n: number): void {
    if (gen !== this.generation || !this.partial) return;
    this.partialFill += n;
    if (this.partialFill < this.frameBytes) return;
    const frame = this.partial;
    this.partial = null;
    this.emitFrame(frame);
  }

  private emitFrame(data: Buffer): void {
    const rect = this.inFlight.shift()?.rect ?? this.current ?? { source: this.slot, content: { x: 0, y: 0, ...this.slot } };
    this.stats.framesOut++;
    this.lastOutAt = performance.now();
    this.attempts = 0;
    // The consumer keeps (and stamps labels on) the frame until it gives it back.
    let given = false;
    const release = () => {
      if (given) return;
      given = true;
      if (this.spare.length < SPARE_FRAMES && !this._closed) this.spare.push(data);
    };
    this.emit('frame', { width: this.slot.width, height: this.slot.height, data, content: rect.content, source: rect.source, release });
  }

  private checkFrozen(): void {
    const proc = this.proc;
    if (!proc || this._closed || !proc.running || !this.firstWriteAt) return;
    const now = performance.now();
    const fed = now - this.lastWriteAt < 1000;
    const silentSince = Math.max(this.lastOutAt, this.firstWriteAt);
    if (fed && now - silentSince > FROZEN_AFTER_MS) this.replace('fed but no frame out for 3 s');
  }

  /** Replaces the process after a backoff; the next one starts from a keyframe. */
  private replace(reason: string): void {
    if (this._closed) return;
    const old = this.proc;
    this.proc = null;
    this.generation++; // what the old process still writes is not a picture any more
    if (old) void old.stop(500);
    this.stats.restarts++;
    this.waitKeyframe = true;
    const delay = BACKOFF_MS[Math.min(this.attempts, BACKOFF_MS.length - 1)];
    this.attempts++;
    this.log.warn({ reason, delayMs: delay, restarts: this.stats.restarts }, 'video decoder replaced');
    this.emit('restarted', reason);
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      if (!this._closed) this.emit('needKeyframe', reason);
    }, delay);
  }

  /** For fault injection in tests. */
  get process(): FfmpegProcess | null {
    return this.proc;
  }

  async close(): Promise<void> {
    if (this._closed) return;
    this._closed = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    if (this.watchdog) clearInterval(this.watchdog);
    const proc = this.proc;
    this.proc = null;
    this.generation++;
    this.removeAllListeners();
    if (proc) {
      proc.stdin?.end();
      await proc.stop(500);
    }
  }
}
