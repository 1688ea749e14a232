// Voice processing: what it costs and what it delays.
//  CPU: the server's FFmpeg CPU for one room of 4 audio-only publishers (pre-encoded Opus) and
//  an audio subscriber, so the voice chain is not lost in the noise of video encoding, measured
//  in the same run, interleaved over rounds (median), for: no chain (VOICE_PROCESSING=off: the
//  baseline), the chain with arnndn, with the afftdn fallback (RNNOISE_MODEL=none), and the
//  arnndn chain switched off at run time (PATCH audio: all false). For scale, one full room
//  (4 × 360p VP8 + Opus, a 720p subscriber) with the chain on.
//  Latency: each filter of the chain run by FFmpeg on speech-like input; the delay is the lag of
//  the best cross-correlation between input and output, at sample resolution. And buffering:
//  the filter fed like the mixer (20 ms of f32 every 20 ms, a WAV stream cut per write), the median time from a
//  write to its samples coming out, minus the same for no filter.
//  These latency figures are one slot's chain alone; what a room's mixer adds end to end (every
//  slot's chain and five limiters before any encode) is bench/voice-path.ts's.
//   npm run bench:voice [-- --measure 15]     (--smoke: 3 s per variant; --latency-only: no CPU runs)

import { execFileSync, spawn } from 'node:child_process';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { WhepRtpClient } from '../workers/clients/WhepRtpClient.ts';
import { WhepSubscriber } from '../workers/clients/webrtc.ts';
import { audioFixture, videoFixture } from './lib/fixtures.ts';
import { RtpPublisher } from './lib/RtpPublisher.ts';
import { machine, writeResult } from './lib/stats.ts';
import { startServerProc } from './lib/server-proc.ts';
import { rnnoiseModel } from '../workers/mixer/voiceModel.ts';
import { AFFTDN, HIGHPASS_HZ, LIMITER, SPEECHNORM } from '../pipeline/audio/voice.ts';
import { frameBytes, streamingWavHeader } from '../pipeline/mixer/audioGraph.ts';

const { values } = parseArgs({
  options: { measure: { type: 'string', default: '10' }, rounds: { type: 'string', default: '3' }, smoke: { type: 'boolean', default: false }, 'latency-only': { type: 'boolean', default: false } },
});
const measureSec = values.smoke ? 3 : Number(values.measure);
const rounds = values.smoke ? 1 : Number(values.rounds);
const COLOURS: Array<[number, number, number]> = [[220, 40, 40], [40, 180, 40], [40, 40, 220], [220, 200, 40]];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Variant {
  name: string;
  env: Record<string, string>;
  /** Room audio settings applied before measuring (run-time switch). */
  audio?: Record<string, boolean>;
}

async function roomCpu(v: Variant, video: Buffer[][] | null, audio: Buffer[]): Promise<number> {
  const server = await startServerProc(v.env);
  const pubs: RtpPublisher[] = [];
  let sub: { close(): Promise<unknown> } | null = null;
  try {
    const room = 'voice-bench';
    for (let i = 0; i < 4; i++) pubs.push(await RtpPublisher.whip(`${server.url}/rooms/${room}/whip?name=p${i}`, video ? video[i] : null, audio));
    sub = video
      ? await WhepRtpClient.connect({ url: `${server.url}/rooms/${room}/whep?level=720p`, codec: 'VP8' })
      : await WhepSubscriber.start({ whepUrl: `${server.url}/rooms/${room}/whep`, video: false });
    if (v.audio) {
      const res = await fetch(`${server.url}/rooms/${room}`, { method: 'PATCH', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ audio: v.audio }) });
      if (res.status !== 200) throw new Error(`PATCH: ${res.status} ${await res.text()}`);
    }
    await sleep(4000);
    const c0 = server.cpu().ffmpeg;
    const t0 = performance.now();
    await sleep(measureSec * 1000);
    const cores = (server.cpu().ffmpeg - c0) / ((performance.now() - t0) / 1000);
    console.log(`  ${v.name.padEnd(40)} FFmpeg ${(cores * 100).toFixed(1)} % of a core`);
    return cores;
  } finally {
    await sub?.close().catch(() => {});
    for (const p of pubs) await p.close();
    await server.stop();
  }
}

/** alimiter as the mix had it until 2026-11-26 (its look-ahead buffer delayed it 3 samples), for comparison. */
const ALIMITER_BEFORE = 'alimiter=limit=0.562:attack=0.1:release=50:level=0';

/** One slot's voice chain then the limiter after the mix, as the audio mixer runs them. */
function wholeChain(): string {
  const model = rnnoiseModel();
  return `highpass=f=${HIGHPASS_HZ},${model ? `arnndn=m=${model}` : `afftdn=${AFFTDN}`},volume=1:eval=frame,${LIMITER}`;
}

/** f32 mono 48 kHz through one filter chain. */
function run(filter: string, input: string): Float32Array {
  const out = execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'f32le', '-ar', '48000', '-ac', '1', '-i', input, '-af', filter, '-f', 'f32le', '-'], {
    maxBuffer: 64 << 20,
  });
  return new Float32Array(out.buffer, out.byteOffset, out.byteLength / 4).slice();
}

/** Lag (samples) at which `y` best matches `x` delayed, over 0..maxLag. */
function lagOf(x: Float32Array, y: Float32Array, maxLag = 4800): number {
  let best = 0;
  let bestC = -Infinity;
  const n = Math.min(x.length, y.length) - maxLag;
  for (let lag = 0; lag <= maxLag; lag++) {
    let c = 0;
    for (let i = 0; i < n; i += 2) c += x[i] * y[i + lag];
    if (c > bestC) (bestC = c), (best = lag);
  }
  return best;
}

function latencies(): Record<string, number> {
  // A speech-like test signal: pink noise bursts shaped like syllables, 4 s.
  const src = path.join(process.env.TMPDIR ?? '/tmp', `voice-bench-${process.pid}.f32`);
  execFileSync('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'anoisesrc=color=pink:amplitude=0.3:seed=3:sample_rate=48000:duration=4',
    '-af', "volume='0.2+0.8*gt(sin(2*PI*3*t),0.3)':eval=frame", '-f', 'f32le', src,
  ]);
  const x = run('anull', src);
  const model = rnnoiseModel();
  const filters: Record<string, string> = {
    highpass: `highpass=f=${HIGHPASS_HZ}`,
    ...(model ? { arnndn: `arnndn=m=${model}` } : {}),
    afftdn: `afftdn=${AFFTDN}`,
    volume: 'volume=2',
    'speechnorm (not used)': `speechnorm=${SPEECHNORM}`,
    limiter: LIMITER,
    'alimiter (before)': ALIMITER_BEFORE,
    'alimiter latency=1': `${ALIMITER_BEFORE}:latency=1`,
    // The whole path a processed voice takes, as the audio mixer runs it (one slot).
    'whole chain': wholeChain(),
  };
  const out: Record<string, number> = {};
  for (const [name, f] of Object.entries(filters)) {
    const ms = (lagOf(x, run(f, src)) / 48000) * 1000;
    out[name] = Math.round(ms * 100) / 100;
    console.log(`  ${name.padEnd(12)} delays its output by ${out[name]} ms`);
  }
  execFileSync('rm', ['-f', src]);
  return out;
}

/**
 * Median ms from writing a 20 ms chunk (paced in real time) to its last sample coming out. Fed as
 * the audio mixer is fed (audioGraph.ts): an endless f32 WAV whose demuxer cuts one packet per
 * 20 ms write (-max_size). Raw s16le on a pipe was cut into 1024-sample packets, out of step with
 * the writes: ~20 ms on every figure (the floor read 40 ms) and frame-size effects of its own.
 */
async function writeToOutMs(filter: string, chunks = 200): Promise<number> {
  const p = spawn('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-fflags', 'nobuffer', '-flags', 'low_delay', '-probesize', '32', '-analyzeduration', '0',
    '-f', 'wav', '-ignore_length', '1', '-max_size', String(frameBytes(48000, 1)), '-i', 'pipe:0',
    '-af', filter, '-f', 's16le', '-flush_packets', '1', 'pipe:1',
  ]);
  p.stdin.write(streamingWavHeader(48000, 1));
  const written: Array<[number, number]> = [];
  const delays: number[] = [];
  let wrote = 0;
  let got = 0;
  p.stdout.on('data', (d: Buffer) => {
    got += d.length / 2;
    const now = performance.now();
    while (written.length && written[0][0] <= got) {
      const [, at] = written.shift()!;
      if (wrote > 48000) delays.push(now - at);
    }
  });
  const start = performance.now();
  for (let k = 0; k < chunks; k++) {
    const buf = Buffer.alloc(960 * 4);
    for (let i = 0; i < 960; i++) buf.writeFloatLE(0.25 * Math.sin((wrote + i) * 0.05) * (0.5 + 0.5 * Math.random()), i * 4);
    p.stdin.write(buf);
    wrote += 960;
    written.push([wrote, performance.now()]);
    await sleep(Math.max(0, start + (k + 1) * 20 - performance.now()));
  }
  p.stdin.end();
  await new Promise((r) => p.once('exit', r));
  delays.sort((a, b) => a - b);
  return delays[Math.floor(delays.length / 2)] ?? NaN;
}

async function buffering(): Promise<Record<string, number>> {
  const model = rnnoiseModel();
  const filters: Record<string, string> = {
    highpass: `highpass=f=${HIGHPASS_HZ}`,
    ...(model ? { arnndn: `arnndn=m=${model}` } : {}),
    volume: 'volume=2',
    'speechnorm (not used)': `speechnorm=${SPEECHNORM}`,
    limiter: LIMITER,
    'alimiter (before)': ALIMITER_BEFORE,
    'alimiter latency=1': `${ALIMITER_BEFORE}:latency=1`,
    'whole chain': wholeChain(),
  };
  const base = await writeToOutMs('anull');
  const out: Record<string, number> = {};
  // The measurement's own noise: no filter against no filter.
  out['anull (noise)'] = Math.round(((await writeToOutMs('anull')) - base) * 10) / 10;
  console.log(`  anull        holds samples back ${out['anull (noise)']} ms (no filter measured twice: the noise of this figure)`);
  for (const [name, f] of Object.entries(filters)) {
    out[name] = Math.round(((await writeToOutMs(f)) - base) * 10) / 10;
    console.log(`  ${name.padEnd(12)} holds samples back ${out[name]} ms (write → out, over no filter: ${base.toFixed(1)} ms)`);
  }
  return out;
}

console.log('latency per filter (cross-correlation of input and output):');
const latencyMs = latencies();
const chainMs = latencyMs['whole chain'];
const sumMs = (latencyMs.highpass ?? 0) + (latencyMs.arnndn ?? latencyMs.afftdn ?? 0) + (latencyMs.volume ?? 0) + (latencyMs.limiter ?? 0);
console.log(`  the chain (highpass + denoiser + volume + limiter) run as one: ${chainMs.toFixed(2)} ms (its filters' sum: ${sumMs.toFixed(2)} ms)`);
console.log('buffering per filter, fed 20 ms every 20 ms like the mixer:');
const bufferingMs = await buffering();
// The whole chain's delay plus what it holds back beyond no filter (run as one, fed like the mixer).
const addedMs = Math.round((chainMs + Math.max(0, bufferingMs['whole chain'] ?? 0)) * 100) / 100;
const addedSumMs = Math.round((sumMs + ['highpass', 'arnndn', 'volume', 'limiter'].reduce((s, k) => s + Math.max(0, bufferingMs[k] ?? 0), 0)) * 100) / 100;
console.log(`  added to the audio path in all: ${addedMs.toFixed(2)} ms (the whole chain); summed filter by filter, each with its own buffering noise: ${addedSumMs.toFixed(2)} ms | budget 10 ms`);

if (values['latency-only']) {
  console.log(`written ${writeResult('voice-latency', values.smoke, { machine: machine(), latencyMs, chainMs, sumMs, bufferingMs, addedMs, addedSumMs, budgetMs: 10 })}`);
  process.exit(0);
}
console.log(`CPU per audio-only room, ${measureSec} s each, ${rounds} interleaved rounds:`);
const video = await Promise.all(COLOURS.map((c) => videoFixture(c)));
const audio = await audioFixture('tone');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const variants: Variant[] = [
  { name: 'no voice chain (VOICE_PROCESSING=off)', env: { VOICE_PROCESSING: 'off' } },
  { name: 'voice chain on (arnndn)', env: {} },
  { name: 'voice chain on (afftdn fallback)', env: { RNNOISE_MODEL: 'none' } },
  { name: 'arnndn chain, switched off at run time', env: {}, audio: { denoise: false, agc: false, limiter: false } },
];
const samples: Record<string, number[]> = Object.fromEntries(variants.map((v) => [v.name, []]));
for (let r = 0; r < rounds; r++) for (const v of variants) samples[v.name].push(await roomCpu(v, null, audio));
const cpu: Record<string, number> = Object.fromEntries(variants.map((v) => [v.name, Math.round(median(samples[v.name]) * 1000) / 1000]));
console.log('a full room for scale (4 × 360p VP8 + Opus publishers, a 720p subscriber), chain on:');
const fullRoom = Math.round((await roomCpu({ name: 'full room, voice chain on', env: {} }, video, audio)) * 1000) / 1000;
const base = cpu[variants[0].name];
const ratios = Object.fromEntries(variants.map((v) => [v.name, Math.round((cpu[v.name] / base) * 1000) / 1000]));
console.log('ratio of FFmpeg CPU to the no-chain baseline:');
for (const [k, r] of Object.entries(ratios)) console.log(`  ${k.padEnd(40)} ${r.toFixed(3)}  (+${((cpu[k] - base) * 100).toFixed(1)} % of a core)`);
const chainCost = cpu[variants[1].name] - base;
console.log(`the arnndn chain is ${((chainCost / fullRoom) * 100).toFixed(1)} % of a full room's FFmpeg CPU (${(fullRoom * 100).toFixed(1)} % of a core)`);
const file = writeResult('voice', values.smoke, {
  machine: machine(), measureSec, rounds, latencyMs, chainMs, sumMs, bufferingMs, addedMs, addedSumMs, budgetMs: 10, audioOnlyRoomCores: cpu, samples, ratioToNoChain: ratios, fullRoomCores: fullRoom,
});
console.log(`written ${file}`);
process.exit(0);
