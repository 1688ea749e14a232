// Diagnostic: does the compositor keep a queue after a stretch of CPU starvation? RoomMixer alone
// (no WebRTC), four participants sending moving pictures, the 720p and 360p VP8 rungs. Each
// second prints the serving process's write → first 720p packet p50 / max and Node's queued
// frames; phases: quiet, starved (busy loops on every core), quiet again, the video FFmpeg
// SIGSTOPped 300 ms a second, quiet again. A p50 that stays
// frames above the quiet one after the starvation is a standing queue.
// PROBE_STARVED_SWAP=n: after the quiet phase, a new process started with n busy loops running;
// PROBE_SWAP=1: two rung swaps; PROBE_PLI=1: a keyframe asked for every 500 ms; PROBE_ONLY=1:
// only those (no starvation or stop phases).
//   npx tsx bench/probe-queue.ts [quietSec] [starvedSec] [afterSec]

import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import { mixerAlone } from './lib/mixerAlone.ts';

const [quietSec, starvedSec, afterSec] = [2, 3, 4].map((i, k) => Number(process.argv[i] ?? [5, 5, 10][k]));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const alone = mixerAlone('probe-queue');
const mixer = alone.mixer;

async function phase(name: string, seconds: number): Promise<void> {
  for (let s = 0; s < seconds; s++) {
    const serving = (mixer as any).supervisor.serving;
    serving?.writeToPacket.clear();
    serving?.queuedFrames.clear();
    await sleep(1000);
    const w = serving?.writeToPacket.summary();
    const q = serving?.queuedFrames.summary();
    console.log(`${name} ${s + 1}s: write → 720p packet p50 ${w?.p50} max ${w?.max} ms (n ${w?.n}); Node's queued frames max ${q?.max}; skipped ticks ${mixer.stats().skippedTicks}`);
  }
}

async function main(): Promise<void> {
  await alone.start();
  await sleep(4000);
  await phase('quiet', quietSec);
  if (process.env.PROBE_STARVED_SWAP) {
    // A new process started while the box is starved (as when a browser's publisher joins).
    const hogs: ChildProcess[] = Array.from({ length: Number(process.env.PROBE_STARVED_SWAP) }, () => spawn('sh', ['-c', 'while :; do :; done'], { stdio: 'ignore' }));
    mixer.setRungs(['720p']);
    await phase('swapped, starved', 3);
    for (const h of hogs) h.kill('SIGKILL');
    await phase('swapped, after', 5);
  }
  if (process.env.PROBE_SWAP) {
    mixer.setRungs(['720p']);
    await phase('swapped to 720p alone', 4);
    mixer.setRungs(['720p', '360p']);
    await phase('swapped back', 4);
  }
  if (process.env.PROBE_PLI) {
    const pli = setInterval(() => mixer.requestKeyframe('720p'), 500);
    await phase('keyframes', 5);
    clearInterval(pli);
    await phase('after keyframes', 3);
  }
  if (process.env.PROBE_ONLY) return alone.stop();
  const hogs: ChildProcess[] = os.cpus().map(() => spawn('sh', ['-c', 'while :; do :; done'], { stdio: 'ignore' }));
  await phase('starved', starvedSec);
  for (const h of hogs) h.kill('SIGKILL');
  await phase('after', afterSec);
  // The video FFmpeg stopped 300 ms once a second (a stall longer than its queues).
  const pid = (mixer as any).supervisor.serving?.ffmpeg.pid as number;
  const stopper = setInterval(() => {
    process.kill(pid, 'SIGSTOP');
    setTimeout(() => process.kill(pid, 'SIGCONT'), 300);
  }, 1000);
  await phase('stopped', 3);
  clearInterval(stopper);
  await sleep(400);
  await phase('after stops', afterSec);
  await alone.stop();
}

main().then(() => process.exit(0), (err) => {
  console.error(err);
  process.exit(1);
});
