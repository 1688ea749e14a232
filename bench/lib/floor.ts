// The capacity floor: one bare FFmpeg doing a room's media work from the fixture files (4 VP8
// decodes, the 2x2 composite, 720p 1500k + 360p 400k VP8 with the mixer's own encoder options,
// the full mix + 4 mix-minus Opus), paced in real time. Stages can be left out, so the same
// graph also says where a room's FFmpeg work goes (bench/room-profile.ts).

import { FfmpegProcess } from '../../workers/ffmpeg/FfmpegProcess.ts';
import { buildMixerSpec, canvasRungIndex, DEFAULT_MIXER_SETTINGS, vp8EncoderOptions, VP8_THREADS, type FfmpegSpec } from '../../pipeline/mixer/graph.ts';
import { rungFor } from '../../pipeline/ladder.ts';
import { cpuSeconds } from './stats.ts';

export const FLOOR_COLOURS: Array<[number, number, number]> = [
  [220, 40, 40],
  [40, 180, 40],
  [40, 40, 220],
  [220, 200, 40],
];

export interface FloorOptions {
  /** Which rungs are encoded: none (decode + composite only), the 720p one, or both (default). */
  encode?: 'none' | '720p' | 'both';
  /** libvpx threads per encoder (default: the mixer's). */
  threads?: string;
  /** The five Opus mixes (default true). */
  audio?: boolean;
  /**
   * 'floor': xstack (default). 'mixer': the room mixer's own video graph (pipeline/mixer/graph.ts:
   * the canvas blended under the canvas trigger, each rung but the canvas rung blended under its
   * own trigger), its canvas input replaced by the same files decoded in the process and xstacked
   * (Node draws the canvas in the server) and its triggers by colour sources; the outputs the same
   * rungs to the null muxer. No audio (the mixer's audio is another process).
   */
  graph?: 'floor' | 'mixer';
}

function mixerGraphFromFiles(files: string[], encode: 'none' | '720p' | 'both', threads: string): FfmpegSpec {
  const rungs = [rungFor('720p', 'vp8')!, rungFor('360p', 'vp8')!];
  const { width: W, height: H } = DEFAULT_MIXER_SETTINGS.slotSize;
  const tiles = [0, 1, 2, 3].map((k) => ({ visible: true, rect: { x: (k % 2) * W, y: Math.floor(k / 2) * H, width: W, height: H } }));
  const spec = buildMixerSpec(DEFAULT_MIXER_SETTINGS, { socketDir: '/nonexistent', rungRtpPorts: [1, 2] }, rungs);
  const colour = (fps: number) => ({ url: `color=c=0x202020:s=64x36:r=${fps}`, options: ['-f', 'lavfi'] });
  // The spec's inputs in its order (the canvas trigger, the canvas, the rungs' own triggers: the
  // canvas rung has none), the canvas made of the four files: they come after the trigger, and
  // the rungs' triggers move up by three.
  const rungTriggers = rungs.filter((_, r) => r !== canvasRungIndex(DEFAULT_MIXER_SETTINGS, rungs)).map((r) => colour(r.fps));
  const inputs = [colour(30), ...files.map((url) => ({ url, options: ['-re', '-stream_loop', '-1'] })), ...rungTriggers];
  if (2 + rungTriggers.length !== spec.inputs.length) throw new Error(`the mixer's graph has ${spec.inputs.length} inputs, the floor made ${2 + rungTriggers.length}`);
  const graph = spec.filterComplex.replace(/\[(\d+):v\]/g, (_, n: string) => (n === '1' ? '[canvas]' : n === '0' ? '[0:v]' : `[${Number(n) + files.length - 1}:v]`));
  const canvas = `${files.map((_, k) => `[${k + 1}:v]`).join('')}xstack=inputs=${files.length}:layout=0_0|w0_0|0_h0|w0_h0[canvas]`;
  const outputs = spec.outputs.map((o, r) => {
    // Colour frames are all keyframes (keyframes come from the trigger only in the server): no
    // -force_key_frames; the threads asked for; the null muxer instead of RTP.
    const drop = new Set(['-force_key_frames', '-payload_type', '-threads', '-f']);
    const opts: string[] = [];
    for (let i = 0; i < o.options.length; i++) {
      if (drop.has(o.options[i])) i++;
      else opts.push(o.options[i]);
    }
    opts.push('-threads', threads, '-f', 'null');
    const encoded = encode === 'both' || (encode === '720p' && r === 0);
    return { url: '-', options: encoded ? opts : ['-map', `[rung${r}]`, '-c:v', 'wrapped_avframe', '-f', 'null'] };
  });
  return { ...spec, globalOptions: ['-hide_banner', '-nostats', '-loglevel', 'error', '-nostdin'], inputs, filterComplex: `${canvas};${graph}`, outputs };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Cores the floor FFmpeg uses over `sec` seconds (after 2 s of start-up). */
export async function floorCpuPerSec(sec: number, opts: FloorOptions = {}): Promise<number> {
  const encode = opts.encode ?? 'both';
  const audio = opts.audio ?? true;
  const files = FLOOR_COLOURS.map((c) => `fixtures/stamp-${c.map((v) => v.toString(16).padStart(2, '0')).join('')}-360p.ivf`);
  const loop = ['-re', '-stream_loop', '-1'];
  const inputs = [...files.map((url) => ({ url, options: loop })), ...(audio ? files.map(() => ({ url: 'fixtures/beep-opus.ogg', options: loop })) : [])];
  const vp8 = vp8EncoderOptions(opts.threads ?? VP8_THREADS);
  const chains = ['[0:v][1:v][2:v][3:v]xstack=inputs=4:layout=0_0|w0_0|0_h0|w0_h0,fps=30,split=2[c1][c2]', '[c2]scale=640:360,fps=15[c360]'];
  if (audio) {
    chains.push('[4:a][5:a][6:a][7:a]amerge=inputs=4,asplit=5[m0][m1][m2][m3][m4]', '[m0]pan=mono|c0=c0+c1+c2+c3[full]');
    for (const k of [0, 1, 2, 3]) chains.push(`[m${k + 1}]pan=mono|c0=${[0, 1, 2, 3].filter((j) => j !== k).map((j) => `c${j}`).join('+')}[mm${k}]`);
  }
  const nullVideo = ['-c:v', 'wrapped_avframe'];
  const outputs = [
    { url: '-', options: ['-map', '[c1]', ...(encode === 'none' ? nullVideo : [...vp8, '-b:v', '1500k', '-maxrate', '1500k', '-bufsize', '1500k']), '-f', 'null'] },
    { url: '-', options: ['-map', '[c360]', ...(encode === 'both' ? [...vp8, '-b:v', '400k', '-maxrate', '400k', '-bufsize', '400k'] : nullVideo), '-f', 'null'] },
    ...(audio ? ['full', 'mm0', 'mm1', 'mm2', 'mm3'] : []).map((l) => ({ url: '-', options: ['-map', `[${l}]`, '-c:a', 'libopus', '-b:a', '32k', '-application', 'lowdelay', '-frame_duration', '20', '-f', 'null'] })),
  ];
  const spec: FfmpegSpec =
    opts.graph === 'mixer'
      ? mixerGraphFromFiles(files, encode, opts.threads ?? VP8_THREADS)
      : { globalOptions: ['-hide_banner', '-nostats', '-loglevel', 'error', '-nostdin'], inputs, filterComplex: chains.join(';'), outputs };
  const p = new FfmpegProcess('bench-floor', spec);
  const pid = await p.started;
  await sleep(2000); // past start-up
  const c0 = cpuSeconds(pid);
  await sleep(sec * 1000);
  const used = cpuSeconds(pid) - c0;
  const running = p.running;
  const exit = await p.stop();
  if (!running) throw new Error(`floor FFmpeg failed: ${exit.stderrTail.join(' | ')}`);
  return used / sec;
}
