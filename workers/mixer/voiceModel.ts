// Mixer settings from the environment: which RNNoise model the mixers load (RNNOISE_MODEL, or
// the one shipped in models/rnnoise/; empty or "none": afftdn), VOICE_PROCESSING, MIXER_VP8_THREADS,
// MIXER_VP8_MAX_INTRA_PCT.

import fs from 'node:fs';
import { envInt } from '../../pipeline/env.ts';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const SHIPPED = 'models/rnnoise/somnolent-hogwash-2018-09-01/sh.rnnn';

/** VOICE_PROCESSING=off builds mixers without any voice chain (an ops kill switch; the bench's baseline). */
export function voiceChainEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  return (env.VOICE_PROCESSING ?? 'on').toLowerCase() !== 'off';
}

/** MIXER_VP8_THREADS: libvpx threads per VP8 rung (1-8); unset: the mixer's default (VP8_THREADS). */
export function vp8ThreadsFromEnv(env: NodeJS.ProcessEnv = process.env): number | undefined {
  return optionalInt(env, 'MIXER_VP8_THREADS', 1, 8);
}

/** MIXER_VP8_MAX_INTRA_PCT: the largest VP8 keyframe, % of a frame's bitrate share (0 = uncapped, up to 10000); unset: VP8_MAX_INTRA_PCT. */
export function vp8MaxIntraFromEnv(env: NodeJS.ProcessEnv = process.env): number | undefined {
  return optionalInt(env, 'MIXER_VP8_MAX_INTRA_PCT', 0, 10000);
}

/** An integer setting in [min, max] (spaces around it ignored), undefined when unset or blank. */
function optionalInt(env: NodeJS.ProcessEnv, name: string, min: number, max: number): number | undefined {
  const v = env[name]?.trim();
  return v ? envInt({ [name]: v }, name, 0, min, max) : undefined;
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
