// Admission control from measured load: a server that would push its rooms under their frame
// rate answers 503 + Retry-After to a request for a new room or a new publisher, before any
// WebRTC work, instead of degrading every room it already hosts. Sampled once a second.
//
//   ADMISSION_MAX_CPU_PERCENT   CPU headroom (default 70; 0: off). A new room is admitted only
//                               if the busy CPU now, plus about one room's cost for each room
//                               that is still starting and for the new one, stays under this
//                               share of the machine's cores (or of the container's CPU quota);
//                               a new publisher only while the busy CPU is under it. The rule
//                               itself is pipeline/admission.ts.
//   ADMISSION_MAX_SKIPPED_PCT   share of mixer ticks skipped in any room over two seconds
//                               (default 10, i.e. a mixer under 27 of 30 fps; 0: off)
//   ADMISSION_MAX_LAG_MS        event-loop delay p99 over two seconds (default 250; 0: off)
//
// The lag and skipped-tick limits count as exceeded when two consecutive samples exceed them
// (one GC pause or one mixer start is not overload); checking is free.

import fs from 'node:fs';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import os from 'node:os';
import { envInt } from '../../pipeline/env.ts';
import { cpuRefusal, PENDING_ROOM_MS, type LoadSample } from '../../pipeline/admission.ts';
import { childPids, procCpuSeconds } from '../../workers/proc.ts';

export interface MixerLoad {
  mixer: { stats(): { ticks: number; skippedTicks: number } };
}

/** Cores available and CPU seconds used so far: the container's cgroup (v2) when it has a quota, else the machine's. */
export function cpuCounter(cgroup = '/sys/fs/cgroup'): { capacity: number; usedSec: () => number | null } {
  try {
    const [quota, period] = fs.readFileSync(`${cgroup}/cpu.max`, 'utf8').trim().split(/\s+/);
    if (quota !== 'max' && Number(quota) > 0 && Number(period) > 0) {
      return {
        capacity: Number(quota) / Number(period),
        usedSec: () => {
          try {
            const m = /usage_usec (\d+)/.exec(fs.readFileSync(`${cgroup}/cpu.stat`, 'utf8'));
            return m ? Number(m[1]) / 1e6 : null;
          } catch {
            return null;
          }
        },
      };
    }
  } catch {
    /* no cgroup v2 CPU controller: the machine */
  }
  return {
    capacity: os.availableParallelism(),
    usedSec: () => {
      try {
        const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
        // user nice system (idle iowait) irq softirq steal, in USER_HZ (100 a second)
        return (f[0] + f[1] + f[2] + (f[5] ?? 0) + (f[6] ?? 0) + (f[7] ?? 0)) / 100;
      } catch {
        return null;
      }
    },
  };
}

export class Admission {
  readonly maxLagMs: number;
  readonly maxSkippedPct: number;
  readonly maxCpuPct: number;
  /** The lower of the last two seconds' figures (both over a limit: refused). */
  lagP99Ms = 0;
  skippedPct = 0;
  /** Cores busy (machine or container) and used by this server, averaged over the last two seconds. */
  load: LoadSample;
  private prev = { lag: 0, skipped: 0, busy: 0, server: 0 };
  private readonly histogram: IntervalHistogram;
  private readonly timer: NodeJS.Timeout;
  private readonly cpu = cpuCounter();
  private last: { at: number; used: number | null; own: number; children: Map<number, number> };
  private readonly lastTicks = new WeakMap<object, { ticks: number; skipped: number }>();
  /** When each recently admitted room was admitted (its cost is not measured yet). */
  private admittedAt: number[] = [];

  constructor(private readonly rooms: () => Iterable<MixerLoad>, env: NodeJS.ProcessEnv = process.env) {
    this.maxLagMs = envInt(env, 'ADMISSION_MAX_LAG_MS', 250, 0, 60_000);
    this.maxSkippedPct = envInt(env, 'ADMISSION_MAX_SKIPPED_PCT', 10, 0, 100);
    this.maxCpuPct = envInt(env, 'ADMISSION_MAX_CPU_PERCENT', 70, 0, 100);
    this.load = { capacityCores: this.cpu.capacity, busyCores: 0, serverCores: 0, rooms: 0 };
    this.last = { at: performance.now(), used: this.cpu.usedSec(), own: this.ownCpuSec(), children: this.childCpu() };
    this.histogram = monitorEventLoopDelay({ resolution: 10 });
    this.histogram.enable();
    this.timer = setInterval(() => this.sample(), 1000);
    this.timer.unref();
  }

  private ownCpuSec(): number {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e6;
  }

  private childCpu(): Map<number, number> {
    const m = new Map<number, number>();
    for (const pid of childPids(process.pid)) {
      const s = procCpuSeconds(pid);
      if (s !== null) m.set(pid, s);
    }
    return m;
  }

  private sample(): void {
    const lag = this.histogram.percentile(99) / 1e6;
    this.histogram.reset();
    let worst = 0;
    let rooms = 0;
    for (const r of this.rooms()) {
      rooms++;
      const s = r.mixer.stats();
      const prev = this.lastTicks.get(r);
      this.lastTicks.set(r, { ticks: s.ticks, skipped: s.skippedTicks });
      if (!prev || s.ticks - prev.ticks < 10) continue;
      worst = Math.max(worst, (100 * (s.skippedTicks - prev.skipped)) / (s.ticks - prev.ticks));
    }
    // CPU over the last interval: the machine's (or container's), and this server's own
    // (its process and its children; a child new since the last sample counts from its start).
    const now = performance.now();
    const sec = (now - this.last.at) / 1000;
    const used = this.cpu.usedSec();
    const own = this.ownCpuSec();
    const children = this.childCpu();
    let serverSec = own - this.last.own;
    for (const [pid, s] of children) serverSec += s - (this.last.children.get(pid) ?? 0);
    const busy = used !== null && this.last.used !== null && sec > 0 ? Math.max(0, used - this.last.used) / sec : 0;
    const server = sec > 0 ? Math.max(0, serverSec) / sec : 0;
    this.last = { at: now, used, own, children };
    this.lagP99Ms = Math.min(lag, this.prev.lag);
    this.skippedPct = Math.min(worst, this.prev.skipped);
    this.load = { capacityCores: this.cpu.capacity, busyCores: (busy + this.prev.busy) / 2, serverCores: (server + this.prev.server) / 2, rooms };
    this.prev = { lag, skipped: worst, busy, server };
  }

  /** Rooms admitted within PENDING_ROOM_MS: started, their cost not measured yet. */
  get pendingRooms(): number {
    const since = performance.now() - PENDING_ROOM_MS;
    this.admittedAt = this.admittedAt.filter((t) => t > since);
    return this.admittedAt.length;
  }

  /** A new room was admitted: counted at the estimate until its cost shows in the measures. */
  admitted(): void {
    this.admittedAt.push(performance.now());
  }

  /** Why a new room (or a new publisher in a room) would be refused now, or null if there is room for it. */
  refusal(kind: 'room' | 'publisher' = 'room'): string | null {
    if (this.maxLagMs && this.lagP99Ms > this.maxLagMs) {
      return `the server is overloaded (event-loop delay ${Math.round(this.lagP99Ms)} ms > ${this.maxLagMs} ms)`;
    }
    if (this.maxSkippedPct && this.skippedPct > this.maxSkippedPct) {
      return `the server is overloaded (a mixer skipped ${Math.round(this.skippedPct)} % of its frames)`;
    }
    return cpuRefusal(this.load, this.maxCpuPct, kind, kind === 'room' ? this.pendingRooms : 0);
  }

  close(): void {
    clearInterval(this.timer);
    this.histogram.disable();
  }
}
