// The one module that starts FFmpeg. Everything else describes what to run as an FfmpegSpec
// (pipeline/ffmpeg/spec.ts) and gets back an FfmpegProcess: pid, exit reason, stop with
// escalation, and (when asked for) its stdin/stdout as pipes. The argv that runs is exactly
// specToArgv(spec): nothing re-orders or splits it (docs/ARCHITECTURE.md says why
// fluent-ffmpeg is gone).

import { EventEmitter } from 'node:events';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import { specToArgv, type FfmpegSpec } from '../../pipeline/ffmpeg/spec.ts';
import { packetsEndSec } from '../../pipeline/media/remux.ts';
import { log as rootLog, type Logger } from '../log.ts';
import { projectPath } from '../paths.ts';
import { spawnChild, type Child, type OutputSink } from './spawnChild.ts';

export interface FfmpegExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** True when stop() asked for it; false means the process died on its own. */
  requested: boolean;
  /** Last lines FFmpeg wrote to stderr, for the reason it ended. */
  stderrTail: string[];
}

export interface FfmpegOptions {
  /** FFmpeg binary; default FFMPEG_PATH, else `ffmpeg` on PATH. */
  ffmpegPath?: string;
  /** Give the process a stdin pipe (raw input) instead of none. */
  stdin?: boolean;
  /** Give the process a stdout pipe (raw output) instead of none. */
  stdout?: boolean;
  /** With `stdout`: read it straight into these buffers (no 'data' chunks; spawnChild.ts). */
  stdoutInto?: OutputSink;
  /** Logger with the owner's bindings (room, participant…); start, exit and death are logged. */
  log?: Logger;
  /** Applied to every stderr line before it is kept, emitted or logged (e.g. masking a key). */
  redactStderr?: (line: string) => string;
}

const live = new Set<FfmpegProcess>();

/** FFmpeg through ffmpeg-guard.sh (dies with this process) where setpriv exists. */
const GUARD = projectPath('workers', 'ffmpeg', 'ffmpeg-guard.sh');
const guardAvailable = (() => {
  for (const dir of (process.env.PATH ?? '').split(':')) if (dir && fs.existsSync(`${dir}/setpriv`)) return true;
  return false;
})();

/** Every FFmpeg process this Node process has started and not yet reaped. */
export function liveFfmpegProcesses(): ReadonlySet<FfmpegProcess> {
  return live;
}

/** Stops every live FFmpeg process (shutdown path). */
export async function stopAllFfmpeg(): Promise<void> {
  await Promise.all([...live].map((p) => p.stop()));
}

export interface FfmpegProcessEvents {
  /** The process exited without stop() being called. */
  died: [FfmpegExit];
  exit: [FfmpegExit];
  stderr: [string];
}

const TAIL_LINES = 30;

export class FfmpegProcess extends EventEmitter<FfmpegProcessEvents> {
  private readonly proc: Child;
  private stopRequested = false;
  private stopPromise: Promise<FfmpegExit> | null = null;
  private readonly tail: string[] = [];
  private exitInfo: FfmpegExit | null = null;
  private readonly log: Logger;
  private readonly redactStderr: ((line: string) => string) | null;
  readonly argv: readonly string[];
  readonly exited: Promise<FfmpegExit>;
  /** Resolves with the pid once the process runs; rejects when it could not be started. */
  readonly started: Promise<number>;

  constructor(readonly name: string, spec: FfmpegSpec, opts: FfmpegOptions = {}) {
    super();
    this.log = (opts.log ?? rootLog).child({ ffmpeg: name });
    this.redactStderr = opts.redactStderr ?? null;
    this.argv = specToArgv(spec);
    const bin = opts.ffmpegPath || process.env.FFMPEG_PATH || 'ffmpeg';
    let resolveExit!: (e: FfmpegExit) => void;
    let resolveStart!: (pid: number) => void;
    let rejectStart!: (e: Error) => void;
    this.exited = new Promise((r) => (resolveExit = r));
    this.started = new Promise((res, rej) => {
      resolveStart = res;
      rejectStart = rej;
    });
    this.started.catch(() => {});

    const [file, args] = guardAvailable ? [GUARD, this.argv] : [bin, this.argv];
    // posix_spawn where the addon is built (no fork of the server; spawnChild.ts).
    this.proc = spawnChild(file, args, {
      stdin: !!opts.stdin,
      stdout: !!opts.stdout,
      stdoutInto: opts.stdout ? opts.stdoutInto : undefined,
      // The guard execs MCU_FFMPEG_BIN; the child's environment says which, ours is untouched.
      env: ffmpegEnv(guardAvailable ? { MCU_FFMPEG_BIN: bin } : {}),
    });
    live.add(this);
    // A pipe whose reader is gone (FFmpeg exited) must not become an uncaught EPIPE.
    this.proc.stdin?.on('error', () => {});
    this.proc.stdout?.on('error', () => {});

    let partial = '';
    this.proc.stderr?.setEncoding('utf8');
    this.proc.stderr?.on('data', (chunk: string) => {
      const lines = (partial + chunk).split(/\r?\n|\r/);
      partial = lines.pop() ?? '';
      for (const line of lines) if (line) this.onStderr(line);
    });

    const finish = (code: number | null, signal: NodeJS.Signals | null, spawnError?: Error) => {
      if (this.exitInfo) return;
      if (partial) this.onStderr(partial);
      const info: FfmpegExit = {
        code,
        signal,
        requested: this.stopRequested,
        stderrTail: spawnError ? [spawnError.message] : [...this.tail],
      };
      this.exitInfo = info;
      live.delete(this);
      resolveExit(info);
      const fields = { ffmpegPid: this.proc.pid, code, signal, requested: info.requested };
      if (info.requested) this.log.info(fields, 'ffmpeg stopped');
      // A one-shot job (an encode, a join) ends by itself with 0; anything else is a death.
      else if (code === 0) this.log.info(fields, 'ffmpeg finished');
      else this.log.error({ ...fields, stderr: info.stderrTail.slice(-5) }, 'ffmpeg died');
      this.emit('exit', info);
      if (!info.requested) this.emit('died', info);
    };
    this.proc.once('spawn', () => {
      resolveStart(this.proc.pid!);
      this.log.info({ ffmpegPid: this.proc.pid, inputs: spec.inputs.length, outputs: spec.outputs.length }, 'ffmpeg started');
    });
    this.proc.once('error', (err) => {
      // Spawn failures (ffmpeg not installed) never reach 'spawn'.
      if (this.proc.pid === undefined) {
        rejectStart(err);
        finish(null, null, err);
      }
    });
    // 'close' waits for stderr to drain, so the tail is complete.
    this.proc.once('close', (code, signal) => finish(code, signal));
  }

  private onStderr(raw: string): void {
    const line = this.redactStderr ? this.redactStderr(raw) : raw;
    this.tail.push(line);
    if (this.tail.length > TAIL_LINES) this.tail.shift();
    this.emit('stderr', line);
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  get running(): boolean {
    return this.exitInfo === null;
  }

  /** The process's stdin, when started with `stdin: true`. */
  get stdin(): Writable | null {
    return this.proc.stdin;
  }

  /** The process's stdout, when started with `stdout: true`. */
  get stdout(): Readable | null {
    return this.proc.stdout;
  }

  /** Ends the process: SIGINT (FFmpeg finishes its outputs), then SIGTERM, then SIGKILL. */
  stop(graceMs = 1500): Promise<FfmpegExit> {
    if (this.stopPromise) return this.stopPromise;
    this.stopRequested = true;
    this.stopPromise = (async () => {
      if (this.exitInfo) return this.exitInfo;
      await this.started.catch(() => {});
      for (const signal of ['SIGINT', 'SIGTERM', 'SIGKILL'] as const) {
        if (this.exitInfo) break;
        try {
          this.proc.kill(signal);
        } catch {
          /* already gone */
        }
        const done = await Promise.race([
          this.exited.then(() => true),
          new Promise<boolean>((r) => setTimeout(() => r(false), signal === 'SIGKILL' ? 5000 : graceMs).unref()),
        ]);
        if (done) break;
        if (signal !== 'SIGKILL') this.log.warn({ ffmpegPid: this.proc.pid, signal }, 'ffmpeg ignored a stop signal; escalating');
      }
      return this.exited;
    })();
    return this.stopPromise;
  }

  /** For fault injection in tests: a signal without marking the stop as requested. */
  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    this.proc.kill(signal);
  }
}

/**
 * FFmpeg's environment: the server's, without the malloc setting that is for the Node process
 * only (MALLOC_MMAP_THRESHOLD_, docs/DEPLOY.md). With a fixed mmap threshold FFmpeg maps and
 * unmaps its frame buffers each time: bench:capacity, one room, two runs each way: video mixer
 * 0.29-0.31 → 0.44-0.46 core, decoders 0.06 → 0.09.
 */
export function ffmpegEnv(extra: Record<string, string> = {}, env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const out = { ...env, ...extra };
  delete out.MALLOC_MMAP_THRESHOLD_;
  return out;
}

/** ffprobe's stdout for `args` on `file`. */
function probe(file: string, args: string[], ffprobePath: string): Promise<string> {
  return new Promise<string>((resolve, reject) =>
    execFile(ffprobePath, ['-v', 'error', ...args, file], { maxBuffer: 256 * 1024 * 1024, timeout: 120_000 }, (err, stdout) => (err ? reject(err) : resolve(stdout))),
  );
}

/** Where a file's media ends, from its packets (pipeline/media/remux.ts packetsEndSec); what a recording's join offsets each part by. */
export async function mediaEndSec(file: string, ffprobePath = process.env.FFPROBE_PATH || 'ffprobe'): Promise<number> {
  return packetsEndSec(await probe(file, ['-show_entries', 'packet=stream_index,pts_time,duration_time', '-of', 'csv=p=0'], ffprobePath));
}

/** Seconds of media in a file: the container's duration, or, for a file cut short (no duration in its header), where its packets end. */
export async function mediaDurationSec(file: string, ffprobePath = process.env.FFPROBE_PATH || 'ffprobe'): Promise<number> {
  const d = Number((await probe(file, ['-show_entries', 'format=duration', '-of', 'csv=p=0'], ffprobePath)).trim());
  return Number.isFinite(d) && d > 0 ? d : mediaEndSec(file, ffprobePath);
}
