// The room mixer's FFmpeg invocation, as data: inputs, filter graph, outputs, and the runtime
// commands that move tiles. Pure: no paths are created and nothing is spawned here.
//
// Shape of the graph (C = slot capacity):
//   input 0        tiny VP8 "trigger" stream paced by Node: the canvas and the clock. Its
//                  keyframes become the composite's keyframes (-force_key_frames source).
//   inputs 1..C    raw yuv420p video per slot, normalised by Node to `slotSize`
//   inputs C+1..2C raw s16le mono 48 kHz audio per slot
//   video: trigger → zmq (runtime commands) → scale to canvas → overlay each slot's
//          scale@sK output at overlay@oK → VP8 → RTP
//   audio: amerge of every slot → asplit → pan: one full mix + one mix-minus per slot
//          → Opus → RTP each
// Slots never change while the process lives: joins, leaves and layout changes are
// commands (scale size, overlay position, enable), so subscribers never see a restart.

import type { Rect, Size } from '../layout/geometry.ts';
import type { RungSpec } from '../ladder.ts';

export interface MixerSettings {
  canvas: Size;
  fps: number;
  slotSize: Size;
  sampleRate: number;
  videoBitrateKbps: number;
  audioBitrateKbps: number;
  /** Background colour of the canvas, as FFmpeg colour syntax (used for the trigger). */
  background: string;
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
  fullMixRtpPort: number;
  /** One port per slot: the mix-minus that slot's participant hears. */
  mixMinusRtpPorts: number[];
}

export interface SlotPlacement {
  visible: boolean;
  /** Where the slot's picture goes; ignored when not visible. */
  rect: Rect;
  /** Part of the slot picture shown (crop layouts); the whole picture when absent. */
  crop?: Rect;
}

export interface FfmpegInput {
  url: string;
  options: string[];
}

export interface FfmpegOutput {
  url: string;
  options: string[];
}

/** RTP payload types of the mixer's outputs (FFmpeg's defaults, made explicit for taps' SDPs). */
export const MIX_RTP_PT = { video: 96, audio: 97 } as const;

export interface FfmpegSpec {
  globalOptions: string[];
  inputs: FfmpegInput[];
  filterComplex: string;
  outputs: FfmpegOutput[];
}

export interface MixerCommand {
  target: string;
  command: string;
  arg: string;
}

export const triggerSocket = (dir: string): string => `${dir}/trigger.sock`;
export const videoSocket = (dir: string, slot: number): string => `${dir}/v${slot}.sock`;
export const audioSocket = (dir: string, slot: number): string => `${dir}/a${slot}.sock`;
export const commandSocket = (dir: string): string => `${dir}/cmd.sock`;
/** Each rung has a trigger of its own, so a keyframe asked for on one rung costs only that rung. */
export const rungTriggerSocket = (dir: string, rungId: string): string => `${dir}/t-${rungId}.sock`;

/** Hidden slots are scaled to a token size and not drawn: cheap, and no graph change. */
const HIDDEN: Rect = { x: 0, y: 0, width: 16, height: 16 };

const LIVE_INPUT = ['-fflags', 'nobuffer', '-flags', 'low_delay', '-probesize', '32', '-analyzeduration', '0'];

function rtpUrl(port: number): string {
  // RTCP sender reports go to the same port; the reader drops them by payload type.
  return `rtp://127.0.0.1:${port}?rtcpport=${port}&pkt_size=1200`;
}

/** Escape a value for use inside a filter option (the graph parser and the option parser). */
function filterValue(v: string): string {
  return v.replace(/\\/g, '\\\\\\\\').replace(/:/g, '\\\\\\:');
}

export function placementOf(p: SlotPlacement): Rect {
  return p.visible ? p.rect : HIDDEN;
}

export function cropOf(p: SlotPlacement | undefined, slotSize: Size): Rect {
  return p?.visible && p.crop ? p.crop : { x: 0, y: 0, ...slotSize };
}

export function buildMixerSpec(
  settings: MixerSettings,
  endpoints: MixerEndpoints,
  placements: readonly SlotPlacement[],
  rungs: readonly RungSpec[],
): FfmpegSpec {
  const capacity = placements.length;
  if (capacity < 2) throw new Error('a mixer needs at least 2 slots');
  if (endpoints.mixMinusRtpPorts.length !== capacity) {
    throw new Error(`need ${capacity} mix-minus ports, got ${endpoints.mixMinusRtpPorts.length}`);
  }
  if (endpoints.rungRtpPorts.length !== rungs.length) {
    throw new Error(`need ${rungs.length} rung ports, got ${endpoints.rungRtpPorts.length}`);
  }
  const { canvas, fps, slotSize, sampleRate } = settings;
  const dir = endpoints.socketDir;
  const inputs: FfmpegInput[] = [
    // One decoder thread: frame-threaded VP8 decoding would hold each trigger frame back a
    // frame and make the composite's cadence jitter by a frame period.
    { url: `unix:${triggerSocket(dir)}`, options: ['-f', 'ivf', ...LIVE_INPUT, '-threads', '1', '-listen', '1'] },
  ];
  for (let k = 0; k < capacity; k++) {
    inputs.push({
      url: `unix:${videoSocket(dir, k)}`,
      options: [
        '-f', 'rawvideo', '-pix_fmt', 'yuv420p',
        '-video_size', `${slotSize.width}x${slotSize.height}`,
        '-framerate', String(fps), ...LIVE_INPUT, '-listen', '1',
      ],
    });
  }
  for (let k = 0; k < capacity; k++) {
    inputs.push({
      url: `unix:${audioSocket(dir, k)}`,
      options: ['-f', 's16le', '-ar', String(sampleRate), '-ac', '1', ...LIVE_INPUT, '-listen', '1'],
    });
  }

  for (const rung of rungs) {
    inputs.push({
      url: `unix:${rungTriggerSocket(dir, rung.id)}`,
      options: ['-f', 'ivf', ...LIVE_INPUT, '-threads', '1', '-listen', '1'],
    });
  }
  const firstRungInput = 1 + 2 * capacity;

  const chains: string[] = [];
  chains.push(
    `[0:v]zmq=b=ipc\\\\://${filterValue(commandSocket(dir))},` +
      `scale=${canvas.width}:${canvas.height}:flags=neighbor,format=yuv420p[base]`,
  );
  let prev = 'base';
  for (let k = 0; k < capacity; k++) {
    const r = placementOf(placements[k]);
    const c = cropOf(placements[k], slotSize);
    chains.push(
      `[${k + 1}:v]crop@c${k}=w=${c.width}:h=${c.height}:x=${c.x}:y=${c.y},` +
        `scale@s${k}=w=${r.width}:h=${r.height}:flags=bilinear[v${k}]`,
    );
    const out = k === capacity - 1 ? 'composite' : `c${k}`;
    chains.push(
      `[${prev}][v${k}]overlay@o${k}=x=${r.x}:y=${r.y}:eval=frame:format=yuv420:repeatlast=1` +
        `:enable=${placements[k].visible ? 1 : 0}[${out}]`,
    );
    prev = out;
  }

  const audioIn = Array.from({ length: capacity }, (_, k) => `[${capacity + 1 + k}:a]`).join('');
  const splits = ['[mfull]', ...Array.from({ length: capacity }, (_, k) => `[m${k}]`)].join('');
  chains.push(`${audioIn}amerge=inputs=${capacity},aformat=sample_fmts=flt,asplit=${capacity + 1}${splits}`);
  const all = Array.from({ length: capacity }, (_, k) => k);
  chains.push(`[mfull]pan=mono|c0=${all.map((k) => `c${k}`).join('+')}[afull]`);
  for (const k of all) {
    const others = all.filter((j) => j !== k).map((j) => `c${j}`).join('+');
    chains.push(`[m${k}]pan=mono|c0=${others}[amm${k}]`);
  }

  // Each rung: its own trigger (canvas, clock and keyframes at the rung's frame rate) with the
  // composite, scaled to the rung's size, laid over it.
  if (rungs.length === 0) chains.push('[composite]nullsink');
  else if (rungs.length === 1) chains.push('[composite]null[vs0]');
  else chains.push(`[composite]split=${rungs.length}${rungs.map((_, r) => `[vs${r}]`).join('')}`);
  rungs.forEach((rung, r) => {
    const size = `${rung.width}:${rung.height}`;
    const scaled = rung.width === canvas.width && rung.height === canvas.height ? `[vs${r}]null[sc${r}]` : `[vs${r}]scale=${size}:flags=bilinear[sc${r}]`;
    chains.push(`[${firstRungInput + r}:v]scale=${size}:flags=neighbor,format=yuv420p[rt${r}]`, scaled);
    chains.push(`[rt${r}][sc${r}]overlay=x=0:y=0:format=yuv420:repeatlast=1[rung${r}]`);
  });

  const outputs: FfmpegOutput[] = rungs.map((rung, r) => {
    const k = `${rung.bitrateKbps}k`;
    const codec =
      rung.codec === 'vp8'
        ? ['-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '8', '-lag-in-frames', '0', '-error-resilient', '1', '-threads', '2']
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
  const audioOut = (label: string, port: number): FfmpegOutput => ({
    url: rtpUrl(port),
    options: [
      '-map', `[${label}]`, '-c:a', 'libopus', '-b:a', `${settings.audioBitrateKbps}k`, '-ac', '1',
      '-application', 'lowdelay', '-frame_duration', '20', '-payload_type', String(MIX_RTP_PT.audio), '-f', 'rtp',
    ],
  });
  outputs.push(audioOut('afull', endpoints.fullMixRtpPort));
  for (const k of all) outputs.push(audioOut(`amm${k}`, endpoints.mixMinusRtpPorts[k]));

  return {
    globalOptions: ['-hide_banner', '-nostats', '-loglevel', 'warning', '-nostdin'],
    inputs,
    filterComplex: chains.join(';'),
    outputs,
  };
}

/** The whole command line after the program name (for logs, tests and the bare benchmark). */
export function specToArgv(spec: FfmpegSpec): string[] {
  const argv = [...spec.globalOptions];
  for (const input of spec.inputs) argv.push(...input.options, '-i', input.url);
  argv.push('-filter_complex', spec.filterComplex);
  for (const output of spec.outputs) argv.push(...output.options, output.url);
  return argv;
}

/**
 * Commands that take the compositor from one set of placements to another. Only what
 * changed is sent, and a newly shown slot is sized and placed before it is enabled so the
 * first frame drawn is already in the right place.
 */
export function placementCommands(
  prev: readonly SlotPlacement[],
  next: readonly SlotPlacement[],
  slotSize: Size = DEFAULT_MIXER_SETTINGS.slotSize,
): MixerCommand[] {
  const cmds: MixerCommand[] = [];
  for (let k = 0; k < next.length; k++) {
    const before = prev[k] ? placementOf(prev[k]) : undefined;
    const after = placementOf(next[k]);
    const s = `scale@s${k}`;
    const o = `overlay@o${k}`;
    const wasVisible = prev[k]?.visible ?? false;
    if (wasVisible && !next[k].visible) cmds.push({ target: o, command: 'enable', arg: '0' });
    const cropBefore = cropOf(prev[k], slotSize);
    const cropAfter = cropOf(next[k], slotSize);
    if (JSON.stringify(cropBefore) !== JSON.stringify(cropAfter)) {
      // Through the origin, so every intermediate crop stays inside the picture.
      const c = `crop@c${k}`;
      cmds.push({ target: c, command: 'x', arg: '0' }, { target: c, command: 'y', arg: '0' });
      cmds.push({ target: c, command: 'w', arg: String(cropAfter.width) }, { target: c, command: 'h', arg: String(cropAfter.height) });
      cmds.push({ target: c, command: 'x', arg: String(cropAfter.x) }, { target: c, command: 'y', arg: String(cropAfter.y) });
    }
    if (before?.width !== after.width) cmds.push({ target: s, command: 'w', arg: String(after.width) });
    if (before?.height !== after.height) cmds.push({ target: s, command: 'h', arg: String(after.height) });
    if (before?.x !== after.x) cmds.push({ target: o, command: 'x', arg: String(after.x) });
    if (before?.y !== after.y) cmds.push({ target: o, command: 'y', arg: String(after.y) });
    if (!wasVisible && next[k].visible) cmds.push({ target: o, command: 'enable', arg: '1' });
  }
  return cmds;
}
