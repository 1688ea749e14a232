// Composition root: config, registries, HTTP, signal handlers.

import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from './config.ts';
import { createApp } from './http/app.ts';
import { RoomRegistry } from './rooms/RoomRegistry.ts';
import { stopAllFfmpeg } from '../workers/ffmpeg/FfmpegProcess.ts';
import { Monitor } from './stats/Monitor.ts';
import { readiness } from './readiness.ts';
import { turnCredentials } from '../pipeline/auth/tokens.ts';
import { Recordings } from './recordings/Recordings.ts';

export interface RunningServer {
  url: string;
  port: number;
  rooms: RoomRegistry;
  monitor: Monitor;
  recordings: Recordings;
  server: http.Server;
  close(): Promise<void>;
}

const here = path.dirname(fileURLToPath(import.meta.url));

export async function startServer(overrides: Partial<ReturnType<typeof loadConfig>> = {}): Promise<RunningServer> {
  const config = { ...loadConfig(), ...overrides };
  const turn = config.turn;
  // The server's own peer connections use the TURN servers too, with their own credentials.
  const iceServers = () =>
    turn
      ? turn.urls.map((urls) => ({ urls, ...turnCredentials(turn.secret, 'mcu-server', Math.floor(Date.now() / 1000), turn.ttlSec) }))
      : config.iceServers;
  const rooms = new RoomRegistry({
    idleMs: config.roomIdleMs,
    iceServers,
    maxRooms: config.limits.maxRooms,
    limits: { maxParticipants: config.limits.maxParticipantsPerRoom, maxSubscribers: config.limits.maxSubscribersPerRoom },
  });
  const monitor = new Monitor(rooms, config.statsIntervalMs);
  monitor.start();
  let port = config.port;
  const recordings = new Recordings({
    redisUrl: config.redisUrl,
    queue: config.recordingsQueue,
    recordingsDir: config.recordingsDir,
    publicUrl: () => config.publicUrl ?? `http://127.0.0.1:${port}`,
    authSecret: config.authSecret,
  });
  const app = createApp({
    rooms,
    monitor,
    recordings,
    hlsIdleMs: config.hlsIdleMs,
    staticDir: path.join(here, 'static'),
    ready: () => readiness(config),
    authSecret: config.authSecret,
    turn: config.turn,
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
  let closing: Promise<void> | null = null;
  const close = () => {
    if (closing) return closing;
    closing = (async () => {
      server.closeAllConnections?.();
      await new Promise<void>((r) => server.close(() => r()));
      monitor.close();
      await rooms.close();
      await recordings.close();
      await stopAllFfmpeg();
    })();
    return closing;
  };
  return { url: `http://127.0.0.1:${port}`, port, rooms, monitor, recordings, server, close };
}

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    console.error(`[config] ${(err as Error).message}`);
    process.exit(2);
  }
  const running = await startServer(config);
  console.log(`[mcu] listening on http://${config.host}:${running.port}`);
  if (!config.authSecret) {
    console.warn('[mcu] WARNING: OPEN MODE. MCU_AUTH_SECRET is not set: anyone who can reach this server can publish, watch, record and administer. Set it for any deployment.');
  }
  let demo: { close(): Promise<void> } | null = null;
  if (config.demo) {
    const { startDemo } = await import('./demo.ts');
    demo = await startDemo(running.url);
    console.log(`[mcu] demo room running: open http://localhost:${running.port}/ and watch room "demo"`);
  }
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`[mcu] ${signal}: closing sessions and mixers`);
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    await demo?.close().catch(() => {});
    await running.close();
    console.log('[mcu] stopped');
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err) => {
    console.error('[mcu] failed to start:', err);
    process.exit(1);
  });
}
