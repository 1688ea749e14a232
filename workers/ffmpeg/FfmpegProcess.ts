// The one module that starts FFmpeg. Everything else describes what to run as an FfmpegSpec
// (pipeline/mixer/graph.ts) and gets back an FfmpegProcess: pid, exit reason, stop with
// escalation. fluent-ffmpeg does the spawning today; it was archived upstream in May 2025
// and is deprecated on npm, so nothing outside this file may import it (docs/ARCHITECTURE.md).
// Replacing it means re-implementing `start()` below with child_process.spawn(specToArgv()).

import { EventEmitter } from 'node:events';
import { execFile, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import ffmpeg from 'fluent-ffmpeg';
import type { FfmpegSpec } from '../../pipeline/mixer/graph.ts';

export interface FfmpegExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** True when stop() asked for it; false means the process died on its own. */
  requested: boolean;
  /** Last lines FFmpeg wrote to stderr, for the reason it ended. */
  stderrTail: string[];
}

const live = new Set<FfmpegProcess>();

/** FFmpeg through ffmpeg-guard.sh (dies with this process) where setpriv exists. */
const GUARD = fileURLToPath(new URL('./ffmpeg-guard.sh', import.meta.url));
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

export class FfmpegProcess extends EventEmitter<FfmpegProcessEvents> {
  private proc: ChildProcess | null = null;
  private stopRequested = false;
  private stopPromise: Promise<FfmpegExit> | null = null;
  private readonly tail: string[] = [];
  private exitInfo: FfmpegExit | null = null;
  readonly exited: Promise<FfmpegExit>;
  readonly started: Promise<number>;

  constructor(readonly name: string, spec: FfmpegSpec, ffmpegPath = process.env.FFMPEG_PATH) {
    super();
    let resolveExit!: (e: FfmpegExit) => void;
    let resolveStart!: (pid: number) => void;
    let rejectStart!: (e: Error) => void;
    this.exited = new Promise((r) => (resolveExit = r));
    this.started = new Promise((res, rej) => {
      resolveStart = res;
      rejectStart = rej;
    });
    this.started.catch(() => {});

    const command = ffmpeg();
    if (guardAvailable) {
      process.env.MCU_FFMPEG_BIN = ffmpegPath || 'ffmpeg';
      command.setFfmpegPath(GUARD);
    } else if (ffmpegPath) command.setFfmpegPath(ffmpegPath);
    for (const input of spec.inputs) command.input(input.url).inputOptions(input.options);
    command.addOption(spec.globalOptions);
    if (spec.filterComplex) command.complexFilter(spec.filterComplex);
    for (const output of spec.outputs) command.output(output.url).outputOptions(output.options);

    command.on('start', () => {
      const proc = (command as unknown as { ffmpegProc?: ChildProcess }).ffmpegProc ?? null;
      this.proc = proc;
      if (proc?.pid) resolveStart(proc.pid);
      // fluent-ffmpeg reports the end through 'end'/'error'; the child's own exit event
      // carries the signal, which is what tells a crash from a requested stop.
      proc?.once('exit', (code, signal) => {
        const info: FfmpegExit = { code, signal, requested: this.stopRequested, stderrTail: [...this.tail] };
        this.exitInfo = info;
        live.delete(this);
        resolveExit(info);
        this.emit('exit', info);
        if (!info.requested) this.emit('died', info);
      });
    });
    command.on('stderr', (line: string) => {
      this.tail.push(line);
      if (this.tail.length > 30) this.tail.shift();
      this.emit('stderr', line);
    });
    command.on('error', (err: Error) => {
      // Spawn failures never reach 'start' (e.g. ffmpeg not installed).
      if (!this.proc) {
        const info: FfmpegExit = { code: null, signal: null, requested: this.stopRequested, stderrTail: [err.message] };
        this.exitInfo = info;
        live.delete(this);
        rejectStart(err);
        resolveExit(info);
        this.emit('exit', info);
        if (!info.requested) this.emit('died', info);
      }
    });
    command.on('end', () => {});
    live.add(this);
    command.run();
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  get running(): boolean {
    return this.exitInfo === null;
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
          this.proc?.kill(signal);
        } catch {
          /* already gone */
        }
        const done = await Promise.race([
          this.exited.then(() => true),
          new Promise<boolean>((r) => setTimeout(() => r(false), signal === 'SIGKILL' ? 5000 : graceMs).unref()),
        ]);
        if (done) break;
      }
      return this.exited;
    })();
    return this.stopPromise;
  }

  /** For fault injection in tests: kill without marking the stop as requested. */
  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    this.proc?.kill(signal);
  }
}

/**
 * Seconds of media in a file: the container's duration, or, for a file cut short (a recording
 * part whose writer crashed has no duration in its header), the end of its last packet.
 */
export async function mediaDurationSec(file: string, ffprobePath = process.env.FFPROBE_PATH || 'ffprobe'): Promise<number> {
  const run = (args: string[]) =>
    new Promise<string>((resolve, reject) =>
      execFile(ffprobePath, ['-v', 'error', ...args, file], { maxBuffer: 256 * 1024 * 1024, timeout: 120_000 }, (err, stdout) =>
        err ? reject(err) : resolve(stdout),
      ),
    );
  const d = Number((await run(['-show_entries', 'format=duration', '-of', 'csv=p=0'])).trim());
  if (Number.isFinite(d) && d > 0) return d;
  let end = 0;
  for (const line of (await run(['-show_entries', 'packet=pts_time,duration_time', '-of', 'csv=p=0'])).split('\n')) {
    const [pts, dur] = line.split(',').map(Number);
    if (Number.isFinite(pts)) end = Math.max(end, pts + (Number.isFinite(dur) ? dur : 0));
  }
  return end;
}
