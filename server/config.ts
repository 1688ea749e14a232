// Configuration from the environment, validated once at start-up (fails fast with a message).

import { envInt } from '../pipeline/env.ts';

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
  /** Recording files (shared with the recording workers). */
  recordingsDir: string;
  recordingsQueue: string;
  /** HLS stops after this long without a playlist or segment request. */
  hlsIdleMs: number;
  /** How recording workers reach this node's HTTP API; default http://127.0.0.1:<port>. */
  publicUrl: string | null;
  /** HS256 secret for room tokens; null runs the server open (no auth). */
  authSecret: string | null;
  turn: { urls: string[]; secret: string; ttlSec: number } | null;
  limits: {
    maxRooms: number;
    maxParticipantsPerRoom: number;
    maxSubscribersPerRoom: number;
    /** Session creations (WHIP/WHEP POSTs) per client address: sustained rate and burst. */
    sessionsPerSecPerClient: number;
    sessionBurstPerClient: number;
  };
}

export function loadConfig(env = process.env): Config {
  const int = (name: string, fallback: number, min: number, max: number) => envInt(env, name, fallback, min, max);
  const demo = (env.DEMO ?? '0').toLowerCase();
  return {
    port: int('PORT', 8080, 0, 65535),
    host: env.HOST || '0.0.0.0',
    demo: demo === '1' || demo === 'true' || demo === 'yes',
    roomIdleMs: int('ROOM_IDLE_MS', 10_000, 0, 3_600_000),
    iceServers: [],
    authSecret: env.MCU_AUTH_SECRET ? requireLength('MCU_AUTH_SECRET', env.MCU_AUTH_SECRET, 16) : null,
    turn: turnConfig(env),
    limits: {
      maxRooms: int('MAX_ROOMS', 50, 1, 10_000),
      maxParticipantsPerRoom: int('MAX_PARTICIPANTS_PER_ROOM', 16, 1, 16),
      maxSubscribersPerRoom: int('MAX_SUBSCRIBERS_PER_ROOM', 500, 1, 100_000),
      sessionsPerSecPerClient: int('SESSION_RATE_PER_SEC', 5, 1, 10_000),
      sessionBurstPerClient: int('SESSION_RATE_BURST', 20, 1, 100_000),
    },
    statsIntervalMs: int('STATS_INTERVAL_MS', 2000, 200, 60_000),
    redisUrl: env.REDIS_URL || 'redis://127.0.0.1:6379',
    recordingsDir: env.RECORDINGS_DIR || 'recordings',
    recordingsQueue: env.RECORDINGS_QUEUE || 'mcu-recordings',
    hlsIdleMs: int('HLS_IDLE_MS', 30_000, 1000, 3_600_000),
    publicUrl: env.PUBLIC_URL ? env.PUBLIC_URL.replace(/\/+$/, '') : null,
  };
}

function requireLength(name: string, value: string, min: number): string {
  if (value.length < min) throw new Error(`${name} must be at least ${min} characters`);
  return value;
}

function turnConfig(env: NodeJS.ProcessEnv): Config['turn'] {
  const urls = (env.TURN_URLS ?? '').split(',').map((u) => u.trim()).filter(Boolean);
  if (!urls.length && !env.TURN_SECRET) return null;
  if (!urls.length) throw new Error('TURN_SECRET is set but TURN_URLS is empty (e.g. turn:turn.example.com:3478?transport=udp)');
  if (!env.TURN_SECRET) throw new Error('TURN_URLS is set but TURN_SECRET is not (coturn\'s static-auth-secret)');
  for (const u of urls) if (!/^(turns?|stun):/.test(u)) throw new Error(`TURN_URLS entry "${u}" must start with turn:, turns: or stun:`);
  return { urls, secret: env.TURN_SECRET, ttlSec: envInt(env, 'TURN_TTL_SEC', 3600, 60, 86_400) };
}
