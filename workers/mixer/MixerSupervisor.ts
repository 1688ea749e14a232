// Owns a room's mixer processes (each a MixerProcess: the video FFmpeg and its audio FFmpeg):
// starts one, waits for its readiness (every input open, with a timeout), promotes it on its
// first media, and replaces it: make before break for a planned change (capacity, rungs), after
// a backoff when it died or hung (pipeline/mixer/restartPolicy.ts). Processes it stops are kept
// in a set that close() waits for; close() is one shared promise. It paces and decides nothing
// about media: RoomMixer writes the ticks and hears the packets through the hooks.

import { rungOfStreamKey, type MixStreamKey } from '../../pipeline/mixer/streamKey.ts';
import { isFrozen, isPlanned, isStuckIncoming, NO_FIRST_MEDIA_MS, RestartBackoff, STABLE_AFTER_MS } from '../../pipeline/mixer/restartPolicy.ts';
import type { FfmpegExit } from '../ffmpeg/FfmpegProcess.ts';
import type { AudioMixerProcess } from './AudioMixerProcess.ts';
import type { MixerProcess } from './MixerProcess.ts';
import type { Logger } from '../log.ts';

/** A mixer FFmpeg that has not opened all its inputs within this long is given up on. */
export class MixerStartTimeout extends Error {
  constructor(readonly name: string, readonly timeoutMs: number) {
    super(`mixer ${name} did not open its inputs within ${timeoutMs} ms`);
  }
}

export interface SupervisorHooks {
  /** Starts a pair for the room as it is now; `adopt` is the serving pair's audio process to keep. */
  start(name: string, adopt: AudioMixerProcess | null): Promise<MixerProcess>;
  /** `proc` serves from now on (`reason` is 'start' for the first); the supervisor has switched to it. */
  promoted(proc: MixerProcess, reason: string, epoch: number): void;
  /** A packet of the serving process, `epoch` the one it was promoted with. */
  rtp(key: MixStreamKey, buf: Buffer, epoch: number, contentAt: number | null): void;
  /** A slot's level from the serving process. */
  level(slot: number, db: number): void;
  error(err: Error): void;
}

export class MixerSupervisor {
  private process: MixerProcess | null = null;
  /** The process being started to replace `process` (make before break). */
  private next: MixerProcess | null = null;
  private nextPid: number | undefined;
  /** When `next` opened its inputs (it is replaced if it then produces no media). */
  private nextConnectedAt = 0;
  private starting: Promise<void> | null = null;
  private replacing = false;
  private replaceAgain: string | null = null;
  private restartTimer: NodeJS.Timeout | null = null;
  private readonly backoff = new RestartBackoff();
  /** Closes of replaced processes, awaited by close(). */
  private readonly closingProcs = new Set<Promise<void>>();
  private closing: Promise<void> | null = null;
  /** Spawning is allowed once the owner has called start() (it needs its trigger frames first). */
  private began = false;
  epoch = 0;
  restarts = 0;
  /** Video processes started (the first, each swap for rungs or capacity, each restart; some never served). */
  processesStarted = 0;
  /** The serving video FFmpeg's pid (as known when it was promoted). */
  pid: number | undefined;
  lastExit: FfmpegExit | null = null;

  constructor(
    private readonly name: string,
    private readonly hooks: SupervisorHooks,
    private readonly log: Logger,
    readonly readyTimeoutMs: number,
    /** Where epochs continue from (a lane started again after it stopped keeps counting up). */
    firstEpoch = 0,
  ) {
    this.epoch = firstEpoch;
  }

  /** The pair serving now (null while none is). */
  get serving(): MixerProcess | null {
    return this.process;
  }

  /** The pair starting to replace it (fed the same ticks until it is promoted). */
  get incoming(): MixerProcess | null {
    return this.next;
  }

  get closed(): boolean {
    return this.closing !== null;
  }

  /** Starts the first process. Resolves once FFmpeg has all its inputs. */
  start(): Promise<void> {
    this.began = true;
    return this.spawn('start');
  }

  /**
   * Called on every video tick: replaces a serving process that has gone quiet, or an incoming
   * one that opened its inputs but never sent media. False when the tick should not be written.
   */
  watchdog(now: number): boolean {
    const proc = this.process;
    if (proc && isFrozen(proc.lastPacketAt, now)) {
      void this.replace('frozen: no output for 3 s');
      return false;
    }
    if (this.next && isStuckIncoming(this.nextConnectedAt, now) && !this.replacing) {
      // An incoming process that opened its inputs but sends nothing: drop it and start another.
      // The one serving (if any) keeps serving meanwhile (a planned replacement).
      const stuck = this.next;
      this.next = null;
      this.nextConnectedAt = 0;
      this.log.warn({ ffmpegPid: stuck.ffmpeg.pid, waitedMs: NO_FIRST_MEDIA_MS }, 'incoming mixer process sent no media; replacing it');
      void this.closeProc(stuck);
      void this.replace(this.process ? 'rungs' : `no media within ${NO_FIRST_MEDIA_MS / 1000} s of opening its inputs`);
    }
    return true;
  }

  private spawn(reason: string): Promise<void> {
    if (this.closed || !this.began) return Promise.resolve();
    if (this.starting) return this.starting;
    this.starting = (async () => {
      // Other rungs only: keep the serving audio process (the audio is not switched).
      const serving = this.process;
      const adopt = reason === 'rungs' && serving?.ffmpeg.running && serving.audio?.ffmpeg.running && serving.ownsAudioProcess ? serving.audio : null;
      this.processesStarted++;
      const proc = await this.hooks.start(`${this.name}#${this.epoch + 1}`, adopt);
      if (this.closed) {
        await proc.close();
        return;
      }
      const hasVideo = proc.rungs.length > 0;
      let epoch = -1;
      proc.on('rtp', (key, buf, at) => {
        // Promote the incoming process on its first media (its first video frame is a keyframe).
        if (this.next === proc && (!hasVideo || rungOfStreamKey(key) !== null)) {
          epoch = this.promote(proc, reason);
        }
        if (this.process === proc) this.hooks.rtp(key, buf, epoch, at);
      });
      proc.on('level', (k, db) => {
        if (this.process === proc) this.hooks.level(k, db);
      });
      proc.on('died', (info) => {
        this.lastExit = info;
        if (this.process === proc) void this.replace(`exited (code ${info.code}, signal ${info.signal})`);
        else if (this.next === proc) {
          this.next = null;
          // The pair's other process may still run: stop it.
          void this.closeProc(proc);
          void this.replace(`replacement exited (code ${info.code})`);
        }
      });
      proc.ffmpeg.started.then((pid) => (this.nextPid = pid), () => {});
      this.next = proc;
      this.nextConnectedAt = 0;
      // Readiness: every input opened, or the process died (the died handler replaces it),
      // or the timeout: the process is stopped and the caller gets a MixerStartTimeout.
      const ready = await new Promise<boolean>((resolve) => {
        if (proc.allConnected) return resolve(true);
        const timer = setTimeout(() => resolve(false), this.readyTimeoutMs);
        proc.once('connected', () => (clearTimeout(timer), resolve(true)));
        proc.once('died', () => (clearTimeout(timer), resolve(true)));
      });
      if (!ready) {
        if (this.next === proc) this.next = null;
        this.log.error({ reason, timeoutMs: this.readyTimeoutMs, ffmpegPid: proc.ffmpeg.pid }, 'mixer did not open its inputs in time; stopping it');
        await this.closeProc(proc);
        throw new MixerStartTimeout(proc.name, this.readyTimeoutMs);
      }
      if (this.next === proc) this.nextConnectedAt = performance.now();
    })().finally(() => {
      this.starting = null;
    });
    return this.starting;
  }

  private promote(proc: MixerProcess, reason: string): number {
    const old = this.process;
    if (old?.audio && old.audio === proc.audio) old.handOverAudio(proc);
    this.process = proc;
    this.next = null;
    this.epoch++;
    this.pid = proc.ffmpeg.pid ?? this.nextPid;
    if (old) void this.closeProc(old);
    this.nextConnectedAt = 0;
    this.hooks.promoted(proc, reason, this.epoch);
    return this.epoch;
  }

  /** Stops a process that is no longer used; close() waits for it. */
  private closeProc(proc: MixerProcess): Promise<void> {
    const p = proc.close().catch((err: Error) => this.log.error({ err }, 'closing a mixer process failed'));
    this.closingProcs.add(p);
    void p.finally(() => this.closingProcs.delete(p));
    return p;
  }

  /**
   * Replaces the running process. A dead or hung one is replaced after a backoff; a change of
   * capacity or rungs starts the new process beside the old, which keeps serving until the
   * new one has media.
   */
  async replace(reason: string): Promise<void> {
    if (this.closed) return;
    if (this.replacing) {
      this.replaceAgain = reason;
      return;
    }
    this.replacing = true;
    // Let a start in flight finish first: whatever it produced is what gets replaced.
    await this.starting?.catch(() => {});
    if (this.closed) return;
    const planned = isPlanned(reason);
    if (!planned) {
      const old = this.process;
      this.process = null;
      if (old) void this.closeProc(old);
    }
    if (this.next) {
      const stale = this.next;
      this.next = null;
      void this.closeProc(stale);
    }
    this.restarts++;
    const { delayMs, attempt } = this.backoff.next(reason);
    (planned ? this.log.debug : this.log.warn).call(this.log, { reason, attempt, delayMs }, 'mixer restarting');
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      this.spawn(reason)
        .then(() => {
          // A process that runs for a while resets the backoff.
          setTimeout(() => {
            if (this.process && this.process.ffmpeg.running) this.backoff.reset();
          }, STABLE_AFTER_MS).unref();
        })
        .catch((err: Error) => {
          this.log.error({ err, reason }, 'mixer restart failed; retrying');
          this.hooks.error(err);
          this.replaceAgain = `spawn failed: ${err.message}`;
        })
        .finally(() => {
          this.replacing = false;
          const again = this.replaceAgain;
          this.replaceAgain = null;
          if (again) void this.replace(again);
        });
    }, delayMs);
  }

  /** Stops every process it started (serving, incoming, and those being stopped). Idempotent. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closing = (async () => {
      if (this.restartTimer) clearTimeout(this.restartTimer);
      await this.starting?.catch(() => {});
      const procs = [this.process, this.next];
      this.process = this.next = null;
      await Promise.all(procs.map((p) => p && this.closeProc(p)));
      await Promise.all([...this.closingProcs]);
    })();
    return this.closing;
  }
}
