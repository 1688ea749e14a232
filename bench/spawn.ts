// What starting a child process costs the event loop of the process that starts it, at the
// size of a busy server: the synchronous time of the spawn call (nothing else runs meanwhile:
// every room's ticks wait), for Node's child_process.spawn (libuv: fork(), which copies the page
// tables) and for the posix_spawn addon (native/posixspawn: CLONE_VM | CLONE_VFORK, nothing
// copied), first at this script's own size (the floor), then with --rss-mb of touched memory.
// Each child is FFmpeg with -version (what the server starts, through the same binary lookup),
// waited for before the next.
//   npx tsx bench/spawn.ts [--rss-mb 500] [--n 20] [--smoke]
// Writes bench/results/spawn.json.

import { spawn } from 'node:child_process';
import net from 'node:net';
import { parseArgs } from 'node:util';
import { posixSpawnAddon } from '../workers/ffmpeg/spawnChild.ts';
import { machine, pct, writeResult } from './lib/stats.ts';

const { values } = parseArgs({
  options: {
    'rss-mb': { type: 'string', default: '500' },
    n: { type: 'string', default: '20' },
    smoke: { type: 'boolean', default: false },
  },
});
const n = values.smoke ? 4 : Number(values.n);
const rssMb = values.smoke ? 100 : Number(values['rss-mb']);
const ffmpeg = process.env.FFMPEG_PATH || 'ffmpeg';
const lib = posixSpawnAddon();
if (!lib) {
  console.error('bench:spawn needs native/posixspawn (npm run build:posixspawn) and MCU_SPAWN unset');
  process.exit(1);
}

const rss = () => Math.round(process.memoryUsage.rss() / 1048576);

async function viaFork(): Promise<number> {
  const t0 = performance.now();
  const c = spawn(ffmpeg, ['-version'], { stdio: 'ignore' });
  const ms = performance.now() - t0;
  await new Promise((r) => c.once('exit', r));
  return ms;
}

async function viaPosixSpawn(): Promise<number> {
  let done!: () => void;
  const exited = new Promise<void>((r) => (done = r));
  const env = Object.entries(process.env).map(([k, v]) => `${k}=${v}`);
  const t0 = performance.now();
  const r = lib!.spawn(ffmpeg, [ffmpeg, '-version'], env, false, false, () => done());
  const ms = performance.now() - t0;
  // Its stderr pipe: read to the end and closed, as FfmpegProcess would.
  new net.Socket({ fd: r.stderr, readable: true, writable: false }).resume();
  await exited;
  return ms;
}

async function measure(fn: () => Promise<number>) {
  const xs: number[] = [];
  for (let i = 0; i < n; i++) xs.push(await fn());
  const r = (x: number) => Math.round(x * 100) / 100;
  return { p50Ms: r(pct(xs, 50)), p95Ms: r(pct(xs, 95)), maxMs: r(Math.max(...xs)) };
}

const floorRss = rss();
const floor = { rssMb: floorRss, fork: await measure(viaFork), posixSpawn: await measure(viaPosixSpawn) };
// Touched memory, as a server's heaps and buffers are: every page mapped, so fork copies its entries.
const hold: Buffer[] = [];
while (rss() < floorRss + rssMb) hold.push(Buffer.alloc(16 * 1048576, 1));
const big = { rssMb: rss(), fork: await measure(viaFork), posixSpawn: await measure(viaPosixSpawn) };
const ratio = Math.round((big.fork.p50Ms / Math.max(0.01, big.posixSpawn.p50Ms)) * 10) / 10;
const result = { machine: machine(), n, child: `${ffmpeg} -version`, floor, big, forkOverPosixSpawnP50: ratio, held: hold.length };
console.log(`spawn at ${floor.rssMb} MB RSS (floor): fork p50 ${floor.fork.p50Ms} / p95 ${floor.fork.p95Ms} ms | posix_spawn p50 ${floor.posixSpawn.p50Ms} / p95 ${floor.posixSpawn.p95Ms} ms`);
console.log(`spawn at ${big.rssMb} MB RSS: fork p50 ${big.fork.p50Ms} / p95 ${big.fork.p95Ms} ms | posix_spawn p50 ${big.posixSpawn.p50Ms} / p95 ${big.posixSpawn.p95Ms} ms | fork / posix_spawn ${ratio}x`);
console.log(`wrote ${writeResult('spawn', values.smoke, result)}`);
