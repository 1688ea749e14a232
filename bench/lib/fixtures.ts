// Benchmark media, encoded once with FFmpeg and cached under fixtures/: 10 s loops of
//  - video: 640x360 30 fps VP8 (keyframe every 2 s, no alt-ref), a solid colour with the frame
//    counter stamped at the top (stamp.ts);
//  - audio: Opus 20 ms frames, a 1 kHz beep for the first 100 ms of every second (its onset
//    is what the audio latency is measured on).
// Publishing them costs no encode: the load generator only packetizes and paces.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FfmpegProcess } from '../../workers/ffmpeg/FfmpegProcess.ts';
import { parseIvf } from '../../pipeline/mixer/ivf.ts';
import { rgbToYuv, type Rgb } from '../../workers/clients/webrtc.ts';
import { stampFilter } from './stamp.ts';

export const FIXTURE_FRAMES = 300;
export const FIXTURE_FPS = 30;
const DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures');

async function run(name: string, spec: ConstructorParameters<typeof FfmpegProcess>[1]): Promise<void> {
  const p = new FfmpegProcess(name, spec);
  const exit = await p.exited;
  if (exit.code !== 0) throw new Error(`${name}: FFmpeg failed: ${exit.stderrTail.join(' | ')}`);
}

const hex = (c: Rgb) => c.map((v) => v.toString(16).padStart(2, '0')).join('');

/** The stamped VP8 loop in `color`: its frames (IVF payloads), generated on first use. */
export async function videoFixture(color: Rgb): Promise<Buffer[]> {
  const file = path.join(DIR, `stamp-${hex(color)}-360p.ivf`);
  if (!fs.existsSync(file)) {
    fs.mkdirSync(DIR, { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    await run('fixture-video', {
      globalOptions: ['-hide_banner', '-nostats', '-loglevel', 'error', '-y'],
      inputs: [{ url: `color=c=black:s=640x360:r=${FIXTURE_FPS}:d=${FIXTURE_FRAMES / FIXTURE_FPS}`, options: ['-f', 'lavfi'] }],
      filterComplex: `[0:v]format=yuv420p,${stampFilter(rgbToYuv(color), FIXTURE_FRAMES)}[v]`,
      outputs: [
        {
          url: tmp,
          options: [
            '-map', '[v]', '-frames:v', String(FIXTURE_FRAMES),
            '-c:v', 'libvpx', '-b:v', '500k', '-g', '60', '-keyint_min', '60', '-deadline', 'good', '-cpu-used', '4',
            '-auto-alt-ref', '0', '-lag-in-frames', '0', '-error-resilient', '1', '-f', 'ivf',
          ],
        },
      ],
    });
    fs.renameSync(tmp, file);
  }
  return parseIvf(fs.readFileSync(file)).frames;
}

/** Splits an Ogg Opus file into its Opus packets (without OpusHead/OpusTags). */
export function parseOggOpus(file: Buffer): Buffer[] {
  const packets: Buffer[] = [];
  let partial: Buffer[] = [];
  let off = 0;
  while (off + 27 <= file.length && file.toString('ascii', off, off + 4) === 'OggS') {
    const nseg = file[off + 26];
    const table = file.subarray(off + 27, off + 27 + nseg);
    let p = off + 27 + nseg;
    for (const lace of table) {
      partial.push(file.subarray(p, p + lace));
      p += lace;
      if (lace < 255) {
        packets.push(Buffer.concat(partial));
        partial = [];
      }
    }
    off = p;
  }
  return packets.filter((pk) => !pk.subarray(0, 8).equals(Buffer.from('OpusHead')) && !pk.subarray(0, 8).equals(Buffer.from('OpusTags')));
}

const AUDIO_EXPR = {
  beep: `if(lt(mod(t\\,1)\\,0.1)\\,0.5*sin(2*PI*1000*t)\\,0)`,
  tone: `0.5*sin(2*PI*600*t)`,
  silence: `0`,
};

/**
 * A 10 s Opus loop of 500 packets of 20 ms: `beep` (a beep starts at every 50th packet), a
 * steady `tone` (a participant talking, for speaker detection), or `silence`.
 */
export async function audioFixture(kind: keyof typeof AUDIO_EXPR = 'beep'): Promise<Buffer[]> {
  const file = path.join(DIR, `${kind}-opus.ogg`);
  if (!fs.existsSync(file)) {
    fs.mkdirSync(DIR, { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    await run('fixture-audio', {
      globalOptions: ['-hide_banner', '-nostats', '-loglevel', 'error', '-y'],
      inputs: [{ url: `aevalsrc='${AUDIO_EXPR[kind]}':s=48000:d=10`, options: ['-f', 'lavfi'] }],
      filterComplex: '',
      outputs: [{ url: tmp, options: ['-c:a', 'libopus', '-b:a', '48k', '-ac', '1', '-frame_duration', '20', '-application', 'lowdelay', '-f', 'ogg'] }],
    });
    fs.renameSync(tmp, file);
  }
  return parseOggOpus(fs.readFileSync(file));
}
