// Quality of a tile against its source, per encoder setting, with the CPU it costs.
// A natural picture under a slow pan and zoom (a photograph when one is given or found, else a
// rendered Mandelbrot picture: say which in the result) becomes a 640x360 30 fps clip; a
// mixer-like graph lays it as the top-left tile of a 2x2 1280x720 composite (the other tiles
// are its mirror images) and encodes the 720p rung (1500k) and the 360p rung (400k, 15 fps)
// paced in real time, `--copies` graphs at once (as that many rooms on the box). The 720p
// output's top-left tile is compared with the source (FFmpeg's ssim filter, mean over the clip).
// Each variant is the mixer's VP8 options (pipeline/mixer/graph.ts) with one thing changed;
// the first is the mixer's current setting, and the others are reported against it.
//   npx tsx bench/ssim.ts [-- --seconds 5 --copies 2 --image photo.jpg]   (--smoke: 2 s, 1 copy)
//   --unpaced: one copy as fast as it goes (quality is the same: libvpx's speed is fixed; CPU is
//   then per second of media, not of a loaded box), a few seconds of work

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { vp8EncoderOptions, VP8_THREADS } from '../pipeline/mixer/graph.ts';
import { machine, writeResult } from './lib/stats.ts';
import { naturalStill } from './lib/naturalStill.ts';
import { runFfmpeg as run, timedFfmpeg as timed } from './lib/ffmpegRun.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    copies: { type: 'string', default: '2' },
    image: { type: 'string' },
    /** As fast as it goes, one copy: the same quality (the speed is fixed), CPU per second of media. */
    unpaced: { type: 'boolean', default: false },
    smoke: { type: 'boolean', default: false },
  },
});
const seconds = values.smoke ? 2 : Number(values.seconds);
const copies = values.smoke || values.unpaced ? 1 : Number(values.copies);

interface Variant {
  name: string;
  options: string[];
}
const VARIANTS: Variant[] = [
  { name: `current (-threads ${VP8_THREADS})`, options: vp8EncoderOptions() },
  ...(VP8_THREADS === '1' ? [{ name: '-threads 2', options: vp8EncoderOptions('2') }] : [{ name: '-threads 1', options: vp8EncoderOptions('1') }]),
];

/** The clip and its encodes (hundreds of MB) live in a temporary directory, removed however the run ends. */
async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ssim-'));
  try {
    await measure(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function measure(dir: string): Promise<void> {
  const frames = seconds * 30;
  const { still, source } = await naturalStill(dir, values.image, run);
  // A slow pan and zoom over the still: the motion a camera's picture has.
  const src = path.join(dir, 'src.y4m');
  await run(['-loop', '1', '-i', still, '-vf', `scale=1920:-2,zoompan=z='1.15+0.0015*on':x='iw/2-(iw/zoom/2)+on*0.8':y='ih/2-(ih/zoom/2)':d=${frames}:s=640x360:fps=30,format=yuv420p`, '-frames:v', String(frames), src]);
  const results = [];
  for (const v of VARIANTS) {
    const graph = '[0:v]split=4[a][b0][c0][d0];[b0]hflip[b];[c0]vflip[c];[d0]hflip,vflip[d];[a][b][c][d]xstack=inputs=4:layout=0_0|w0_0|0_h0|w0_h0,split=2[top][s];[s]scale=640:360,fps=15[low]';
    const enc = (k: number) => [...(values.unpaced ? [] : ['-re']), '-i', src, '-filter_complex', graph, '-map', '[top]', ...v.options, '-b:v', '1500k', '-maxrate', '1500k', '-bufsize', '1500k', '-f', 'ivf', path.join(dir, `out${k}.ivf`), '-map', '[low]', ...v.options, '-b:v', '400k', '-maxrate', '400k', '-bufsize', '400k', '-f', 'null', '-'];
    const cpu = await timed(Array.from({ length: copies }, (_, k) => enc(k)));
    const out = await run(['-i', path.join(dir, 'out0.ivf'), '-i', src, '-lavfi', '[0:v]crop=640:360:0:0[x];[x][1:v]ssim', '-f', 'null', '-']);
    const m = /SSIM Y:([\d.]+).*All:([\d.]+)/.exec(out.stderr);
    if (!m) throw new Error(`no SSIM in ffmpeg's output: ${out.stderr.slice(-300)}`);
    const r = { variant: v.name, ssimTile: Number(Number(m[2]).toFixed(4)), ssimTileY: Number(Number(m[1]).toFixed(4)), cpuCoresPerCopy: Math.round((cpu / copies / seconds) * 100) / 100 };
    results.push(r);
    console.log(`  ${r.variant}: tile SSIM ${r.ssimTile} (Y ${r.ssimTileY}), ${r.cpuCoresPerCopy} core per copy (${copies} at once)`);
  }
  const base = results[0];
  const result = {
    bench: 'ssim',
    date: new Date().toISOString(),
    machine: machine(),
    source,
    seconds,
    copies,
    paced: !values.unpaced,
    limit: 'tile SSIM >= 0.9 and no more than 0.01 below the current setting',
    results: results.map((r) => ({ ...r, ssimBelowCurrent: Number((base.ssimTile - r.ssimTile).toFixed(4)), cpuToCurrent: Math.round((r.cpuCoresPerCopy / base.cpuCoresPerCopy) * 100) / 100, ok: r.ssimTile >= 0.9 && base.ssimTile - r.ssimTile <= 0.01 })),
  };
  for (const r of result.results) console.log(`ssim: ${r.variant}: ${r.ssimTile} (${r.ssimBelowCurrent} below current), CPU ${r.cpuToCurrent}x current: ${r.ok ? 'ok' : 'fails the limit'}`);
  console.log(`wrote ${writeResult('ssim', values.smoke, result)}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
