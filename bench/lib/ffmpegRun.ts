// FFmpeg run to completion for the quality benches (bench/ssim.ts, bench/keyframes.ts): its
// stderr's tail back, a non-zero exit as an error, and the CPU the runs used.

import { spawn } from 'node:child_process';
import fs from 'node:fs';

export function runFfmpeg(args: string[]): Promise<{ stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.env.FFMPEG_PATH || 'ffmpeg', ['-hide_banner', '-nostdin', '-y', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    p.stderr.on('data', (d) => (stderr = (stderr + d).slice(-20000)));
    p.on('error', reject);
    p.on('exit', (code) => {
      if (code !== 0) reject(new Error(`ffmpeg ${args.slice(0, 6).join(' ')}…: exit ${code}: ${stderr.slice(-400)}`));
      else resolve({ stderr });
    });
  });
}

/** Runs the FFmpegs at once; the CPU seconds they used (this process's waited-for children). */
export async function timedFfmpeg(args: string[][]): Promise<number> {
  const before = childCpu();
  await Promise.all(args.map(runFfmpeg));
  return childCpu() - before;
}

function childCpu(): number {
  // /proc/self/stat cutime + cstime: CPU of waited-for children.
  const f = fs.readFileSync('/proc/self/stat', 'utf8');
  const x = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(x[13]) + Number(x[14])) / 100;
}
