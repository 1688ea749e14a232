// A lane of a room's mixer that runs a process only while it has rungs to encode (the H.264
// lane, pipeline/mixer/lanes.ts): its first rung starts a MixerSupervisor (a video-only
// process), a change of its rungs replaces that process (make before break; only this lane's
// watchers see it), and its last rung going stops it. Epochs keep counting up across the
// supervisors it starts, so a subscriber's RTP continuity never mistakes a new process for an
// old one. It writes no ticks: RoomMixer feeds `serving` and `incoming` as it feeds the main lane.

import { MixerSupervisor, type SupervisorHooks } from './MixerSupervisor.ts';
import type { MixerProcess } from './MixerProcess.ts';
import type { Logger } from '../log.ts';

export interface LaneHooks extends Omit<SupervisorHooks, 'start' | 'level'> {
  /** Starts a process encoding `rungs` for the room as it is now. */
  start(name: string, rungs: readonly string[]): Promise<MixerProcess>;
}

/** What the lane has done over the room's life (every supervisor it started). */
export interface LaneStats {
  /** The serving process's pid (null while none serves). */
  pid: number | null;
  epoch: number;
  rungs: readonly string[];
  processesStarted: number;
  restarts: number;
}

export class OnDemandLane {
  private sup: MixerSupervisor | null = null;
  private rungs: string[] = [];
  private began = false;
  private closing: Promise<void> | null = null;
  /** Supervisors stopped when the lane emptied; close() waits for them. */
  private readonly retiring = new Set<Promise<void>>();
  /** Counts of the supervisors already retired, and the last epoch they may have used. */
  private past = { epoch: 0, processesStarted: 0, restarts: 0 };

  constructor(
    private readonly name: string,
    private readonly hooks: LaneHooks,
    private readonly log: Logger,
    private readonly readyTimeoutMs: number,
  ) {}

  get serving(): MixerProcess | null {
    return this.sup?.serving ?? null;
  }

  get incoming(): MixerProcess | null {
    return this.sup?.incoming ?? null;
  }

  get rungIds(): readonly string[] {
    return this.rungs;
  }

  /** The owner is ready to feed processes (its trigger frames exist): start what the rungs need. */
  begin(): void {
    this.began = true;
    this.apply('start');
  }

  /** The lane's rungs (sorted ids); a change starts, replaces or stops its process. */
  setRungs(ids: readonly string[]): void {
    if (ids.join() === this.rungs.join()) return;
    this.rungs = [...ids];
    if (this.began) this.apply('rungs');
  }

  /** Replaces the running process (capacity changed); nothing when none runs. */
  replace(reason: string): void {
    if (this.sup && !this.closing) void this.sup.replace(reason);
  }

  /** MixerSupervisor.watchdog for the lane's process (true when there is none). */
  watchdog(now: number): boolean {
    return this.sup ? this.sup.watchdog(now) : true;
  }

  stats(): LaneStats {
    const s = this.sup;
    return {
      pid: (s?.serving && s.pid) || null,
      epoch: s?.epoch ?? this.past.epoch,
      rungs: this.rungs,
      processesStarted: this.past.processesStarted + (s?.processesStarted ?? 0),
      restarts: this.past.restarts + (s?.restarts ?? 0),
    };
  }

  private apply(reason: string): void {
    if (this.closing) return;
    if (!this.rungs.length) {
      if (this.sup) this.retire(this.sup);
      return;
    }
    if (this.sup) {
      void this.sup.replace(reason);
      return;
    }
    const sup = new MixerSupervisor(this.name, {
      start: (procName) => this.hooks.start(procName, this.rungs),
      promoted: (proc, why, epoch) => this.hooks.promoted(proc, why, epoch),
      rtp: (key, buf, epoch, at) => this.hooks.rtp(key, buf, epoch, at),
      level: () => {},
      error: (err) => this.hooks.error(err),
    }, this.log, this.readyTimeoutMs, this.past.epoch);
    this.sup = sup;
    this.log.info({ rungs: this.rungs }, 'mixer lane starts');
    sup.start().catch((err: Error) => {
      if (this.sup !== sup || this.closing) return;
      this.hooks.error(err);
      void sup.replace(`spawn failed: ${err.message}`);
    });
  }

  private retire(sup: MixerSupervisor): void {
    this.sup = null;
    this.log.info('mixer lane stops: no rung to encode');
    // Its counts as of now (it starts nothing more once closing); one epoch is kept for a process
    // it may still promote while it closes, so the next supervisor's first epoch is past both.
    this.past = {
      epoch: sup.epoch + 1,
      processesStarted: this.past.processesStarted + sup.processesStarted,
      restarts: this.past.restarts + sup.restarts,
    };
    const p = sup.close();
    this.retiring.add(p);
    void p.finally(() => this.retiring.delete(p));
  }

  /** Stops every process of the lane. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const sup = this.sup;
      this.sup = null;
      await Promise.all([sup?.close(), ...this.retiring]);
    })();
    return this.closing;
  }
}
