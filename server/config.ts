// Configuration from the environment, validated once at start-up (fails fast with a message).

import { envInt } from '../pipeline/env.ts';
import { parseAlwaysOnRungs } from '../pipeline/ladder.ts';
import { isInternal, isIpLiteral } from '../pipeline/net/addresses.ts';
import { parseAllowList, type AllowRule } from '../pipeline/net/pushTargets.ts';
import { parsePlayoutDelay } from '../pipeline/rtp/PlayoutDelay.ts';
import type { PortRange } from '../pipeline/net/announce.ts';
import { isIP } from 'node:net';
import { vp8MaxIntraFromEnv, vp8ThreadsFromEnv } from '../workers/mixer/voiceModel.ts';

export interface Config {
  port: number;
  host: string;
  /** Start three synthetic publishers in room "demo" so a fresh install shows a live mix. */
  demo: boolean;
  /** How long an empty room lingers before its mixer is stopped. */
  roomIdleMs: number;
  /** glibc's malloc_trim this often (MALLOC_TRIM_INTERVAL_MS, workers/mallocTrim.ts); 0 turns it off. */
  mallocTrimIntervalMs: number;
  iceServers: Array<{ urls: string | string[]; username?: string; credential?: string }>;
  /**
   * The server's own ICE sockets: the address its candidates announce (ICE_ANNOUNCED_IP, behind
   * 1:1 NAT or in a container) and the UDP ports they bind (ICE_UDP_PORT_MIN..MAX).
   */
  ice: { announcedIp: string | null; portRange: PortRange | null };
  statsIntervalMs: number;
  redisUrl: string;
  /** Recording files (shared with the recording workers). */
  recordingsDir: string;
  recordingsQueue: string;
  /** HLS stops after this long without a playlist or segment request. */
  hlsIdleMs: number;
  /** How recording workers reach this node's HTTP API; default http://127.0.0.1:<port>. */
  publicUrl: string | null;
  /** HS256 secret for room tokens. With none of the three keys the server runs open (no auth). */
  authSecret: string | null;
  /** ES256 public key(s) for tokens minted elsewhere: a PEM, JWK or JWKS file. */
  authPublicKeyFile: string | null;
  /** ES256 public keys from a JWKS URL (https, or http on loopback). */
  authJwksUrl: string | null;
  /** No token lives longer than this (exp − now, and exp − iat). */
  tokenMaxTtlSec: number;
  /** Clock skew allowed for a token's nbf and iat. */
  tokenLeewaySec: number;
  /** A static bearer for /metrics scrapers (only /metrics accepts it). */
  metricsToken: string | null;
  /** Serve /metrics (only) on this port too; null: no such listener. */
  metricsPort: number | null;
  metricsHost: string;
  /** Where RTMP pushes may go (STREAM_TARGETS_ALLOW); empty: any public address. */
  streamTargetsAllow: AllowRule[];
  turn: { urls: string[]; secret: string; ttlSec: number } | null;
  /** Origins allowed by CORS: '*' (any; tokens are what protect) or a list. */
  corsOrigins: '*' | string[];
  /** CLUSTER=1: several nodes as one service on Redis (docs/CLUSTER.md); null: a single node. */
  cluster: {
    nodeId: string | null;
    region: string;
    redirect: boolean;
    drainMs: number;
    /** CLUSTER_EDGES: serve webinar viewers of other nodes' rooms (pulling the mix once per rung; default on). */
    edges?: boolean;
    /** EDGE_LINGER_MS: an edge drops its pull this long after its last viewer left (default 30 s). */
    edgeLingerMs?: number;
  } | null;
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
  const logLevel = (env.LOG_LEVEL ?? 'info').toLowerCase();
  if (!['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'].includes(logLevel)) {
    throw new Error(`LOG_LEVEL must be one of trace, debug, info, warn, error, fatal, silent; got "${env.LOG_LEVEL}"`);
  }
  // Read by the egress at its first answer (server/rtc/Egress.ts); a bad value is refused here, at start-up.
  parsePlayoutDelay(env.EGRESS_PLAYOUT_DELAY);
  // Read by each video mixer as it starts (workers/mixer/voiceModel.ts); refused here too, at start-up.
  vp8ThreadsFromEnv(env);
  vp8MaxIntraFromEnv(env);
  const config: Config = {
    port: int('PORT', 8080, 0, 65535),
    host: env.HOST || '0.0.0.0',
    demo: demo === '1' || demo === 'true' || demo === 'yes',
    roomIdleMs: int('ROOM_IDLE_MS', 10_000, 0, 3_600_000),
    /** glibc's malloc_trim this often (workers/mallocTrim.ts); 0 turns it off. */
    mallocTrimIntervalMs: int('MALLOC_TRIM_INTERVAL_MS', 30_000, 0, 3_600_000),
    iceServers: [],
    ice: iceConfig(env),
    authSecret: env.MCU_AUTH_SECRET ? requireLength('MCU_AUTH_SECRET', env.MCU_AUTH_SECRET, 16) : null,
    authPublicKeyFile: env.MCU_AUTH_PUBLIC_KEY_FILE || null,
    authJwksUrl: jwksUrl(env.MCU_AUTH_JWKS_URL),
    tokenMaxTtlSec: int('TOKEN_MAX_TTL_SEC', 86_400, 60, 30 * 86_400),
    tokenLeewaySec: int('TOKEN_LEEWAY_SEC', 30, 0, 300),
    metricsToken: env.METRICS_TOKEN ? requireLength('METRICS_TOKEN', env.METRICS_TOKEN, 16) : null,
    metricsPort: env.METRICS_PORT ? int('METRICS_PORT', 0, 0, 65535) : null,
    metricsHost: env.METRICS_HOST || '127.0.0.1',
    streamTargetsAllow: parseAllowList(env.STREAM_TARGETS_ALLOW),
    turn: turnConfig(env),
    corsOrigins: corsOrigins(env.CORS_ORIGINS),
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
    cluster: clusterConfig(env),
  };
  checkMetricsListener(config);
  // Read again by each room when it is made; a bad value stops the server here, not a join later.
  parseAlwaysOnRungs(env.MIX_ALWAYS_ON_RUNGS);
  return config;
}

const on = (v: string | undefined) => ['1', 'true', 'yes'].includes((v ?? '').trim().toLowerCase());

function clusterConfig(env: NodeJS.ProcessEnv): Config['cluster'] {
  if (!on(env.CLUSTER)) return null;
  const nodeId = env.NODE_ID?.trim() || null;
  if (nodeId !== null && !/^[A-Za-z0-9_.:-]{1,100}$/.test(nodeId)) throw new Error(`NODE_ID must be 1 to 100 characters of A-Z, a-z, 0-9, "_", ".", ":" and "-"; got "${nodeId}"`);
  const region = env.REGION?.trim() || 'default';
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(region)) throw new Error(`REGION must be 1 to 64 characters of A-Z, a-z, 0-9, "_", "." and "-"; got "${region}"`);
  return {
    nodeId,
    region,
    redirect: on(env.CLUSTER_REDIRECT),
    drainMs: envInt(env, 'DRAIN_TIMEOUT_MS', 0, 0, 24 * 3_600_000),
    edges: (env.CLUSTER_EDGES ?? '1').trim() !== '0',
    edgeLingerMs: envInt(env, 'EDGE_LINGER_MS', 30_000, 0, 3_600_000),
  };
}

function iceConfig(env: NodeJS.ProcessEnv): Config['ice'] {
  const ip = env.ICE_ANNOUNCED_IP?.trim() || null;
  if (ip !== null && (!isIP(ip) || ip === '0.0.0.0' || ip === '::')) {
    throw new Error(`ICE_ANNOUNCED_IP must be an IP address that clients can reach (e.g. the public address of a 1:1 NAT), got "${ip}"`);
  }
  const hasMin = !!env.ICE_UDP_PORT_MIN;
  const hasMax = !!env.ICE_UDP_PORT_MAX;
  if (hasMin !== hasMax) throw new Error('ICE_UDP_PORT_MIN and ICE_UDP_PORT_MAX go together: set both (e.g. 40000 and 40199) or neither');
  if (!hasMin) return { announcedIp: ip, portRange: null };
  const min = envInt(env, 'ICE_UDP_PORT_MIN', 0, 1024, 65535);
  const max = envInt(env, 'ICE_UDP_PORT_MAX', 0, 1024, 65535);
  if (min >= max) throw new Error(`ICE_UDP_PORT_MIN (${min}) must be below ICE_UDP_PORT_MAX (${max})`);
  return { announcedIp: ip, portRange: { min, max } };
}

function corsOrigins(raw: string | undefined): '*' | string[] {
  const value = (raw ?? '*').trim();
  if (value === '*' || value === '') return '*';
  const list = value.split(',').map((o) => o.trim()).filter(Boolean);
  for (const o of list) {
    let u: URL;
    try {
      u = new URL(o);
    } catch {
      throw new Error(`CORS_ORIGINS entry "${o}" is not an origin (e.g. https://app.example.com)`);
    }
    if (u.origin !== o) throw new Error(`CORS_ORIGINS entry "${o}" must be an origin only (scheme://host[:port]), e.g. "${u.origin}"`);
  }
  return list;
}

/** A metrics listener without METRICS_TOKEN must be bound to a loopback or private address. */
export function checkMetricsListener(c: Pick<Config, 'metricsPort' | 'metricsHost' | 'metricsToken'>): void {
  if (c.metricsPort === null || c.metricsToken) return;
  if (!isIpLiteral(c.metricsHost) || !isInternal(c.metricsHost)) {
    throw new Error(
      `METRICS_PORT without METRICS_TOKEN serves /metrics to anyone who reaches METRICS_HOST (${c.metricsHost}): bind it to a loopback or private address, or set METRICS_TOKEN`,
    );
  }
}

function jwksUrl(raw: string | undefined): string | null {
  if (!raw) return null;
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new Error(`MCU_AUTH_JWKS_URL is not a URL: "${raw}"`);
  }
  const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(u.hostname);
  if (u.protocol !== 'https:' && !(u.protocol === 'http:' && loopback)) throw new Error('MCU_AUTH_JWKS_URL must be https:// (http:// only on loopback)');
  return u.toString();
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
