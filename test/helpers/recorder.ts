// Recording workers as separate processes (`npm run worker` = workers/recorder/main.ts), a
// throwaway redis-server for fault injection, and readers for the files they write.

import { spawn, spawnSync, execFileSync, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from './peers.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface WorkerProc {
  proc: ChildProcess;
  pid: number;
  output: string[];
  exited: Promise<number | null>;
  /** SIGTERM and wait for the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL the worker and every process in its group (its FFmpeg children too): a crashed host. */
  crash(): Promise<void>;
}

export async function startWorker(env: Record<string, string>): Promise<WorkerProc> {
  const proc = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'workers/recorder/main.ts')], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // its own process group, so crash() takes its FFmpeg children down with it
  });
  const output: string[] = [];
  const collect = (d: Buffer) => output.push(...d.toString().split('\n').filter(Boolean));
  proc.stdout!.on('data', collect);
  proc.stderr!.on('data', collect);
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  await waitFor(() => output.some((l) => l.includes('ready: waiting for jobs')), 30_000, () => `recording worker ready (${output.join(' / ')})`);
  return {
    proc,
    pid: proc.pid!,
    output,
    exited,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      return exited;
    },
    async crash() {
      try {
        process.kill(-proc.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
      await exited;
    },
  };
}

export { freePort } from '../../bench/lib/server-proc.ts';

/** A private redis-server on its own port, to stop and restart. */
export async function startRedis(port: number): Promise<{ stop(): Promise<void> }> {
  const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  await waitFor(
    () =>
      new Promise<boolean>((resolve) => {
        const s = net.connect(port, '127.0.0.1', () => (s.destroy(), resolve(true)));
        s.once('error', () => resolve(false));
      }),
    10_000,
    `redis-server on ${port}`,
  );
  return {
    async stop() {
      proc.kill('SIGKILL');
      await exited;
    },
  };
}

export function ffprobe(file: string): any {
  return JSON.parse(execFileSync('ffprobe', ['-v', 'error', '-show_format', '-show_streams', '-of', 'json', file]).toString());
}

/** One decoded picture (I420) `atSec` after the file's first frame (decoded from the start:
 * an input seek misses in MPEG-TS segments whose timestamps do not start at 0). */
export function frameAt(file: string, atSec: number, width = 1280, height = 720): { width: number; height: number; data: Uint8Array } {
  const data = execFileSync('ffmpeg', ['-v', 'error', '-i', file, '-ss', String(atSec), '-frames:v', '1', '-f', 'rawvideo', '-pix_fmt', 'yuv420p', '-'], {
    maxBuffer: 64 * 1024 * 1024,
  });
  return { width, height, data: new Uint8Array(data) };
}

/** Mono 48 kHz PCM of the file's audio from `fromSec`, `durSec` long. */
export function pcm(file: string, fromSec: number, durSec: number): Int16Array {
  const buf = execFileSync('ffmpeg', ['-v', 'error', '-ss', String(fromSec), '-t', String(durSec), '-i', file, '-vn', '-ac', '1', '-ar', '48000', '-f', 's16le', '-'], {
    maxBuffer: 64 * 1024 * 1024,
  });
  return new Int16Array(buf.buffer, buf.byteOffset, buf.length / 2);
}

/** Decodes the whole file; returns FFmpeg's error lines (none for a clean file). */
export function decodeErrors(file: string): string[] {
  const r = spawnSync('ffmpeg', ['-v', 'error', '-i', file, '-f', 'null', '-'], { stdio: ['ignore', 'ignore', 'pipe'] });
  const lines = String(r.stderr ?? '').split('\n').filter(Boolean);
  if (r.status !== 0) lines.push(`ffmpeg exited with ${r.status}`);
  return lines;
}
