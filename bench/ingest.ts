// The publisher ingest, old (libwebrtc through @roamhq/wrtc) vs new (werift + frame assembly +
// FFmpeg decoder + libopus), in one run: latency from a frame leaving the publisher to its
// decoded picture at the mixer's door, and CPU per publisher (this process, which holds the
// publisher's packetizer and libwebrtc's threads, plus the decoder process), at 360p and 720p.
// Also FFmpeg's decoder fed IVF (whole frames) vs a raw H.264 elementary stream (parser).
//   npx tsx bench/ingest.ts [--seconds 10]       (run under flock /work/heavy.lock)
// Writes bench/results/ingest.json.

import { parseArgs } from 'node:util';
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { Ingest } from '../server/rtc/Ingest.ts';
import { WrtcIngest } from './lib/WrtcIngest.ts';
import { RtpPublisher } from './lib/RtpPublisher.ts';
import { audioFixture, videoFixture } from './lib/fixtures.ts';
import { readStamp, type Rect } from './lib/stamp.ts';
import { machine, summary, writeResult } from './lib/stats.ts';
import { procCpuSeconds } from '../workers/proc.ts';
import { FfmpegProcess } from '../workers/ffmpeg/FfmpegProcess.ts';
import { parseIvf, ivfFileHeader, ivfFrame } from '../pipeline/mixer/ivf.ts';
import { annexBNals } from '../pipeline/rtp/depacketize.ts';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '10' } } });
const seconds = Number(values.seconds);
const WARMUP_MS = 2000;
const FIXTURES = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../fixtures');

/** The stamped 360p loop scaled to 720p (1.5 Mbps VP8), generated once. */
async function fixture720(): Promise<Buffer[]> {
  const file = path.join(FIXTURES, 'stamp-720p.ivf');
  if (!fs.existsSync(file)) {
    await videoFixture([40, 120, 200]);
    const src = fs.readdirSync(FIXTURES).find((f) => f.startsWith('stamp-2878c8-360p'))!;
    const p = new FfmpegProcess('fixture-720p', {
      globalOptions: ['-hide_banner', '-loglevel', 'error', '-y'],
      inputs: [{ url: path.join(FIXTURES, src), options: [] }],
      filterComplex: '',
      outputs: [{ url: file, options: ['-vf', 'scale=1280:720', '-c:v', 'libvpx', '-b:v', '1500k', '-g', '60', '-deadline', 'good', '-cpu-used', '4', '-auto-alt-ref', '0', '-lag-in-frames', '0', '-f', 'ivf'] }],
    });
    if ((await p.exited).code !== 0) throw new Error('720p fixture failed');
  }
  return parseIvf(fs.readFileSync(file)).frames;
}

interface Run {
  ingest: 'wrtc' | 'werift';
  res: '360p' | '720p';
  latencyMs: ReturnType<typeof summary>;
  cpuNode: number;
  cpuDecoder: number;
  frames: number;
}

async function measure(kind: 'wrtc' | 'werift', res: '360p' | '720p', video: Buffer[], audio: Buffer[]): Promise<Run> {
  let ingest: Ingest | WrtcIngest | null = null;
  const lat: number[] = [];
  let frames = 0;
  let last = -1;
  let pub: RtpPublisher | null = null;
  const t0 = performance.now();
  const onFrame = (f: { width: number; height: number; data: Uint8Array; content?: Rect }) => {
    const now = performance.now();
    frames++;
    if (!pub || now - t0 < WARMUP_MS) return;
    const n = readStamp(f, f.content ?? { x: 0, y: 0, width: f.width, height: f.height });
    if (n === null || n === last) return;
    last = n;
    const sent = pub.frameSentAt.get(n);
    if (sent !== undefined && now >= sent) lat.push(now - sent);
  };
  pub = await RtpPublisher.start({
    video,
    audio,
    negotiate: async (offer) => {
      const r = kind === 'werift' ? await Ingest.answer(offer, { slotSize: { width: 640, height: 360 }, name: 'bench' }) : await WrtcIngest.answer(offer);
      ingest = r.ingest;
      (ingest as any).on('video', onFrame);
      return r.answer;
    },
  });
  await new Promise((r) => setTimeout(r, WARMUP_MS));
  const decoderPid = () => (kind === 'werift' ? (ingest as Ingest).video?.decoder.pid : undefined);
  const cpu0 = process.cpuUsage();
  const dec0 = decoderPid() ? procCpuSeconds(decoderPid()!) ?? 0 : 0;
  const w0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const wall = (performance.now() - w0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const dec1 = decoderPid() ? procCpuSeconds(decoderPid()!) ?? 0 : 0;
  await pub.close();
  await (ingest as any)?.close();
  return { ingest: kind, res, latencyMs: summary(lat), cpuNode: (cpu.user + cpu.system) / 1e6 / wall, cpuDecoder: (dec1 - dec0) / wall, frames };
}

/** FFmpeg fed the same H.264 frames as IVF (whole frames) and as a raw stream (its parser finds frame ends). */
async function decoderInput(format: 'ivf' | 'h264'): Promise<ReturnType<typeof summary>> {
  const file = path.join(FIXTURES, 'bench-720p.h264');
  if (!fs.existsSync(file)) {
    const p = new FfmpegProcess('fixture-h264', {
      globalOptions: ['-hide_banner', '-loglevel', 'error', '-y'],
      inputs: [{ url: 'testsrc2=size=1280x720:rate=30:d=5', options: ['-f', 'lavfi'] }],
      filterComplex: '',
      outputs: [{ url: file, options: ['-c:v', 'libx264', '-tune', 'zerolatency', '-preset', 'veryfast', '-x264-params', 'aud=1', '-f', 'h264'] }],
    });
    await p.exited;
  }
  const aus: Buffer[] = [];
  for (const n of annexBNals(fs.readFileSync(file))) {
    if ((n[0] & 0x1f) === 9 || !aus.length) aus.push(Buffer.alloc(0));
    aus[aus.length - 1] = Buffer.concat([aus[aus.length - 1], Buffer.from([0, 0, 0, 1]), n]);
  }
  const input = format === 'ivf' ? ['-f', 'ivf'] : ['-f', 'h264'];
  const args = ['-hide_banner', '-loglevel', 'error', ...input, '-flags', 'low_delay', '-probesize', '32', '-analyzeduration', '0', '-threads', '1', '-i', 'pipe:0',
    '-vf', 'scale=640:360', '-fps_mode', 'passthrough', '-threads', '1', '-f', 'rawvideo', '-pix_fmt', 'yuv420p', '-flush_packets', '1', 'pipe:1'];
  const ff = spawn('ffmpeg', args, { stdio: ['pipe', 'pipe', 'inherit'] });
  const FS = 640 * 360 * 1.5;
  const sent: number[] = [];
  const lat: number[] = [];
  let got = 0;
  let acc = 0;
  ff.stdout.on('data', (d: Buffer) => {
    acc += d.length;
    while (acc >= FS) {
      acc -= FS;
      if (sent[got] !== undefined) lat.push(performance.now() - sent[got]);
      got++;
    }
  });
  if (format === 'ivf') ff.stdin.write(ivfFileHeader(1280, 720, 90000, 'H264'));
  for (let i = 0; i < aus.length; i++) {
    sent.push(performance.now());
    ff.stdin.write(format === 'ivf' ? ivfFrame(aus[i], i * 3000) : aus[i]);
    await new Promise((r) => setTimeout(r, 33));
  }
  ff.stdin.end();
  await new Promise((r) => ff.once('close', r));
  return summary(lat.slice(10));
}

const audio = await audioFixture('beep');
const v360 = await videoFixture([40, 120, 200]);
const v720 = await fixture720();
const runs: Run[] = [];
for (const res of ['360p', '720p'] as const) {
  for (const kind of ['wrtc', 'werift'] as const) {
    const r = await measure(kind, res, res === '360p' ? v360 : v720, audio);
    runs.push(r);
    console.log(`${kind.padEnd(6)} ${res}: latency p50 ${r.latencyMs.p50?.toFixed(1)} ms p95 ${r.latencyMs.p95?.toFixed(1)} ms (n=${r.latencyMs.n}); CPU node ${(r.cpuNode * 100).toFixed(1)} % + decoder ${(r.cpuDecoder * 100).toFixed(1)} % of a core; ${r.frames} frames`);
  }
}
const ivf = await decoderInput('ivf');
const raw = await decoderInput('h264');
console.log(`FFmpeg decode 720p H.264 → 360p: IVF input p50 ${ivf.p50?.toFixed(1)} ms p95 ${ivf.p95?.toFixed(1)}; raw -f h264 p50 ${raw.p50?.toFixed(1)} ms p95 ${raw.p95?.toFixed(1)}`);
writeResult('ingest', false, { machine: machine(), seconds, runs, decoderInput: { ivf, h264: raw } });
process.exit(0);
