// The MCU as a child process, so a benchmark can measure its CPU and memory (and its FFmpeg
// children's) apart from the load generator's.

import { spawn, type ChildProcess } from 'node:child_process';
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

export interface ServerProc {
  url: string;
  pid: number;
  /** CPU seconds so far: the Node process, and its FFmpeg children. */
  cpu(): { node: number; ffmpeg: number };
  rss(): { node: number; ffmpeg: number };
  stop(): Promise<void>;
}

export async function startServerProc(env: Record<string, string> = {}): Promise<ServerProc> {
  const port = await freePort();
  // BENCH_CPU_PROF=dir: the server writes a V8 CPU profile there when it exits.
  const prof = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
  const proc: ChildProcess = spawn(process.execPath, [...prof, '--import', 'tsx', 'server/main.ts'], {
    cwd: root,
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      DEMO: '0',
      SESSION_RATE_PER_SEC: '10000',
      SESSION_RATE_BURST: '10000',
      MAX_SUBSCRIBERS_PER_ROOM: '100000',
      MAX_ROOMS: '1000',
      STATS_INTERVAL_MS: '1000',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('the server did not start within 30 s')), 30_000);
    proc.stdout!.on('data', (d: Buffer) => {
      if (d.toString().includes('listening on')) {
        clearTimeout(t);
        resolve();
      }
    });
    proc.once('exit', (code) => reject(new Error(`the server exited with ${code}`)));
  });
  const pid = proc.pid!;
  const sum = (f: (p: number) => number) => childPids(pid).reduce((s, c) => s + f(c), 0);
  return {
    url: `http://127.0.0.1:${port}`,
    pid,
    cpu: () => ({ node: cpuSeconds(pid), ffmpeg: sum(cpuSeconds) }),
    rss: () => ({ node: rssBytes(pid), ffmpeg: sum(rssBytes) }),
    async stop() {
      if (proc.exitCode !== null) return;
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await exited;
    },
  };
}
