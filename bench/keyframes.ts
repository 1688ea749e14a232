// How large the 720p rung's keyframes are, and what capping them costs in quality. A natural
// picture (bench/lib/naturalStill.ts) under four different pans and zooms becomes a 2x2 1280x720
// composite; each variant encodes it with the mixer's VP8 options (pipeline/mixer/graph.ts) at
// the 720p rung's 1500k, a keyframe forced every `--every` seconds (as joins and PLIs ask for
// them), and only the keyframe cap (`-max-intra-rate`, VP8_MAX_INTRA_PCT) changed. Reported per
// variant: keyframe sizes (the first, at the start, apart: libvpx's buffer is full then) in bytes
// and in ~1200-byte RTP packets, which every subscriber gets in one burst; the delta frames'
// average; SSIM of the whole clip and of the 5 frames from each keyframe on, against the
// uncapped encode; the encode's CPU per second of media (unpaced).
//   npm run bench:keyframes [-- --seconds 10 --every 2 --image photo.jpg]   (--smoke: 4 s)

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { vp8EncoderOptions, VP8_MAX_INTRA_PCT, VP8_THREADS } from '../pipeline/mixer/graph.ts';
import { machine, writeResult } from './lib/stats.ts';
import { naturalStill } from './lib/naturalStill.ts';
import { runFfmpeg, timedFfmpeg } from './lib/ffmpegRun.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    every: { type: 'string', default: '2' },
    image: { type: 'string' },
    smoke: { type: 'boolean', default: false },
  },
});
const seconds = values.smoke ? 4 : Number(values.seconds);
const every = Number(values.every);
const FPS = 30;
/** Payload bytes of one RTP packet at FFmpeg's pkt_size 1200 (RTP header and VP8 descriptor out). */
const PACKET_PAYLOAD = 1185;
/** Frames from each keyframe on whose SSIM is averaged: the picture right after a join. */
const AFTER_KEY = 5;

const variants = [...new Set([VP8_MAX_INTRA_PCT, 0, 300, 600, 1200])];
const label = (pct: number) => `${pct === 0 ? 'uncapped' : `-max-intra-rate ${pct}`}${pct === VP8_MAX_INTRA_PCT ? ' (current)' : ''}`;

/** Each frame of an IVF file: its size and whether it is a VP8 keyframe (frame tag bit 0 clear). */
function ivfFrames(file: string): Array<{ bytes: number; key: boolean }> {
  const b = fs.readFileSync(file);
  const out: Array<{ bytes: number; key: boolean }> = [];
  for (let at = b.readUInt16LE(6); at + 12 <= b.length; ) {
    const size = b.readUInt32LE(at);
    out.push({ bytes: size, key: (b[at + 12] & 1) === 0 });
    at += 12 + size;
  }
  return out;
}

/** Per-frame SSIM (All) of `file` against `src`, in frame order. */
async function ssimPerFrame(file: string, src: string, statsFile: string): Promise<number[]> {
  await runFfmpeg(['-i', file, '-i', src, '-lavfi', `[0:v][1:v]ssim=stats_file=${statsFile}`, '-f', 'null', '-']);
  return fs.readFileSync(statsFile, 'utf8').trim().split('\n').map((l) => Number(/All:([\d.]+)/.exec(l)?.[1]));
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
const r4 = (x: number) => Math.round(x * 10000) / 10000;

/** The clip and its encodes (hundreds of MB) live in a temporary directory, removed however the run ends. */
async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keyframes-'));
  try {
    await measure(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function measure(dir: string): Promise<void> {
  const frames = seconds * FPS;
  const { still, source } = await naturalStill(dir, values.image, runFfmpeg);
  // Four tiles, each its own slow pan and zoom over the still: a room of four cameras.
  const pans = [
    `z='1.15+0.0015*on':x='iw/2-(iw/zoom/2)+on*0.8':y='ih/2-(ih/zoom/2)'`,
    `z='1.3+0.001*on':x='on*1.2':y='ih/3'`,
    `z='1.5':x='iw/3-on':y='on*0.5'`,
    `z='1.2+0.002*on':x='iw/4':y='ih/2-(ih/zoom/2)-on*0.3'`,
  ];
  const tiles = pans.map((p, k) => `[s${k}]zoompan=${p}:d=${frames}:s=640x360:fps=${FPS}[t${k}]`).join(';');
  const src = path.join(dir, 'src.y4m');
  await runFfmpeg([
    '-loop', '1', '-i', still, '-filter_complex',
    `[0:v]scale=1920:-2,split=4[s0][s1][s2][s3];${tiles};[t0][t1][t2][t3]xstack=inputs=4:layout=0_0|w0_0|0_h0|w0_h0,format=yuv420p`,
    '-frames:v', String(frames), src,
  ]);

  const rows = [];
  for (const pct of variants) {
    const out = path.join(dir, `v${pct}.ivf`);
    const cpu = await timedFfmpeg([[
      '-i', src, ...vp8EncoderOptions(VP8_THREADS, pct), '-b:v', '1500k', '-maxrate', '1500k', '-bufsize', '1500k',
      '-g', '100000', '-force_key_frames', `expr:gte(t,n_forced*${every})`, '-f', 'ivf', out,
    ]]);
    const fr = ivfFrames(out);
    const ssim = await ssimPerFrame(out, src, path.join(dir, `ssim${pct}.txt`));
    const keyAt = fr.flatMap((f, i) => (f.key ? [i] : []));
    const later = keyAt.slice(1).map((i) => fr[i].bytes);
    const delta = fr.filter((f) => !f.key).map((f) => f.bytes);
    const afterKey = keyAt.flatMap((i) => ssim.slice(i, i + AFTER_KEY));
    const row = {
      variant: label(pct),
      maxIntraPct: pct,
      keyframes: keyAt.length,
      firstKeyframeBytes: fr[0].bytes,
      keyframeAvgBytes: Math.round(mean(later)),
      keyframeMaxBytes: Math.max(...later),
      keyframeMaxPackets: Math.ceil(Math.max(fr[0].bytes, ...later) / PACKET_PAYLOAD),
      deltaAvgBytes: Math.round(mean(delta)),
      ssim: r4(mean(ssim)),
      ssimAfterKeyframe: r4(mean(afterKey)),
      cpuCoresPerSecOfMedia: Math.round((cpu / seconds) * 100) / 100,
    };
    rows.push(row);
    console.log(`  ${row.variant}: first keyframe ${row.firstKeyframeBytes} B, then avg ${row.keyframeAvgBytes} / max ${row.keyframeMaxBytes} B (largest ${row.keyframeMaxPackets} packets); delta avg ${row.deltaAvgBytes} B; SSIM ${row.ssim}, first ${AFTER_KEY} frames after each keyframe ${row.ssimAfterKeyframe}; ${row.cpuCoresPerSecOfMedia} core-s per s`);
  }
  const uncapped = rows.find((r) => r.maxIntraPct === 0)!;
  const result = {
    bench: 'keyframes',
    date: new Date().toISOString(),
    machine: machine(),
    source,
    seconds,
    keyframeEverySec: every,
    rung: '720p VP8 1500k (the mixer options, pipeline/mixer/graph.ts)',
    limit: 'whole-clip SSIM no more than 0.01 below uncapped',
    rows: rows.map((r) => ({
      ...r,
      ssimBelowUncapped: r4(uncapped.ssim - r.ssim),
      largestKeyframeToUncapped: Math.round((Math.max(r.firstKeyframeBytes, r.keyframeMaxBytes) / Math.max(uncapped.firstKeyframeBytes, uncapped.keyframeMaxBytes)) * 100) / 100,
      ok: uncapped.ssim - r.ssim <= 0.01,
    })),
  };
  for (const r of result.rows) {
    console.log(`keyframes: ${r.variant}: largest keyframe ${r.largestKeyframeToUncapped}x uncapped's, SSIM ${r.ssimBelowUncapped} below uncapped: ${r.ok ? 'ok' : 'fails the limit'}`);
  }
  console.log(`wrote ${writeResult('keyframes', values.smoke, result)}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
