// Configuration from the environment, validated once at start-up (fails fast with a message).

export interface Config {
  port: number;
  host: string;
  /** Start three synthetic publishers in room "demo" so a fresh install shows a live mix. */
  demo: boolean;
  /** How long an empty room lingers before its mixer is stopped. */
  roomIdleMs: number;
  iceServers: Array<{ urls: string | string[]; username?: string; credential?: string }>;
  statsIntervalMs: number;
  redisUrl: string;
}

function int(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new Error(`${name} must be an integer from ${min} to ${max}, got "${raw}"`);
  }
  return v;
}

export function loadConfig(env = process.env): Config {
  const demo = (env.DEMO ?? '0').toLowerCase();
  return {
    port: int('PORT', 8080, 0, 65535),
    host: env.HOST || '0.0.0.0',
    demo: demo === '1' || demo === 'true' || demo === 'yes',
    roomIdleMs: int('ROOM_IDLE_MS', 10_000, 0, 3_600_000),
    iceServers: [],
    statsIntervalMs: int('STATS_INTERVAL_MS', 2000, 200, 60_000),
    redisUrl: env.REDIS_URL || 'redis://127.0.0.1:6379',
  };
}
