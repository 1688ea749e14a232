// The room's audio mixer FFmpeg invocation, as data. A process of its own beside the video
// mixer (graph.ts): one FFmpeg main loop runs everything in turn, so audio that shared it with
// compositing and video encoding stalled whenever video did (80-190 ms when another FFmpeg
// started on a 2-core box) and left in bursts between video frames.
//
// Shape of the graph (C = slot capacity):
//   input 0        one WAV stream, f32le 48 kHz, one channel per slot, interleaved (an endless
//                  header from Node). One input: FFmpeg reads it blocking, as it arrives; with
//                  one input per slot it polls its input threads and sleeps 10 ms whenever
//                  one has nothing (measured: |gap-20 ms| p95 5 ms). The WAV demuxer's max_size
//                  cuts exactly one 20 ms write per packet (the raw s16le demuxer cut 1024
//                  samples, so every 16th Opus frame left 20 ms late). Float, not s16: on a
//                  16-bit PCM WAV the demuxer first reads 64 KiB looking for S/PDIF.
//   asplit → pan=mono|c0=ck: slot k's channel → each slot's voice chain (highpass → arnndn/afftdn → volume: the AGC's gain, ../audio/voice.ts)
//   → amerge → asplit → pan: one full mix + one mix-minus per slot → limiter (acompressor + hard clip, no look-ahead) → Opus → RTP each;
//   one more split feeds the level meter: raw PCM on the last output, to a unix socket (Node
//   measures it; last, so it is written after the Opus packets leave). Runtime commands (gain,
//   denoise, limiter) arrive on an azmq on the input, which Node writes every 20 ms.

import type { FfmpegInput, FfmpegOutput, FfmpegSpec } from '../ffmpeg/spec.ts';
import { limiterFilter, METER_PCM, slotChain } from '../audio/voice.ts';
import { MIX_RTP_PT } from './graph.ts';

export interface AudioMixerSettings {
  sampleRate: number;
  audioBitrateKbps: number;
  /** RNNoise model file for each slot's arnndn; null or absent: afftdn. */
  denoiseModel?: string | null;
  /** false: no voice chain at all (VOICE_PROCESSING=off). */
  voiceChain?: boolean;
  /** false: no level meter branch (bench/voice-path.ts's floor: the mix without anything of #21). */
  meter?: boolean;
}

export interface AudioMixerEndpoints {
  /** Directory holding this process's unix sockets (fresh per process: FFmpeg binds them). */
  socketDir: string;
  fullMixRtpPort: number;
  /** One port per slot: the mix-minus that slot's participant hears. */
  mixMinusRtpPorts: number[];
}

/** Samples per write and per Opus frame: Node's audio clock ticks every 20 ms. */
export const AUDIO_FRAME_MS = 20;

export const pcmSocket = (dir: string): string => `${dir}/audio.sock`;
export const audioCommandSocket = (dir: string): string => `${dir}/acmd.sock`;
export const audioMeterSocket = (dir: string): string => `${dir}/meter.sock`;

/** Bytes of one 20 ms write (f32, one channel per slot). */
export function frameBytes(sampleRate: number, channels: number): number {
  return ((sampleRate * AUDIO_FRAME_MS) / 1000) * 4 * channels;
}

/** Each slot's s16 PCM (Node's, equal lengths) as one interleaved f32le frame. */
export function interleaveF32(slots: readonly Int16Array[]): Buffer {
  const c = slots.length;
  const n = slots[0]?.length ?? 0;
  const out = Buffer.alloc(n * c * 4);
  const f = new Float32Array(out.buffer, out.byteOffset, n * c);
  for (let k = 0; k < c; k++) {
    const s = slots[k];
    for (let i = 0; i < n; i++) f[i * c + k] = s[i] / 32768;
  }
  return out;
}

/**
 * A WAV header for an endless f32 stream of `channels` (sizes at their maximum; the demuxer
 * runs with ignore_length), written once before the PCM.
 */
export function streamingWavHeader(sampleRate: number, channels = 1): Buffer {
  const h = Buffer.alloc(44);
  h.write('RIFF', 0, 'ascii');
  h.writeUInt32LE(0xffffffff, 4);
  h.write('WAVE', 8, 'ascii');
  h.write('fmt ', 12, 'ascii');
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(3, 20); // IEEE float
  h.writeUInt16LE(channels, 22);
  h.writeUInt32LE(sampleRate, 24);
  h.writeUInt32LE(sampleRate * 4 * channels, 28);
  h.writeUInt16LE(4 * channels, 32);
  h.writeUInt16LE(32, 34);
  h.write('data', 36, 'ascii');
  h.writeUInt32LE(0xffffffff, 40);
  return h;
}

const LIVE_INPUT = ['-fflags', 'nobuffer', '-flags', 'low_delay', '-probesize', '32', '-analyzeduration', '0'];

function rtpUrl(port: number): string {
  return `rtp://127.0.0.1:${port}?rtcpport=${port}&pkt_size=1200`;
}

function filterValue(v: string): string {
  return v.replace(/\\/g, '\\\\\\\\').replace(/:/g, '\\\\\\:');
}

export function buildAudioMixerSpec(settings: AudioMixerSettings, endpoints: AudioMixerEndpoints, capacity: number): FfmpegSpec {
  if (capacity < 2) throw new Error('a mixer needs at least 2 slots');
  if (endpoints.mixMinusRtpPorts.length !== capacity) {
    throw new Error(`need ${capacity} mix-minus ports, got ${endpoints.mixMinusRtpPorts.length}`);
  }
  const dir = endpoints.socketDir;
  const inputs: FfmpegInput[] = [
    {
      url: `unix:${pcmSocket(dir)}`,
      options: ['-f', 'wav', '-ignore_length', '1', '-max_size', String(frameBytes(settings.sampleRate, capacity)), ...LIVE_INPUT, '-listen', '1'],
    },
  ];
  const chains: string[] = [];
  const slotsIn = Array.from({ length: capacity }, (_, k) => `[in${k}]`).join('');
  chains.push(`[0:a]azmq=b=ipc\\\\://${filterValue(audioCommandSocket(dir))},asplit=${capacity}${slotsIn}`);
  const model = settings.denoiseModel ?? null;
  for (let k = 0; k < capacity; k++) {
    const chain = settings.voiceChain === false ? 'aformat=sample_fmts=flt:channel_layouts=mono' : slotChain(k, model);
    chains.push(`[in${k}]pan=mono|c0=c${k},${chain}[vp${k}]`);
  }
  const audioIn = Array.from({ length: capacity }, (_, k) => `[vp${k}]`).join('');
  const meter = settings.meter !== false;
  const splits = ['[mfull]', ...(meter ? ['[meter]'] : []), ...Array.from({ length: capacity }, (_, k) => `[m${k}]`)];
  chains.push(`${audioIn}amerge=inputs=${capacity},aformat=sample_fmts=flt,asplit=${splits.length}${splits.join('')}`);
  const all = Array.from({ length: capacity }, (_, k) => k);
  const limit = (k: number | 'full') => (settings.voiceChain === false ? '' : `,${limiterFilter(k)}`);
  chains.push(`[mfull]pan=mono|c0=${all.map((k) => `c${k}`).join('+')}${limit('full')}[afull]`);
  for (const k of all) {
    const others = all.filter((j) => j !== k).map((j) => `c${j}`).join('+');
    chains.push(`[m${k}]pan=mono|c0=${others}${limit(k)}[amm${k}]`);
  }
  const audioOut = (label: string, port: number): FfmpegOutput => ({
    url: rtpUrl(port),
    options: [
      '-map', `[${label}]`, '-c:a', 'libopus', '-b:a', `${settings.audioBitrateKbps}k`, '-ac', '1',
      '-application', 'lowdelay', '-frame_duration', String(AUDIO_FRAME_MS),
      // Each packet is written as soon as it is encoded.
      '-flush_packets', '1', '-payload_type', String(MIX_RTP_PT.audio), '-f', 'rtp',
    ],
  });
  const outputs = [audioOut('afull', endpoints.fullMixRtpPort), ...all.map((k) => audioOut(`amm${k}`, endpoints.mixMinusRtpPorts[k]))];
  // The processed slots for the level meter, last: ffmpeg sends each graph run's outputs in
  // order, so nothing of the meter's (no filter, only this write) comes before the audio.
  if (meter) {
    outputs.push({
      url: `unix:${audioMeterSocket(dir)}`,
      options: ['-map', '[meter]', '-c:a', METER_PCM.codec, '-flush_packets', '1', '-f', METER_PCM.format],
    });
  }
  return {
    globalOptions: ['-hide_banner', '-nostats', '-loglevel', 'warning', '-nostdin'],
    inputs,
    filterComplex: chains.join(';'),
    outputs,
  };
}
