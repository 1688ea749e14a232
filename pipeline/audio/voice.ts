// Voice processing in the mix, as data: each slot's chain before the mix (high-pass → noise
// suppression → AGC gain), the limiter after it, the runtime commands that
// switch them per room and per participant, and the meters GET /rooms/{room} reports.
// Pure: FFmpeg runs what this describes; workers/ feeds the meters.
//
// Latency: highpass is an IIR (no delay); arnndn works on 10 ms frames and its output lags its
// input by one frame (10 ms, measured: bench/voice.ts): RNNoise's overlap-add of 20 ms windows
// at a 10 ms hop, the algorithm's own delay; the AGC is a `volume` whose gain Node computes
// (GainRider.ts) and sends as commands, so it holds nothing back; the limiter has no look-ahead
// (a peak-following compressor and a hard clip, both per sample: 0 samples of delay).

import type { MixerCommand } from '../mixer/command.ts';

/** What one slot's chain does now (the participant's flag and the room's settings combined). */
export interface SlotVoice {
  highpass: boolean;
  denoise: boolean;
  agc: boolean;
}

/** The room's switches (PUT/PATCH /rooms/{room} `audio`). */
export interface RoomAudioSettings {
  /** The 80 Hz high-pass before the denoiser (rumble, handling noise, mains hum's fundamental). */
  highpass: boolean;
  denoise: boolean;
  agc: boolean;
  /** The limiter after the mix (full mix and every mix-minus). */
  limiter: boolean;
}

export const DEFAULT_ROOM_AUDIO: RoomAudioSettings = { highpass: true, denoise: true, agc: true, limiter: true };

/** A process starts with every slot's processing on; commands take it to the wanted state. */
export const VOICE_ON: SlotVoice = { highpass: true, denoise: true, agc: true };

export const HIGHPASS_HZ = 80;
/**
 * speechnorm, the in-graph AGC tried first (bench/voice.ts still measures it): half-cycle peaks
 * towards -6 dBFS, up to +20 dB. It levelled well but holds the last half-cycle of every 20 ms
 * write until the next write: +20 ms. Replaced by the Node-driven `volume` (GainRider.ts).
 */
export const SPEECHNORM = 'p=0.5:e=10:c=2:t=0.005:r=0.05:f=0.0005';
/**
 * -5 dBFS before the encoder: Opus at 48 kb/s overshoots a limited waveform's peaks by 2-3 dB
 * (measured: limited at -1.5 → decoded +0.25 dBFS; at -4 → -1.2), and what must stay under
 * -1 dBFS is what subscribers decode. One voice at the AGC's target (-20 dBFS RMS) is touched
 * only on its rare highest peaks; voices that add up are held down.
 */
export const LIMIT = 0.562;
/**
 * The limiter after the mix, with no look-ahead. It was `alimiter` (attack 0.1 ms, its minimum):
 * alimiter delays its output by its look-ahead buffer less one sample, int(48000 × 0.1 ms) − 1 =
 * 3 samples = 0.0625 ms, which put the chain (arnndn's 10 ms + this) over the 10 ms budget; its
 * `latency=1` trims them off the stream's start, which leaves the last 3 samples of every write
 * waiting for the next one (tried before: +19.5 ms of buffering). Now two per-sample filters, 0 samples of delay (bench/voice.ts):
 * - `acompressor`, peak detection, attack 0.01 ms (its minimum: the detector follows a rising
 *   peak within the sample), ratio 20 (its maximum), hard knee at -6 dBFS, release 100 ms: it
 *   does the limiting as a gain, so the waveform keeps its shape (a +12 dBFS voice leaves at
 *   -5.1 dBFS, +0.9 dB over the threshold, as ratio 20 allows);
 * - `asoftclip=type=hard` at LIMIT: the guarantee, as alimiter's own final clip was; it passes
 *   everything below LIMIT unchanged and, behind the compressor, cuts nothing on speech at
 *   +12 dBFS or four voices at once (0 % of samples; a clip alone cut 4-11 %).
 * Against alimiter on espeak speech, the part of the output that is not the input times one gain
 * per 10 ms block (the waveform change beyond a gain): -17.9 vs -18.1 dB for a +12 dBFS voice,
 * -20.0 vs -22.5 dB for four voices at -16 dBFS; a -20 dBFS voice has 3.1 % of its samples
 * turned down (alimiter 5.6 %). CPU: about twice alimiter's, ~0.2 % of a core per output.
 */
export const LIMITER_COMPRESSOR = 'threshold=0.5:ratio=20:attack=0.01:release=100:knee=1:detection=peak';
export const LIMITER_CLIP = `type=hard:threshold=${LIMIT}`;
/** The limiter as one filter chain (unnamed; the bench runs it). */
export const LIMITER = `acompressor=${LIMITER_COMPRESSOR},asoftclip=${LIMITER_CLIP}`;
/**
 * The afftdn fallback (no RNNoise model): 30 dB of reduction over a fixed floor. Measured on
 * white noise at -30 dBFS: pauses -30 → -60 dBFS, speech envelope r 0.98; with noise tracking
 * (tn=1) it did not converge and removed nothing. Its FFT window delays it 25 ms (over the
 * 10 ms budget): a fallback, not a peer of arnndn.
 */
export const AFFTDN = 'nr=30:nf=-20';
/**
 * Meter window: one reading per slot per 20 ms (Node averages them). The processed slots leave
 * FFmpeg as raw s16 PCM on the graph's last output and Node measures them (PcmLevelMeter): FFmpeg
 * sends its outputs in order after each graph run, so the Opus packets are out before the meter's
 * bytes are written. The in-graph meter it replaced (asetnsamples → astats → ametadata printing
 * to a socket) ran on every write before any encoder and added 0.7-1.1 ms to the audio path
 * (bench/voice-path.ts, 2026-11-27). A 100 ms astats window (4800 samples) before that held the
 * whole graph back by ~100-150 ms.
 */
export const METER_SAMPLES = 960;

export const slotVoice = (room: Pick<RoomAudioSettings, 'highpass' | 'denoise' | 'agc'>, processing: boolean): SlotVoice => ({
  highpass: processing && room.highpass,
  denoise: processing && room.denoise,
  agc: processing && room.agc,
});

/** Filter-option escaping, as in graph.ts (graph parser, then option parser). */
function optionValue(v: string): string {
  return v.replace(/\\/g, '\\\\\\\\').replace(/:/g, '\\\\\\:');
}

/** One slot's chain, everything on (its initial state): `model` null means afftdn. */
export function slotChain(k: number, model: string | null): string {
  const nr = model ? `arnndn@nr${k}=m=${optionValue(model)}:mix=1` : `afftdn@nr${k}=${AFFTDN}`;
  // amerge needs each input's channel layout pinned; a filter in between leaves it open.
  // eval=frame: the gain expression is evaluated per frame, which is what ramps it (gainCommand).
  return `highpass@hp${k}=f=${HIGHPASS_HZ}:enable=1,${nr},volume@agc${k}=volume=1:eval=frame:enable=1,aformat=sample_fmts=flt:channel_layouts=mono`;
}

/**
 * How far the AGC's gain moves per audio frame (dB). The rider moves it up to 2 dB per 100 ms;
 * set at once, each move was a 2 dB step at a frame boundary (a click risk on a steady voice,
 * not assessed by ear). Frames after arnndn are 10 ms, so 0.2 dB per frame follows the
 * rider's fastest pace.
 */
export const GAIN_RAMP_DB_PER_FRAME = 0.2;

/**
 * The AGC's gain for slot k (dB) as a command to its `volume`: an expression that, evaluated per
 * frame with `volume` the gain the previous frame used, moves towards the target by at most
 * GAIN_RAMP_DB_PER_FRAME per frame and then stays there.
 */
export function gainCommand(k: number, db: number): MixerCommand {
  const g = (10 ** (db / 20)).toFixed(4);
  const r = (10 ** (GAIN_RAMP_DB_PER_FRAME / 20)).toFixed(5);
  return { target: `volume@agc${k}`, command: 'volume', arg: `if(lt(volume,${g}),min(${g},volume*${r}),max(${g},volume/${r}))` };
}

/** The limiter's filter instances on output k (the full mix or slot k's mix-minus). */
export const limiterNames = (k: number | 'full'): [string, string] => {
  const id = k === 'full' ? 'full' : String(k);
  return [`acompressor@lim${id}`, `asoftclip@clip${id}`];
};

export function limiterFilter(k: number | 'full'): string {
  const [comp, clip] = limiterNames(k);
  return `${comp}=${LIMITER_COMPRESSOR},${clip}=${LIMITER_CLIP}`;
}

/** The meter output's format: what PcmLevelMeter reads (interleaved, one channel per slot). */
export const METER_PCM = { codec: 'pcm_s16le', format: 's16le' } as const;

function denoiseCommand(k: number, on: boolean, model: string | null): MixerCommand {
  return model
    ? { target: `arnndn@nr${k}`, command: 'mix', arg: on ? '1' : '0' }
    : { target: `afftdn@nr${k}`, command: 'enable', arg: on ? '1' : '0' };
}

/**
 * Commands from one state of the slots to another; only what changed. Denoise is switched by
 * arnndn's `mix` (its 10 ms delay stays, so switching makes no click); the others by `enable`.
 */
export function voiceCommands(prev: readonly SlotVoice[], next: readonly SlotVoice[], model: string | null): MixerCommand[] {
  const cmds: MixerCommand[] = [];
  next.forEach((v, k) => {
    const was = prev[k] ?? VOICE_ON;
    if (was.denoise !== v.denoise) cmds.push(denoiseCommand(k, v.denoise, model));
    if (was.agc !== v.agc) cmds.push({ target: `volume@agc${k}`, command: 'enable', arg: v.agc ? '1' : '0' });
    if (was.highpass !== v.highpass) cmds.push({ target: `highpass@hp${k}`, command: 'enable', arg: v.highpass ? '1' : '0' });
  });
  return cmds;
}

/**
 * The limiter on or off on every output. acompressor has no timeline (FFmpeg 5.1: no `enable`;
 * the command fails and it kept limiting), so it is switched by its `mix` (0: the dry signal);
 * asoftclip by `enable`.
 */
export function limiterCommands(slots: number, on: boolean): MixerCommand[] {
  const targets = ['full' as const, ...Array.from({ length: slots }, (_, k) => k)];
  return targets.flatMap((k) => {
    const [comp, clip] = limiterNames(k);
    return [
      { target: comp, command: 'mix', arg: on ? '1' : '0' },
      { target: clip, command: 'enable', arg: on ? '1' : '0' },
    ];
  });
}

/** Validates a room's `audio` patch; a message for the first problem. */
export function parseAudioPatch(v: unknown): Partial<RoomAudioSettings> | string {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return '"audio" must be an object like { "denoise": true, "agc": true }';
  const out: Partial<RoomAudioSettings> = {};
  for (const [key, value] of Object.entries(v)) {
    if (!['highpass', 'denoise', 'agc', 'limiter'].includes(key)) return `unknown audio setting "${key}" (known: highpass, denoise, agc, limiter)`;
    if (typeof value !== 'boolean') return `"audio.${key}" must be true or false`;
    out[key as keyof RoomAudioSettings] = value;
  }
  return out;
}

/** Validates PATCH /rooms/{room}/participants/{id}: `{ "audio": { "processing": bool } }`. */
export function parseParticipantPatch(body: unknown): { processing?: boolean } | string {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return 'the body must be a JSON object';
  const b = body as Record<string, unknown>;
  for (const key of Object.keys(b)) if (key !== 'audio') return `unknown field "${key}" (known: audio)`;
  if (b.audio === undefined) return {};
  if (!b.audio || typeof b.audio !== 'object' || Array.isArray(b.audio)) return '"audio" must be an object like { "processing": false }';
  const out: { processing?: boolean } = {};
  for (const [key, value] of Object.entries(b.audio)) {
    if (key !== 'processing') return `unknown audio field "${key}" (known: processing)`;
    if (typeof value !== 'boolean') return '"audio.processing" must be true or false';
    out.processing = value;
  }
  return out;
}
