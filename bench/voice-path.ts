// What the voice chain (#21) adds to the audio path, end to end through the room's real audio
// mixer (AudioMixerProcess: the FFmpeg graph buildAudioMixerSpec makes, fed as Node feeds it,
// Opus out over RTP), against the target: "nothing in it may add more than 10 ms".
//
// One mixer per run, 4 slots (the smallest tier) unless --capacity says: slot 0 carries a speech-like signal (pink noise
// shaped like syllables), slots 1-3 room tone (white noise at -50 dBFS), so every slot's chain
// works as in a 4-person room. Writes are paced every 20 ms as the audio clock paces them. The
// full mix's RTP packets are decoded (libopus, native/opus) and lined up with what was written
// by cross-correlation (sample resolution): for every packet, the latency is its arrival minus
// the instant of the first sample it carries (a write's last sample "happens" at the write, the
// ones before it 1/48 ms earlier each). The floor is the same mixer without anything of #21 (no
// chain, no limiter, no level meter), measured in the same run, interleaved over rounds; also
// measured: VOICE_PROCESSING=off (no chain, no limiter; the meter stays). The chain's figure =
// median latency with it − the floor's, split into the signal's shift (the lag difference:
// arnndn's 10 ms frame) and the rest (the filters' run time per write, write → packet).
//   npm run bench:voice-path [-- --seconds 10 --rounds 3 --capacity 4]    (--smoke: 4 s, 1 round)

import { execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { AudioMixerProcess } from '../workers/mixer/AudioMixerProcess.ts';
import { OpusStreamDecoder } from '../workers/decoder/opus.ts';
import { rnnoiseModel } from '../workers/mixer/voiceModel.ts';
import { machine, writeResult } from './lib/stats.ts';

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '10' }, rounds: { type: 'string', default: '3' }, capacity: { type: 'string', default: '4' }, smoke: { type: 'boolean', default: false } },
});
const seconds = values.smoke ? 4 : Number(values.seconds);
const rounds = values.smoke ? 1 : Number(values.rounds);
/** Slots of the mixer: a capacity tier (4, 8, 16); slot 0 talks, the others carry room tone. */
const CAPACITY = Number(values.capacity);
if (![4, 8, 16].includes(CAPACITY)) throw new Error('--capacity: 4, 8 or 16 (the mixer tiers)');
const N = 960; // samples per 20 ms write
const TARGET_MS = 10;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** s16 mono 48 kHz from an FFmpeg lavfi source. */
function lavfi(src: string, filter: string, sec: number): Int16Array {
  const out = execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', `${src}:sample_rate=48000:duration=${sec}`, '-af', filter, '-f', 's16le', '-ac', '1', '-'], {
    maxBuffer: 64 << 20,
  });
  return new Int16Array(out.buffer, out.byteOffset, out.byteLength / 2).slice();
}

interface Run {
  /** Median ms from a sample's instant to the arrival of the packet carrying it. */
  latencyMs: number;
  /** The signal's lag through the mixer (codec + chain), ms. */
  lagMs: number;
  /** Median ms from a write to the arrival of the packet whose RTP timestamp is that write's (no content alignment). */
  writeToPacketMs: number;
  packets: number;
  correlation: number;
}

type VariantName = 'bare' | 'off' | 'on';
const VARIANTS: Record<VariantName, { voiceChain: boolean; meter: boolean; label: string }> = {
  bare: { voiceChain: false, meter: false, label: 'floor: nothing of #21 (no chain, limiter or meter)' },
  off: { voiceChain: false, meter: true, label: 'VOICE_PROCESSING=off (the meter only)' },
  on: { voiceChain: true, meter: true, label: 'voice chain on (as rooms run)' },
};

async function runOnce(v: VariantName, talk: Int16Array, tone: Int16Array[]): Promise<Run> {
  const model = rnnoiseModel();
  const { voiceChain, meter } = VARIANTS[v];
  const mixer = await AudioMixerProcess.start(`voice-path-${v}`, { sampleRate: 48000, audioBitrateKbps: 48, denoiseModel: model, voiceChain, meter }, CAPACITY);
  const decoder = new OpusStreamDecoder(1, 48000);
  const packets: Array<{ ts: number; arrival: number; pcm: Int16Array; at: number | null }> = [];
  mixer.on('rtp', (key, msg, at) => {
    if (key !== 'full') return;
    const arrival = performance.now();
    const cc = msg[0] & 0x0f;
    const payload = msg.subarray(12 + 4 * cc);
    packets.push({ ts: msg.readUInt32BE(4), arrival, pcm: decoder.decode(payload), at });
  });
  try {
    const t0 = performance.now();
    while (!mixer.allConnected) {
      if (performance.now() - t0 > 20_000) throw new Error('the audio mixer did not connect');
      await sleep(10);
    }
    // Write k (from 1; the preroll is write 0) carries input samples [k·N, k·N + N).
    const writes: number[] = [NaN];
    const total = Math.floor((seconds * 1000) / 20);
    const start = performance.now();
    for (let k = 1; k <= total; k++) {
      const off = ((k - 1) * N) % (talk.length - N);
      const slots = [talk.subarray(off, off + N), ...tone.map((t) => t.subarray(off, off + N))].map((s) => Buffer.from(s.buffer, s.byteOffset, s.byteLength));
      const at = performance.now();
      mixer.write(slots, at);
      writes[k] = at;
      await sleep(Math.max(0, start + k * 20 - performance.now()));
    }
    await sleep(300);
    if (mixer.droppedWrites) throw new Error(`${mixer.droppedWrites} writes dropped (FFmpeg did not read): the input no longer lines up`);
    if (packets.length < total / 2) throw new Error(`only ${packets.length} packets for ${total} writes`);
    // The input as written (preroll silence first) and the output by RTP timestamp.
    const input = new Float32Array((total + 1) * N);
    for (let k = 1; k <= total; k++) {
      const off = ((k - 1) * N) % (talk.length - N);
      for (let i = 0; i < N; i++) input[k * N + i] = talk[off + i];
    }
    const ts0 = packets[0].ts;
    const outLen = ((packets[packets.length - 1].ts - ts0) >>> 0) + N;
    const output = new Float32Array(outLen);
    for (const p of packets) {
      const o = (p.ts - ts0) >>> 0;
      for (let i = 0; i < p.pcm.length && o + i < outLen; i++) output[o + i] = p.pcm[i];
    }
    // output[j] ≈ input[j + N − lag] (the first packet carries write 1): find the lag.
    const from = 50 * N; // past the first second
    const span = Math.min(outLen, input.length - N) - from - 4800;
    let best = 0;
    let bestC = -Infinity;
    let ex = 0;
    let ey = 0;
    for (let lag = 0; lag <= 4800; lag++) {
      let c = 0;
      for (let j = from; j < from + span; j += 2) c += output[j] * input[j + N - lag];
      if (c > bestC) (bestC = c), (best = lag);
    }
    for (let j = from; j < from + span; j += 2) (ex += input[j + N - best] ** 2), (ey += output[j] ** 2);
    const correlation = bestC / Math.sqrt(ex * ey);
    // Each packet's latency: arrival − the instant of the first input sample it carries.
    const sampleInstant = (i: number) => writes[Math.floor(i / N)] - ((N - 1 - (i % N)) * 1000) / 48000;
    const lat: number[] = [];
    const w2p: number[] = [];
    for (const p of packets) {
      const o = (p.ts - ts0) >>> 0;
      const i = o + N - best;
      if (o < from || i >= total * N || i < N) continue;
      lat.push(p.arrival - sampleInstant(i));
      const k = 1 + Math.floor(o / N);
      if (writes[k] !== undefined) w2p.push(p.arrival - writes[k]);
    }
    const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    return { latencyMs: med(lat), lagMs: (best * 1000) / 48000, writeToPacketMs: med(w2p), packets: lat.length, correlation };
  } finally {
    await mixer.close();
  }
}

const model = rnnoiseModel();
if (!model) console.log('no RNNoise model: the chain uses afftdn (25 ms of FFT window; over the target by design)');
const talk = lavfi('anoisesrc=color=pink:amplitude=0.3:seed=3', "volume='0.15+0.85*gt(sin(2*PI*3*t),0.3)':eval=frame", 12);
const tone = Array.from({ length: CAPACITY - 1 }, (_, k) => 11 + k).map((seed) => lavfi(`anoisesrc=color=white:amplitude=0.0055:seed=${seed}`, 'anull', 12));
const runs: Record<VariantName, Run[]> = { bare: [], off: [], on: [] };
for (let r = 0; r < rounds; r++) {
  for (const v of ['bare', 'off', 'on'] as const) {
    const run = await runOnce(v, talk, tone);
    runs[v].push(run);
    console.log(
      `  round ${r + 1} voice ${v.padEnd(3)}: latency ${run.latencyMs.toFixed(2)} ms (signal lag ${run.lagMs.toFixed(2)} ms, write → packet ${run.writeToPacketMs.toFixed(2)} ms), ` +
        `${run.packets} packets, r ${run.correlation.toFixed(3)}`,
    );
  }
}
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const r2 = (v: number) => Math.round(v * 100) / 100;
const fig = (v: VariantName) => ({
  latencyMs: r2(med(runs[v].map((x) => x.latencyMs))),
  lagMs: r2(med(runs[v].map((x) => x.lagMs))),
  writeToPacketMs: r2(med(runs[v].map((x) => x.writeToPacketMs))),
});
const floor = fig('bare');
const off = fig('off');
const on = fig('on');
const addedMs = r2(on.latencyMs - floor.latencyMs);
const shiftMs = r2(on.lagMs - floor.lagMs);
const runTimeMs = r2(on.writeToPacketMs - floor.writeToPacketMs);
const meterMs = r2(off.latencyMs - floor.latencyMs);
const perRound = runs.on.map((x, i) => r2(x.latencyMs - runs.bare[i].latencyMs));
for (const v of ['bare', 'off', 'on'] as const) {
  const f = fig(v);
  console.log(`${VARIANTS[v].label}: ${f.latencyMs.toFixed(2)} ms from a sample to its packet (signal lag ${f.lagMs.toFixed(2)} ms, write → packet ${f.writeToPacketMs.toFixed(2)} ms)`);
}
console.log(`chain on vs the floor measured in this run: ${(on.latencyMs / floor.latencyMs).toFixed(2)}× (${on.latencyMs.toFixed(2)} / ${floor.latencyMs.toFixed(2)} ms)`);
console.log(`the meter alone (VOICE_PROCESSING=off − floor): ${meterMs.toFixed(2)} ms`);
console.log(`added by the voice chain: ${addedMs.toFixed(2)} ms = shift ${shiftMs.toFixed(2)} ms + run time ${runTimeMs.toFixed(2)} ms (per round ${perRound.join(', ')}) vs target ≤ ${TARGET_MS} ms: ${addedMs <= TARGET_MS ? 'met' : `over by ${(addedMs - TARGET_MS).toFixed(2)} ms`}`);
console.log(`written ${writeResult(CAPACITY === 4 ? 'voice-path' : `voice-path.c${CAPACITY}`, values.smoke, { machine: machine(), seconds, rounds, capacity: CAPACITY, model: model ? 'arnndn' : 'afftdn', floor, voiceOff: off, voice: on, addedMs, shiftMs, runTimeMs, meterMs, perRound, targetMs: TARGET_MS, runs })}`);
process.exit(0);
