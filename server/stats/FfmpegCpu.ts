// The CPU of the FFmpeg processes this server runs, read from /proc between two samples: their
// total (cores) and each process's own (a room's mixer figure on GET /stats).

import { liveFfmpegProcesses } from '../../workers/ffmpeg/FfmpegProcess.ts';
import { procCpuSeconds } from '../../workers/proc.ts';

export class FfmpegCpu {
  /** Each live process's CPU seconds at the last sample. */
  private readonly prev = new Map<number, number>();
  /** Each process's cores over the last interval (absent at its first sample). */
  private readonly byPid = new Map<number, number>();

  /** Reads every live FFmpeg; returns the cores they used over the last `dt` seconds. */
  sample(dt: number): number {
    let total = 0;
    const alive = new Set<number>();
    for (const p of liveFfmpegProcesses()) {
      if (!p.pid) continue;
      const seconds = procCpuSeconds(p.pid);
      if (seconds === null) continue;
      alive.add(p.pid);
      const before = this.prev.get(p.pid);
      if (before !== undefined) {
        total += (seconds - before) / dt;
        this.byPid.set(p.pid, (seconds - before) / dt);
      }
      this.prev.set(p.pid, seconds);
    }
    for (const pid of [...this.prev.keys()]) {
      if (!alive.has(pid)) {
        this.prev.delete(pid);
        this.byPid.delete(pid);
      }
    }
    return total;
  }

  /** One process's cores over the last interval (null: not known yet, or no process). */
  of(pid: number | undefined): number | null {
    return pid ? (this.byPid.get(pid) ?? null) : null;
  }
}
