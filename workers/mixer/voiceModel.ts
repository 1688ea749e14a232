// Mixer settings from the environment: which RNNoise model the mixers load (RNNOISE_MODEL, or
// the one shipped in models/rnnoise/; empty or "none": afftdn), VOICE_PROCESSING, MIXER_VP8_THREADS,
// MIXER_VP8_MAX_INTRA_PCT.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const SHIPPED = 'models/rnnoise/somnolent-hogwash-2018-09-01/sh.rnnn';

/** VOICE_PROCESSING=off builds mixers without any voice chain (an ops kill switch; the bench's baseline). */
export function voiceChainEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  return (env.VOICE_PROCESSING ?? 'on').toLowerCase() !== 'off';
}

/** MIXER_VP8_THREADS: libvpx threads per VP8 rung (1-8); unset: the mixer's default (VP8_THREADS). */
export function vp8ThreadsFromEnv(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const v = env.MIXER_VP8_THREADS?.trim();
  if (!v) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 8) throw new Error(`MIXER_VP8_THREADS: "${v}" is not a whole number from 1 to 8`);
  return n;
}

/** MIXER_VP8_MAX_INTRA_PCT: the largest VP8 keyframe, % of a frame's bitrate share (0 = uncapped, up to 10000); unset: VP8_MAX_INTRA_PCT. */
export function vp8MaxIntraFromEnv(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const v = env.MIXER_VP8_MAX_INTRA_PCT?.trim();
  if (!v) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 10000) throw new Error(`MIXER_VP8_MAX_INTRA_PCT: "${v}" is not a whole number from 0 to 10000`);
  return n;
}

let resolved: { env: string | undefined; model: string | null } | null = null;

/** Absolute path of the model file, or null for afftdn. A configured file that is missing is an error. */
export function rnnoiseModel(env: NodeJS.ProcessEnv = process.env): string | null {
  const configured = env.RNNOISE_MODEL;
  if (resolved && resolved.env === configured) return resolved.model;
  let model: string | null;
  if (configured !== undefined) {
    const v = configured.trim();
    if (v === '' || v.toLowerCase() === 'none') model = null;
    else if (fs.existsSync(v)) model = path.resolve(v);
    else throw new Error(`RNNOISE_MODEL: no such file "${v}" (set it to "none" to use afftdn)`);
  } else {
    // From the source tree (tsx) or from the working directory (the bundled dist/ build).
    const here = path.dirname(fileURLToPath(import.meta.url));
    const candidates = [path.resolve(here, '../..', SHIPPED), path.resolve(SHIPPED)];
    model = candidates.find((c) => fs.existsSync(c)) ?? null;
  }
  resolved = { env: configured, model };
  return model;
}
