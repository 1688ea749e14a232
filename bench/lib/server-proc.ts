// The MCU as a child process, so a benchmark can measure its CPU and memory (and its FFmpeg
// children's) apart from the load generator's.

import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { childPids, cpuSeconds, rssBytes } from './stats.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** A TCP port free on 127.0.0.1 right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** What one of the server's FFmpeg children does, from its command line. */
export type FfmpegKind = 'decoder' | 'video mixer' | 'audio mixer' | 'other';

function kindOf(pid: number): FfmpegKind {
  let cmd = '';
  try {
    cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return 'other';
  }
  if (cmd.includes('trigger.sock')) return 'video mixer';
  if (cmd.includes('audio.sock')) return 'audio mixer';
  if (cmd.includes('pipe:0') && cmd.includes('rawvideo')) return 'decoder';
  return 'other';
}

/** CPU seconds of each child now, by pid, with its kind. */
export type CpuSnapshot = Map<number, { kind: FfmpegKind; cpu: number }>;

/** Cores used between two snapshots, per kind (children seen in both, or born in between). */
export function cpuByKind(a: CpuSnapshot, b: CpuSnapshot, sec: number): Record<FfmpegKind, number> {
  const out: Record<FfmpegKind, number> = { decoder: 0, 'video mixer': 0, 'audio mixer': 0, other: 0 };
  for (const [pid, x] of b) out[x.kind] += (x.cpu - (a.get(pid)?.cpu ?? 0)) / sec;
  for (const k of Object.keys(out) as FfmpegKind[]) out[k] = Math.round(out[k] * 1000) / 1000;
  return out;
}

export interface ServerProc {
  url: string;
  pid: number;
  /** CPU seconds so far: the Node process, and its FFmpeg children. */
  cpu(): { node: number; ffmpeg: number };
  /** CPU seconds so far of each FFmpeg child (diff two with cpuByKind). */
  children(): CpuSnapshot;
  rss(): { node: number; ffmpeg: number };
  stop(): Promise<void>;
}

/**
 * nodeArgs: extra Node flags before the entry point (a leak test's --expose-gc and preload).
 * where: run it elsewhere — `exec` prefixes the command (`ip netns exec <ns>`), `host` is the
 * address it binds and is reached at (default 127.0.0.1; PUBLIC_URL follows it).
 */
export async function startServerProc(env: Record<string, string> = {}, nodeArgs: string[] = [], where: { exec?: string[]; host?: string } = {}): Promise<ServerProc> {
  const host = where.host ?? '127.0.0.1';
  const port = await freePort();
  // BENCH_CPU_PROF=dir: the server writes a V8 CPU profile there when it exits.
  const prof = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
  const argv = [process.execPath, ...prof, ...nodeArgs, '--import', 'tsx', 'server/main.ts'];
  const [cmd, ...args] = [...(where.exec ?? []), ...argv];
  const proc: ChildProcess = spawn(cmd, args, {
    cwd: root,
    env: {
      ...process.env,
      PORT: String(port),
      HOST: host,
      ...(where.host ? { PUBLIC_URL: `http://${host}:${port}` } : {}),
      DEMO: '0',
      SESSION_RATE_PER_SEC: '10000',
      SESSION_RATE_BURST: '10000',
      MAX_SUBSCRIBERS_PER_ROOM: '100000',
      MAX_ROOMS: '1000',
      STATS_INTERVAL_MS: '1000',
      // As package.json's start scripts and the Dockerfile run it (docs/DEPLOY.md).
      MALLOC_MMAP_THRESHOLD_: process.env.MALLOC_MMAP_THRESHOLD_ ?? '131072',
      // The load generator shares the machine, and a benchmark looks for the media path's own
      // limit: admission from CPU, skipped ticks and event-loop delay is off unless the caller turns it on.
      ADMISSION_MAX_CPU_PERCENT: '0',
      ADMISSION_MAX_SKIPPED_PCT: '0',
      ADMISSION_MAX_LAG_MS: '0',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  // Ready when it says so on stdout, or when /healthz answers (its log may go to LOG_FILE instead).
  await new Promise<void>((resolve, reject) => {
    let poll: NodeJS.Timeout | undefined;
    let settled = false;
    const done = (err?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(t);
      clearTimeout(poll);
      proc.stdout!.off('data', onData);
      proc.off('exit', onExit);
      if (err) proc.kill('SIGKILL'); // not ready: nothing stays behind
      if (err) reject(err);
      else resolve();
    };
    const t = setTimeout(() => done(new Error('the server did not start within 30 s')), 30_000);
    const onData = (d: Buffer) => d.toString().includes('listening on') && done();
    const onExit = (code: number | null) => done(new Error(`the server exited with ${code}`));
    const probe = () =>
      fetch(`http://${host}:${port}/healthz`, { signal: AbortSignal.timeout(1000) })
        .then((r) => (r.ok ? done() : undefined), () => undefined)
        .finally(() => {
          if (!settled) poll = setTimeout(probe, 200);
        });
    proc.stdout!.on('data', onData);
    proc.once('exit', onExit);
    poll = setTimeout(probe, 200);
  });
  proc.stdout!.resume(); // what it prints later is not read: keep the pipe from filling
  const pid = proc.pid!;
  const sum = (f: (p: number) => number) => childPids(pid).reduce((s, c) => s + f(c), 0);
  return {
    url: `http://${host}:${port}`,
    pid,
    cpu: () => ({ node: cpuSeconds(pid), ffmpeg: sum(cpuSeconds) }),
    children: () => new Map(childPids(pid).map((c) => [c, { kind: kindOf(c), cpu: cpuSeconds(c) }])),
    rss: () => ({ node: rssBytes(pid), ffmpeg: sum(rssBytes) }),
    async stop() {
      if (proc.exitCode !== null) return;
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await exited;
    },
  };
}
