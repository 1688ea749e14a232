// createApp(deps): every route and the error middleware, without listening (tests start it
// on port 0 in-process).

import path from 'node:path';
import express, { type NextFunction, type Request, type Response } from 'express';
import { HttpError, notFound, unsupportedMediaType } from '../errors.ts';
import type { RoomRegistry } from '../rooms/RoomRegistry.ts';
import { RoomRegistry as Registry } from '../rooms/RoomRegistry.ts';
import { MAX_SDP_BYTES } from '../../pipeline/sdp.ts';
import { parseTelemetry } from '../../pipeline/quality/figures.ts';
import type { Monitor } from '../stats/Monitor.ts';
import { DEFAULT_ROOM_SETTINGS, parseSettingsPatch, type RoomEvent } from '../rooms/Room.ts';
import { badRequest } from '../errors.ts';

export interface AppDeps {
  rooms: RoomRegistry;
  monitor: Monitor;
  staticDir?: string;
  /** Readiness checks for /readyz. */
  ready?: () => Promise<{ ready: boolean; checks: Record<string, unknown> }>;
}

const sdpBody = express.text({ type: () => true, limit: MAX_SDP_BYTES });

function requireSdp(req: Request, _res: Response, next: NextFunction): void {
  if (!req.is('application/sdp')) {
    next(unsupportedMediaType(`Content-Type must be application/sdp, got "${req.get('content-type') ?? 'none'}"`));
    return;
  }
  next();
}

const param = (req: Request, key: string): string => String(req.params[key]);

function displayName(raw: unknown): string {
  const name = typeof raw === 'string' ? raw.trim().slice(0, 64) : '';
  return name || 'Guest';
}

export function createApp(deps: AppDeps): express.Express {
  const { rooms, monitor } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  const options = (_req: Request, res: Response) => {
    res.set('Accept-Post', 'application/sdp').set('Allow', 'OPTIONS, POST').status(204).end();
  };

  // ---- WHIP: publish --------------------------------------------------------------
  app.options('/rooms/:room/whip', options);
  app.post('/rooms/:room/whip', requireSdp, sdpBody, async (req, res) => {
    Registry.validateName(param(req, 'room'));
    const room = await rooms.getOrCreate(param(req, 'room'));
    const { participant, answer } = await room.addPublisher(String(req.body ?? ''), displayName(req.query.name));
    monitor.sessionCreated(participant.id, 'whip');
    res
      .status(201)
      .set('Content-Type', 'application/sdp')
      .set('Location', `/rooms/${room.name}/whip/${participant.id}`)
      .set('ETag', `"${participant.id}"`)
      .send(answer);
  });
  app.delete('/rooms/:room/whip/:id', (req, res) => {
    const room = rooms.require(param(req, 'room'));
    if (!room.removePublisher(param(req, 'id'))) throw notFound(`no WHIP session "${param(req, 'id')}" in room "${room.name}"`);
    res.status(200).end();
  });
  app.patch('/rooms/:room/whip/:id', (_req, res) => {
    res.set('Allow', 'DELETE').status(405).json({ error: 'method_not_allowed', message: 'trickle ICE is not supported; send a complete offer' });
  });

  // ---- WHEP: subscribe ------------------------------------------------------------
  app.options('/rooms/:room/whep', options);
  app.post('/rooms/:room/whep', requireSdp, sdpBody, async (req, res) => {
    Registry.validateName(param(req, 'room'));
    const participant = typeof req.query.participant === 'string' && req.query.participant ? req.query.participant : null;
    if (participant !== null && !rooms.get(param(req, 'room'))) {
      throw notFound(`participant "${participant}" is not in room "${param(req, 'room')}"`);
    }
    const room = await rooms.getOrCreate(param(req, 'room'));
    const { subscription, answer } = await room.addSubscriber(String(req.body ?? ''), participant);
    monitor.sessionCreated(subscription.id, 'whep');
    res
      .status(201)
      .set('Content-Type', 'application/sdp')
      .set('Location', `/rooms/${room.name}/whep/${subscription.id}`)
      .send(answer);
  });
  app.delete('/rooms/:room/whep/:id', async (req, res) => {
    const room = rooms.require(param(req, 'room'));
    if (!(await room.removeSubscriber(param(req, 'id')))) {
      throw notFound(`no WHEP session "${param(req, 'id')}" in room "${room.name}"`);
    }
    res.status(200).end();
  });
  app.patch('/rooms/:room/whep/:id', (_req, res) => {
    res.set('Allow', 'DELETE').status(405).json({ error: 'method_not_allowed', message: 'trickle ICE is not supported; send a complete offer' });
  });

  // ---- Rooms ----------------------------------------------------------------------
  app.get('/rooms', (_req, res) => {
    res.json({
      rooms: rooms.list().map((r) => ({ name: r.name, participants: r.participants.size, subscriptions: r.subscriptions.size })),
    });
  });
  app.get('/rooms/:room', (req, res) => {
    res.json(rooms.require(param(req, 'room')).describe());
  });
  // PUT creates a room with settings (or replaces the settings of a live one).
  app.put('/rooms/:room', express.json({ limit: '8kb' }), async (req, res) => {
    Registry.validateName(param(req, 'room'));
    const patch = parseSettingsPatch(req.body ?? {});
    if (typeof patch === 'string') throw badRequest(patch);
    const existed = Boolean(rooms.get(param(req, 'room')));
    const room = await rooms.getOrCreate(param(req, 'room'), patch);
    if (existed) room.updateSettings({ ...DEFAULT_ROOM_SETTINGS, ...patch });
    res.status(existed ? 200 : 201).json(room.describe());
  });
  app.patch('/rooms/:room', express.json({ limit: '8kb' }), (req, res) => {
    const room = rooms.require(param(req, 'room'));
    const patch = parseSettingsPatch(req.body);
    if (typeof patch === 'string') throw badRequest(patch);
    room.updateSettings(patch);
    res.json(room.describe());
  });
  app.get('/rooms/:room/events', (req, res) => {
    const room = rooms.require(param(req, 'room'));
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive' });
    const send = (e: RoomEvent) => res.write(`event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`);
    // The current state first, so a late listener knows where things stand.
    send({ type: 'layout-changed', at: new Date().toISOString(), layout: room.layout.kind, activeSpeaker: room.activeSpeaker, tiles: room.layout.tiles });
    room.on('event', send);
    const ping = setInterval(() => res.write(': ping\n\n'), 15_000);
    const stop = () => {
      clearInterval(ping);
      room.off('event', send);
      res.end();
    };
    req.on('close', stop);
    room.once('closed', stop);
  });

  // ---- Monitoring -----------------------------------------------------------------
  app.post('/rooms/:room/telemetry', express.json({ limit: '8kb' }), (req, res) => {
    const room = rooms.require(param(req, 'room'));
    const t = parseTelemetry(req.body);
    if (typeof t === 'string') throw badRequest(t);
    const known = t.role === 'publisher' ? room.participants.has(t.session) : room.subscriptions.has(t.session);
    if (!known) throw notFound(`no ${t.role === 'publisher' ? 'WHIP' : 'WHEP'} session "${t.session}" in room "${room.name}"`);
    monitor.recordTelemetry(t);
    res.status(204).end();
  });
  app.get('/metrics', async (_req, res) => {
    res.set('Content-Type', monitor.registry.contentType).send(await monitor.metrics());
  });
  app.get('/stats', async (req, res) => {
    if (req.query.fresh !== undefined) await monitor.sample();
    res.json(monitor.snapshot());
  });
  app.get('/stats/events', (req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive' });
    const send = (snap: unknown) => res.write(`event: stats\ndata: ${JSON.stringify(snap)}\n\n`);
    send(monitor.snapshot());
    monitor.on('sample', send);
    const ping = setInterval(() => res.write(': ping\n\n'), 15_000);
    req.on('close', () => {
      clearInterval(ping);
      monitor.off('sample', send);
    });
  });
  app.get('/dashboard', (_req, res) => {
    res.sendFile('dashboard.html', { root: path.resolve(deps.staticDir ?? '.') });
  });
  app.get('/healthz', (_req, res) => {
    res.json({ ok: true, uptimeSec: Math.round(process.uptime()) });
  });
  app.get('/readyz', async (_req, res) => {
    const r = deps.ready ? await deps.ready() : { ready: true, checks: {} };
    res.status(r.ready ? 200 : 503).json(r);
  });

  if (deps.staticDir) app.use(express.static(path.resolve(deps.staticDir), { index: 'index.html' }));

  app.use((req, _res, next) => next(notFound(`no route for ${req.method} ${req.path}`)));
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  app.use((err: any, _req: Request, res: Response, _next: NextFunction) => {
    if (err instanceof HttpError) {
      res.set(err.headers).status(err.status).json({ error: err.code, message: err.message });
      return;
    }
    // body-parser's errors carry their status (413 too large, 400 bad encoding).
    if (typeof err?.status === 'number' && err.status >= 400 && err.status < 500) {
      const message = err.status === 413 ? `request body is larger than allowed (${err.limit ?? MAX_SDP_BYTES} bytes)` : err.message;
      res.status(err.status).json({ error: err.type ?? 'bad_request', message });
      return;
    }
    console.error('[http] unexpected error:', err);
    res.status(500).json({ error: 'internal', message: 'internal server error' });
  });
  return app;
}
