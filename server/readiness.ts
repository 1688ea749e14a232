// /readyz: can this server take rooms? FFmpeg must work (the trigger stream encodes); Redis
// is reported (recordings need it) but not required for live rooms.

import net from 'node:net';
import type { Config } from './config.ts';
import { DEFAULT_MIXER_SETTINGS } from '../pipeline/mixer/graph.ts';
import { triggerFrames } from '../workers/mixer/trigger.ts';

function tcpReachable(url: string, timeoutMs = 300): Promise<boolean> {
  return new Promise((resolve) => {
    let host = '127.0.0.1';
    let port = 6379;
    try {
      const u = new URL(url);
      host = u.hostname || host;
      port = Number(u.port) || port;
    } catch {
      return resolve(false);
    }
    const s = net.connect({ host, port });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

export async function readiness(config: Config): Promise<{ ready: boolean; checks: Record<string, unknown> }> {
  let ffmpeg: { ok: boolean; error?: string };
  try {
    await triggerFrames(DEFAULT_MIXER_SETTINGS.background, DEFAULT_MIXER_SETTINGS.fps);
    ffmpeg = { ok: true };
  } catch (err) {
    ffmpeg = { ok: false, error: (err as Error).message };
  }
  const redis = (await tcpReachable(config.redisUrl)) ? 'up' : 'down';
  return { ready: ffmpeg.ok, checks: { ffmpeg, redis: { state: redis, required: false } } };
}
