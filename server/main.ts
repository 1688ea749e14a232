// Composition root: config, registries, HTTP, signal handlers.

import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express from 'express';
import { checkMetricsListener, loadConfig } from './config.ts';
import { rnnoiseModel } from '../workers/mixer/voiceModel.ts';
import { opusAddon } from '../workers/decoder/opus.ts';
import { TokenService } from './auth/TokenService.ts';
import { sameSecret } from './http/auth.ts';
import { notFound, unauthorized } from '../pipeline/errors.ts';
import { errorMiddleware } from './http/problems.ts';
import { createApp } from './http/app.ts';
import { RoomRegistry } from './rooms/RoomRegistry.ts';
import { stopAllFfmpeg } from '../workers/ffmpeg/FfmpegProcess.ts';
import { posixSpawnAddon, spawnMethod } from '../workers/ffmpeg/spawnChild.ts';
import { fastSendAddon, fastSendThreaded, fastSendUnavailable } from './rtc/FastSend.ts';
import { MemoryTrimmer } from '../workers/mallocTrim.ts';
import { Monitor } from './stats/Monitor.ts';
import { readiness } from './readiness.ts';
import { turnCredentials } from '../pipeline/auth/tokens.ts';
import { Recordings } from './recordings/Recordings.ts';
import { log } from '../workers/log.ts';
import { projectPath } from '../workers/paths.ts';
import { sweepStaleTempDirs } from '../workers/tmp.ts';
import { ClusterNode } from './cluster/ClusterNode.ts';
import { EdgeRelays } from './cluster/EdgeRelays.ts';
import { CLUSTER_KEY_HEADER, FORWARDED_HEADER } from './cluster/forward.ts';
import os from 'node:os';

export interface RunningServer {
  url: string;
  port: number;
  rooms: RoomRegistry;
  monitor: Monitor;
  recordings: Recordings;
  server: http.Server;
  /** The /metrics-only listener (METRICS_PORT), if any. */
  metricsUrl: string | null;
  /** Verifies and mints tokens; null in open mode (no MCU_AUTH_* key configured). */
  tokens: TokenService | null;
  /** CLUSTER=1: this node's registry and placement on Redis; null on a single node. */
  cluster: ClusterNode | null;
  close(): Promise<void>;
}


export async function startServer(overrides: Partial<ReturnType<typeof loadConfig>> = {}): Promise<RunningServer> {
  const config = { ...loadConfig(), ...overrides };
  checkMetricsListener(config);
  // A configured RNNoise model that is missing fails here, not at the first room.
  rnnoiseModel();
  // Native addons load now, not at the first publisher's audio (Opus) or the first subscriber
  // (srtpfan): that dlopen held the event loop 70 ms, under every room's mixer ticks (a V8
  // profile of e2e/inputs). One that is missing still fails where it is used, with its message.
  try {
    opusAddon();
  } catch {
    /* reported where audio is decoded */
  }
  fastSendAddon();
  posixSpawnAddon();
  const tokens = await TokenService.create({
    secret: config.authSecret,
    publicKeyFile: config.authPublicKeyFile,
    jwksUrl: config.authJwksUrl,
    policy: { maxTtlSec: config.tokenMaxTtlSec, leewaySec: config.tokenLeewaySec },
  });
  const turn = config.turn;
  // The server's own peer connections use the TURN servers too, with their own credentials.
  const iceServers = () =>
    turn
      ? turn.urls.map((urls) => ({ urls, ...turnCredentials(turn.secret, 'mcu-server', Math.floor(Date.now() / 1000), turn.ttlSec) }))
      : config.iceServers;
  const rooms = new RoomRegistry({
    idleMs: config.roomIdleMs,
    iceServers,
    network: config.ice,
    maxRooms: config.limits.maxRooms,
    limits: { maxParticipants: config.limits.maxParticipantsPerRoom, maxSubscribers: config.limits.maxSubscribersPerRoom },
  });
  const monitor = new Monitor(rooms, config.statsIntervalMs);
  const trimmer = new MemoryTrimmer(config.mallocTrimIntervalMs);
  monitor.start();
  let port = config.port;
  const recordings = new Recordings({
    redisUrl: config.redisUrl,
    queue: config.recordingsQueue,
    recordingsDir: config.recordingsDir,
    publicUrl: () => config.publicUrl ?? `http://127.0.0.1:${port}`,
    authSecret: tokens?.mintSecret ?? null,
    tokenMaxTtlSec: config.tokenMaxTtlSec,
  });
  const publicUrl = () => config.publicUrl ?? `http://127.0.0.1:${port}`;
  // Webinar edges pull the mix from the owner as a node (the cluster's key) with a subscriber
  // token of this node's minting: valid on the owner when the nodes share MCU_AUTH_SECRET.
  let cluster: ClusterNode | null = null;
  const edges =
    config.cluster && config.cluster.edges !== false
      ? new EdgeRelays({
          iceServers,
          network: config.ice,
          lingerMs: config.cluster.edgeLingerMs,
          pullHeaders: (room) => ({
            [FORWARDED_HEADER]: cluster?.id ?? '',
            [CLUSTER_KEY_HEADER]: cluster?.key ?? '',
            ...(tokens ? { authorization: `Bearer ${tokens.mint({ room, role: 'subscriber', name: `edge ${cluster?.id ?? ''}`, exp: Math.floor(Date.now() / 1000) + Math.min(3600, config.tokenMaxTtlSec) })}` } : {}),
          }),
        })
      : null;
  cluster = config.cluster
    ? new ClusterNode({
        redisUrl: config.redisUrl,
        nodeId: () => config.cluster!.nodeId ?? `${os.hostname()}:${port}`,
        url: publicUrl,
        region: config.cluster.region,
        maxRooms: config.limits.maxRooms,
        rooms,
        redirect: config.cluster.redirect,
        edges,
      })
    : null;
  const app = createApp({
    cluster,
    rooms,
    monitor,
    recordings,
    hlsIdleMs: config.hlsIdleMs,
    staticDir: projectPath('server', 'static'),
    ready: () => readiness(config),
    tokens,
    metricsToken: config.metricsToken,
    streamTargetsAllow: config.streamTargetsAllow,
    turn: config.turn,
    corsOrigins: config.corsOrigins,
    iceNetwork: config.ice,
    sessionRate: { perSec: config.limits.sessionsPerSecPerClient, burst: config.limits.sessionBurstPerClient },
  });
  const server = http.createServer({ maxHeaderSize: 16 * 1024 }, app);
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  port = (server.address() as { port: number }).port;
  if (cluster) {
    try {
      await cluster.start();
    } catch (err) {
      server.close();
      await Promise.all([cluster.close(), rooms.close(), recordings.close()]);
      monitor.close();
      trimmer.close();
      throw new Error(`CLUSTER=1 but Redis (${config.redisUrl}) is not reachable: ${(err as Error).message}`);
    }
  }
  const metricsServer = config.metricsPort === null ? null : await listenMetrics(monitor, config.metricsPort, config.metricsHost, config.metricsToken);
  const metricsUrl = metricsServer ? `http://${hostForUrl(config.metricsHost)}:${(metricsServer.address() as { port: number }).port}/metrics` : null;
  let closing: Promise<void> | null = null;
  const close = () => {
    if (closing) return closing;
    closing = (async () => {
      // Other nodes stop sending requests here before the rooms go.
      await cluster?.close();
      server.closeAllConnections?.();
      metricsServer?.closeAllConnections?.();
      await Promise.all([server, metricsServer].map((s) => s && new Promise<void>((r) => s.close(() => r()))));
      monitor.close();
      trimmer.close();
      await rooms.close();
      await recordings.close();
      // Only what this server owns: another server in the same process (tests, a cluster node
      // beside an edge) keeps its rooms, decoders and encoders.
    })();
    return closing;
  };
  return { url: `http://127.0.0.1:${port}`, port, rooms, monitor, recordings, server, metricsUrl, tokens, cluster, close };
}

const hostForUrl = (h: string) => (h.includes(':') ? `[${h}]` : h);

/**
 * METRICS_PORT: /metrics alone on a listener of its own, for scrapers on the operator's
 * network. With METRICS_TOKEN it asks for that bearer; without, config allows it only on a
 * loopback or private address (checkMetricsListener).
 */
async function listenMetrics(monitor: Monitor, port: number, host: string, token: string | null): Promise<http.Server> {
  const app = express();
  app.disable('x-powered-by');
  app.get('/metrics', async (req, res) => {
    const m = /^Bearer +(\S+)$/i.exec(req.get('authorization') ?? '');
    if (token && !(m && sameSecret(m[1], token))) throw unauthorized('this listener needs METRICS_TOKEN as a bearer token');
    res.set('Content-Type', monitor.registry.contentType).send(await monitor.metrics());
  });
  app.use((req, _res, next) => next(notFound(`only /metrics is served on this port, not ${req.path}`)));
  app.use(errorMiddleware(log.child({ component: 'metrics-http' }), 1024));
  const server = http.createServer(app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return server;
}

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    log.fatal(`invalid configuration: ${(err as Error).message}`);
    process.exit(2);
  }
  const swept = sweepStaleTempDirs();
  if (swept) log.info({ removed: swept }, 'removed temporary files of processes that are gone');
  const running = await startServer(config);
  const egressSend = fastSendAddon() ? (fastSendThreaded() ? 'srtpfan, send thread' : 'srtpfan, main thread') : `werift (${fastSendUnavailable})`;
  log.info({ host: config.host, port: running.port, ice: config.ice, spawn: spawnMethod(), egressSend }, `listening on http://${config.host}:${running.port}`);
  if (running.metricsUrl) log.info({ metrics: running.metricsUrl }, 'metrics listener');
  if (!config.authSecret && !config.authPublicKeyFile && !config.authJwksUrl) {
    log.warn('OPEN MODE: MCU_AUTH_SECRET is not set: anyone who can reach this server can publish, watch, record and administer. Set it for any deployment.');
  }
  let demo: { close(): Promise<void> } | null = null;
  if (config.demo) {
    const { startDemo } = await import('./demo.ts');
    // With tokens on, the demo's publishers hold short-lived publisher tokens like any client.
    const tokens = running.tokens;
    const bearer = tokens
      ? () => ({ Authorization: `Bearer ${tokens.mint({ room: 'demo', role: 'publisher', exp: Math.floor(Date.now() / 1000) + 3600 })}` })
      : () => ({});
    // The demo's voices are synthetic tones, which a speech denoiser takes for noise: off here.
    // Its publishers join at once: its first process encodes the always-on rungs (no swap at their join).
    await running.rooms.getOrCreate('demo', { audio: { denoise: false } }, { forMember: true });
    demo = await startDemo(running.url, 'demo', bearer);
    log.info(`demo room running: open http://localhost:${running.port}/ and watch room "demo"`);
  }
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    // Cluster: SIGTERM drains first (no new rooms here) until the rooms end or DRAIN_TIMEOUT_MS.
    if (signal === 'SIGTERM' && running.cluster && config.cluster!.drainMs > 0) {
      log.info({ rooms: running.rooms.size, drainMs: config.cluster!.drainMs }, 'draining: no new rooms, waiting for the rooms here to end');
      await running.cluster.drain();
      const until = Date.now() + config.cluster!.drainMs;
      while (running.rooms.size > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 500));
    }
    log.info({ signal }, 'closing sessions and mixers');
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    await demo?.close().catch(() => {});
    await running.close();
    // Process exit: anything a bug left behind goes too (the server closed what it owns).
    await stopAllFfmpeg();
    log.info('stopped');
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err) => {
    log.fatal({ err }, 'failed to start');
    process.exit(1);
  });
}
