// Small helpers the benchmarks share: percentiles, a beep-onset detector, process CPU/RSS.

import fs from 'node:fs';
import { procCpuSeconds } from '../../workers/proc.ts';

export function pct(xs: number[], p: number): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

export function summary(xs: number[]) {
  const r = (x: number) => Math.round(x * 10) / 10;
  return { n: xs.length, p50: r(pct(xs, 50)), p95: r(pct(xs, 95)), max: r(xs.length ? Math.max(...xs) : NaN) };
}

/** Finds beep onsets in 10 ms PCM chunks: loud after at least 300 ms of quiet. */
export class OnsetDetector {
  private quietMs = 0;
  constructor(private readonly onOnset: (at: number) => void, private readonly threshold = 2000) {}

  push(mono: Int16Array, at: number, sampleRate = 48000): void {
    let sum = 0;
    for (const s of mono) sum += s * s;
    const rms = Math.sqrt(sum / Math.max(1, mono.length));
    if (rms > this.threshold) {
      if (this.quietMs >= 300) this.onOnset(at);
      this.quietMs = 0;
    } else this.quietMs += (mono.length / sampleRate) * 1000;
  }
}

/** The latest `times` entry at or before `at` (the send time of what just arrived). */
export function latestBefore(times: number[], at: number): number | null {
  let best: number | null = null;
  for (const t of times) if (t <= at && (best === null || t > best)) best = t;
  return best;
}

/** CPU seconds (user + system) of a process; 0 once it is gone. */
export const cpuSeconds = (pid: number): number => procCpuSeconds(pid) ?? 0;
export { childPids, procRssBytes as rssBytes } from '../../workers/proc.ts';

export function writeResult(name: string, smoke: boolean, result: unknown): string {
  const dir = new URL('../results/', import.meta.url);
  fs.mkdirSync(dir, { recursive: true });
  const file = new URL(`${name}${smoke ? '.smoke' : ''}.json`, dir);
  fs.writeFileSync(file, JSON.stringify(result, null, 2) + '\n');
  return file.pathname;
}

export const machine = () => ({
  cpus: (fs.readFileSync('/proc/cpuinfo', 'utf8').match(/^processor/gm) ?? []).length,
  model: /model name\s*:\s*(.*)/.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown',
  node: process.version,
});
