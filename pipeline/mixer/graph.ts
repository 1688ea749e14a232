// The room mixer's FFmpeg invocation, as data: inputs, filter graph and outputs. Pure: no paths
// are created and nothing is spawned here.
//
// Shape of the graph:
//   input 0   tiny VP8 "trigger" stream paced by Node: the clock, and the composite's keyframes
//             (-force_key_frames source takes them from the frames' key flag)
//   input 1   the canvas on stdin: one raw yuv420p picture per tick at the canvas size, every
//             tile already drawn by Node (pipeline/mixer/canvas.ts, workers/mixer/CanvasComposer.ts);
//             a 1-2 MiB pipe (native/posixspawn) takes most or all of a picture in one write, a
//             unix socket's ~208 KB buffer seven rounds of write → wake FFmpeg → read. Without
//             the addon (child_process's 64 KiB pipe) it takes a unix socket (`canvasInput: 'socket'`).
//   inputs 2… one trigger per rung, except the canvas rung (canvasRungIndex)
//   video: the trigger, scaled to the canvas, `blend`ed with the canvas at opacity 0: the
//          canvas's pixels copied (blend's copy path) under the trigger's key flag → per rung:
//          the canvas rung as it is, any other scaled and blended the same way under its own
//          trigger → VP8 / H.264 → RTP
//   audio: not here. The mix, mix-minus and Opus run in a process of their own
//          (audioGraph.ts), so video work never delays them.
// Nothing in the graph depends on the layout or the slots: joins, leaves and layout changes
// only change what Node draws, so subscribers never see a restart for them.

import type { Size } from '../layout/geometry.ts';
import type { RungSpec } from '../ladder.ts';
import type { FfmpegInput, FfmpegOutput, FfmpegSpec } from '../ffmpeg/spec.ts';

export { specToArgv, type FfmpegInput, type FfmpegOutput, type FfmpegSpec } from '../ffmpeg/spec.ts';

export interface MixerSettings {
  canvas: Size;
  fps: number;
  slotSize: Size;
  sampleRate: number;
  videoBitrateKbps: number;
  audioBitrateKbps: number;
  /** Background colour of the canvas, as FFmpeg colour syntax (used for the trigger). */
  background: string;
  /** RNNoise model file for each slot's arnndn; null or absent: afftdn (see pipeline/audio/voice.ts). */
  denoiseModel?: string | null;
  /** false: no voice chain at all (VOICE_PROCESSING=off; the CPU baseline of bench/voice.ts). */
  voiceChain?: boolean;
  /** libvpx threads per VP8 rung (MIXER_VP8_THREADS); VP8_THREADS when absent. */
  vp8Threads?: number;
  /** Largest VP8 keyframe, % of a frame's bitrate share (MIXER_VP8_MAX_INTRA_PCT); VP8_MAX_INTRA_PCT when absent, 0 uncapped. */
  vp8MaxIntraPct?: number;
}

export const DEFAULT_MIXER_SETTINGS: MixerSettings = {
  canvas: { width: 1280, height: 720 },
  fps: 30,
  slotSize: { width: 640, height: 360 },
  sampleRate: 48000,
  videoBitrateKbps: 1500,
  audioBitrateKbps: 48,
  background: '0x202020',
};

/** Slot capacities a mixer is started with; amerge needs a standard channel layout (≤8, 16). */
export const CAPACITY_TIERS = [4, 8, 16] as const;

export function capacityFor(participants: number): number {
  for (const tier of CAPACITY_TIERS) if (participants <= tier) return tier;
  return CAPACITY_TIERS[CAPACITY_TIERS.length - 1];
}

export interface MixerEndpoints {
  /** Directory holding this process's unix sockets (fresh per process: FFmpeg binds them). */
  socketDir: string;
  /** One port per encoded rung (same order as the rungs). */
  rungRtpPorts: number[];
  /**
   * Where the canvas comes from: 'stdin' (a 1-2 MiB pipe from native/posixspawn) or 'socket'
   * (canvasSocket: child_process's stdin pipe is 64 KiB, 22 rounds a picture). Default 'stdin'.
   */
  canvasInput?: 'stdin' | 'socket';
}



/**
 * libvpx's speed for the rungs' VP8: negative = that speed, fixed. A positive value (it was 8)
 * lets libvpx pick its own speed from how long frames take against (16 - n)/16 of the frame
 * period, so it spent more CPU whenever the box had some to spare. Measured on a natural
 * picture under a slow pan and zoom, 720p 1500k, paced in real time: 8 → 0.68 core, SSIM 0.971
 * (a 640x360 tile 0.969); -8 → 0.41 core, SSIM 0.974 (tile 0.972); -12 → 0.35 core but tile
 * 0.945 (over the 0.01 drop allowed). docs/PERFORMANCE.md has the command.
 */
export const VP8_CPU_USED = '-8';

/**
 * libvpx threads per rung's VP8 encoder: one. libvpx's row threads wait for each other by
 * polling, which on a box with no idle core spins through time slices: the same 5 s of a 2x2
 * composite took 23.2 CPU-s at 2 threads and 1.8 at 1 (tile SSIM 0.914 vs 0.918), and in
 * bench:capacity (one room, same session) the video mixer went from 0.77 to 0.57 core.
 * docs/PERFORMANCE.md, "Capacity (#20)". MIXER_VP8_THREADS overrides it.
 */
export const VP8_THREADS: string = '1';

/**
 * The largest a VP8 keyframe may be, in % of a frame's share of the rung's bitrate (libvpx's
 * rc_max_intra_bitrate_pct; 900 at 30 fps is what libwebrtc's VP8 encoder sets: a 600 ms optimal
 * buffer × 0.5 × fps / 10). It bites where libvpx's buffer is full (a rung's first keyframe,
 * one after a still scene): a 720p 1500k natural 2x2 composite's first keyframe was 266 KB
 * uncapped (225 packets, which every subscriber gets in one burst and a receiver's jitter
 * estimator remembers for minutes) and is 64 KB; later ones 34-43 KB either way; clip SSIM
 * 0.006 lower with a keyframe every 2 s (`npm run bench:keyframes`). 0: uncapped.
 * MIXER_VP8_MAX_INTRA_PCT overrides it.
 */
export const VP8_MAX_INTRA_PCT = 900;

/** The rungs' VP8 encoder options (the capacity bench's floor uses the same). */
export function vp8EncoderOptions(threads: string = VP8_THREADS, maxIntraPct: number = VP8_MAX_INTRA_PCT): string[] {
  return [
    '-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', VP8_CPU_USED, '-lag-in-frames', '0', '-error-resilient', '1', '-threads', threads,
    ...(maxIntraPct > 0 ? ['-max-intra-rate', String(maxIntraPct)] : []),
  ];
}

/** RTP payload types of the mixer's outputs (FFmpeg's defaults, made explicit for taps' SDPs). */
export const MIX_RTP_PT = { video: 96, audio: 97 } as const;

export const triggerSocket = (dir: string): string => `${dir}/trigger.sock`;
export const canvasSocket = (dir: string): string => `${dir}/canvas.sock`;
/** Each rung has a trigger of its own, so a keyframe asked for on one rung costs only that rung. */
export const rungTriggerSocket = (dir: string, rungId: string): string => `${dir}/t-${rungId}.sock`;

/**
 * The rung that is the composite as it is (the canvas's size and frame rate; the first such),
 * or -1. It takes its keyframes from the canvas trigger (input 0) instead of a trigger of its
 * own laid under it: that full-frame overlay converted the whole 720p composite to yuva420p and
 * blended it every frame, 0.047 core per room in fixed work (docs/PERFORMANCE.md, "The canvas rung").
 */
export function canvasRungIndex(settings: Pick<MixerSettings, 'canvas' | 'fps'>, rungs: readonly Pick<RungSpec, 'width' | 'height' | 'fps'>[]): number {
  return rungs.findIndex((r) => r.width === settings.canvas.width && r.height === settings.canvas.height && r.fps === settings.fps);
}

const LIVE_INPUT = ['-fflags', 'nobuffer', '-flags', 'low_delay', '-probesize', '32', '-analyzeduration', '0'];

function rtpUrl(port: number): string {
  // RTCP sender reports go to the same port; the reader drops them by payload type.
  return `rtp://127.0.0.1:${port}?rtcpport=${port}&pkt_size=1200`;
}

export function buildMixerSpec(settings: MixerSettings, endpoints: MixerEndpoints, rungs: readonly RungSpec[]): FfmpegSpec {
  if (endpoints.rungRtpPorts.length !== rungs.length) {
    throw new Error(`need ${rungs.length} rung ports, got ${endpoints.rungRtpPorts.length}`);
  }
  const { canvas, fps } = settings;
  const dir = endpoints.socketDir;
  const inputs: FfmpegInput[] = [
    // One decoder thread: frame-threaded VP8 decoding would hold each trigger frame back a
    // frame and make the composite's cadence jitter by a frame period.
    { url: `unix:${triggerSocket(dir)}`, options: ['-f', 'ivf', ...LIVE_INPUT, '-threads', '1', '-listen', '1'] },
    {
      url: endpoints.canvasInput === 'socket' ? `unix:${canvasSocket(dir)}` : 'pipe:0',
      options: [
        '-f', 'rawvideo', '-pix_fmt', 'yuv420p', '-video_size', `${canvas.width}x${canvas.height}`, '-framerate', String(fps), ...LIVE_INPUT,
        ...(endpoints.canvasInput === 'socket' ? ['-listen', '1'] : []),
      ],
    },
  ];
  const canvasRung = canvasRungIndex(settings, rungs);
  /** Input index of each rung's own trigger (-1: the canvas rung, keyed by input 0). */
  const triggerInput = rungs.map((rung, r) => {
    if (r === canvasRung) return -1;
    inputs.push({
      url: `unix:${rungTriggerSocket(dir, rung.id)}`,
      options: ['-f', 'ivf', ...LIVE_INPUT, '-threads', '1', '-listen', '1'],
    });
    return inputs.length - 1;
  });

  // blend at opacity 0 is FFmpeg's copy of the bottom picture (no per-pixel work, no alpha plane
  // as overlay's needed), in a frame carrying the top one's properties: the trigger's key flag.
  const under = (trigger: string, size: string, picture: string, out: string) =>
    `${trigger}scale=${size}:flags=neighbor,format=yuv420p[t${out}];[t${out}]${picture}blend=all_mode=normal:all_opacity=0[${out}]`;
  const chains: string[] = [under('[0:v]', `${canvas.width}:${canvas.height}`, '[1:v]', 'composite')];

  // The canvas rung is the composite itself (its keyframes are the canvas trigger's). Any other
  // rung: the composite scaled to the rung's size under its own trigger (clock and keyframes at
  // the rung's frame rate).
  // Nobody watching: the composite still runs into FFmpeg's null muxer,
  // since FFmpeg refuses to start without an output file.
  if (rungs.length === 0) chains.push('[composite]null[idle]');
  else if (rungs.length === 1) chains.push('[composite]null[vs0]');
  else chains.push(`[composite]split=${rungs.length}${rungs.map((_, r) => `[vs${r}]`).join('')}`);
  rungs.forEach((rung, r) => {
    if (r === canvasRung) {
      chains.push(`[vs${r}]null[rung${r}]`);
      return;
    }
    const size = `${rung.width}:${rung.height}`;
    const scaled = rung.width === canvas.width && rung.height === canvas.height ? `[vs${r}]null[sc${r}]` : `[vs${r}]scale=${size}:flags=bilinear[sc${r}]`;
    chains.push(scaled, under(`[${triggerInput[r]}:v]`, size, `[sc${r}]`, `rung${r}`));
  });

  const idle: FfmpegOutput = { url: '-', options: ['-map', '[idle]', '-c:v', 'wrapped_avframe', '-f', 'null'] };
  const outputs: FfmpegOutput[] = rungs.length === 0 ? [idle] : rungs.map((rung, r) => {
    const k = `${rung.bitrateKbps}k`;
    const codec =
      rung.codec === 'vp8'
        ? vp8EncoderOptions(String(settings.vp8Threads ?? VP8_THREADS), settings.vp8MaxIntraPct ?? VP8_MAX_INTRA_PCT)
        : ['-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-profile:v', 'baseline', '-pix_fmt', 'yuv420p', '-threads', '1'];
    return {
      url: rtpUrl(endpoints.rungRtpPorts[r]),
      options: [
        '-map', `[rung${r}]`, '-fps_mode', 'passthrough', ...codec,
        '-b:v', k, '-maxrate', k, '-bufsize', k, '-g', '100000', '-force_key_frames', 'source',
        '-payload_type', String(MIX_RTP_PT.video), '-f', 'rtp',
      ],
    };
  });

  return {
    globalOptions: ['-hide_banner', '-nostats', '-loglevel', 'warning', '-nostdin'],
    inputs,
    filterComplex: chains.join(';'),
    outputs,
  };
}
