// The trigger stream's two VP8 packets (one keyframe, one "nothing changed" inter frame),
// encoded once per process by FFmpeg. Node replays them as the mixer's canvas/clock input:
// an inter frame every tick, a keyframe whenever the composite needs one.

import fs from 'node:fs/promises';
import path from 'node:path';
import { FfmpegProcess } from '../ffmpeg/FfmpegProcess.ts';
import { isVp8Keyframe, parseIvf } from '../../pipeline/mixer/ivf.ts';
import { makeTempDirAsync } from '../tmp.ts';

export interface TriggerFrames {
  width: number;
  height: number;
  key: Buffer;
  delta: Buffer;
}

const cache = new Map<string, Promise<TriggerFrames>>();

export function triggerFrames(background: string, fps: number): Promise<TriggerFrames> {
  const id = `${background}@${fps}`;
  let p = cache.get(id);
  if (!p) {
    p = encodeTrigger(background, fps);
    p.catch(() => cache.delete(id));
    cache.set(id, p);
  }
  return p;
}

async function encodeTrigger(background: string, fps: number): Promise<TriggerFrames> {
  const dir = await makeTempDirAsync('trigger');
  const file = path.join(dir, 'trigger.ivf');
  try {
    const proc = new FfmpegProcess('trigger', {
      globalOptions: ['-hide_banner', '-loglevel', 'error', '-nostdin', '-y'],
      inputs: [{ url: `color=c=${background}:s=16x16:r=${fps}`, options: ['-f', 'lavfi'] }],
      filterComplex: '',
      outputs: [
        {
          url: file,
          options: [
            '-frames:v', '3', '-c:v', 'libvpx', '-g', '1000', '-error-resilient', '1',
            '-deadline', 'realtime', '-cpu-used', '8', '-lag-in-frames', '0', '-f', 'ivf',
          ],
        },
      ],
    });
    const exit = await proc.exited;
    if (exit.code !== 0) throw new Error(`could not encode the trigger stream: ${exit.stderrTail.join(' ')}`);
    const ivf = parseIvf(await fs.readFile(file));
    const key = ivf.frames.find(isVp8Keyframe);
    const delta = ivf.frames.find((f) => !isVp8Keyframe(f));
    if (!key || !delta) throw new Error('trigger stream lacks a keyframe or an inter frame');
    return { width: ivf.width, height: ivf.height, key: Buffer.from(key), delta: Buffer.from(delta) };
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}
