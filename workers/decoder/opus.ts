// The Opus decoder addon (native/opus, libopus): loaded once; a clear error when it was not built.

import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

interface OpusAddon {
  create(sampleRate: number, channels: number): unknown;
  decode(handle: unknown, packet: Buffer | null, fec: boolean, frameSize: number): Int16Array;
  samples(packet: Buffer, sampleRate: number): number;
}

const ADDON = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../native/opus/build/Release/opus.node');
let addon: OpusAddon | null = null;
let loadError: string | null = null;

export function opusAddon(): OpusAddon {
  if (addon) return addon;
  if (loadError) throw new Error(loadError);
  try {
    if (!fs.existsSync(ADDON)) throw new Error(`${ADDON} is missing`);
    addon = createRequire(import.meta.url)(ADDON) as OpusAddon;
    return addon;
  } catch (err) {
    loadError = `the Opus decoder addon is not available (${(err as Error).message}); run scripts/setup.sh and npm run build:opus`;
    throw new Error(loadError);
  }
}

/** One stream's decoder: mono or stereo PCM at 48 kHz. */
export class OpusStreamDecoder {
  private readonly handle: unknown;
  private readonly lib: OpusAddon;

  constructor(readonly channels = 1, readonly sampleRate = 48000) {
    this.lib = opusAddon();
    this.handle = this.lib.create(sampleRate, channels);
  }

  decode(packet: Buffer): Int16Array {
    const n = this.lib.samples(packet, this.sampleRate);
    return this.lib.decode(this.handle, packet, false, n > 0 ? n : 960);
  }

  /** Concealment of `samples` lost samples: from the next packet's FEC when given, else PLC. */
  conceal(samples: number, fecFrom: Buffer | null): Int16Array {
    return this.lib.decode(this.handle, fecFrom, fecFrom !== null, samples);
  }
}
