// createApp(deps): every route and the error middleware, without listening (tests start it
// on port 0 in-process).

import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import express, { type NextFunction, type Request, type Response } from 'express';
import { badRequest, HttpError, notFound, unsupportedMediaType } from '../errors.ts';
import { RoomRegistry as Registry } from '../rooms/RoomRegistry.ts';
import { DEFAULT_ROOM_SETTINGS, parseSettingsPatch, type RoomEvent } from '../rooms/Room.ts';
import type { Monitor } from '../stats/Monitor.ts';
import { allow, authenticate, forbidden, ownsSession } from './auth.ts';
import { MAX_SDP_BYTES } from '../../pipeline/sdp.ts';
import { parseTelemetry } from '../../pipeline/quality/figures.ts';
import { iceServerLinks, ROLES, signToken, turnCredentials, type Role } from '../../pipeline/auth/tokens.ts';
import { RateLimiter } from '../../pipeline/auth/RateLimiter.ts';
import { LEVELS, type Level } from '../../pipeline/ladder.ts';
import { Recordings } from '../recordings/Recordings.ts';
import { checkRtmpUrl } from '../broadcast/RtmpPush.ts';

const HLS_JS = createRequire(import.meta.url).resolve('hls.js/dist/hls.min.js');

export interface AppDeps {
  rooms: Registry;
  monitor: Monitor;
  staticDir?: string;
  /** HS256 secret for room tokens; null = open mode. */
  authSecret?: string | null;
  turn?: { urls: string[]; secret: string; ttlSec: number } | null;
  /** Session creations per client address (token bucket). */
  sessionRate?: { perSec: number; burst: number };
  /** HLS stops after this long without a request (default 30 s). */
  hlsIdleMs?: number;
  /** The recording API (BullMQ on Redis); absent = recordings answer 503. */
  recordings?: Recordings | null;
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
  app.set('trust proxy', false);

  // Security headers everywhere; the pages load only their own scripts (no inline script).
  app.use((_req, res, next) => {
    res.set({
      'Content-Security-Policy':
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; media-src 'self' blob:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
      'X-Frame-Options': 'DENY',
    });
    next();
  });

  const auth = authenticate(deps.authSecret ?? null);
  const limiter = new RateLimiter(deps.sessionRate?.perSec ?? 5, deps.sessionRate?.burst ?? 20);
  const rateLimited = (req: Request, _res: Response, next: NextFunction) => {
    const wait = limiter.take(req.socket.remoteAddress ?? 'unknown', Date.now());
    if (wait > 0) return next(new HttpError(429, 'too_many_requests', `too many sessions created from this address; retry in ${wait} s`, { 'Retry-After': String(wait) }));
    next();
  };
  /** RFC 9725 ice-server Link headers, with fresh TURN REST credentials when configured. */
  const iceLinks = (res: Response) => {
    const turn = deps.turn;
    if (!turn) return;
    const creds = turnCredentials(turn.secret, randomUUID(), Math.floor(Date.now() / 1000), turn.ttlSec);
    res.append('Link', iceServerLinks(turn.urls, creds));
  };

  const options = (_req: Request, res: Response) => {
    iceLinks(res);
    res.set('Accept-Post', 'application/sdp').set('Allow', 'OPTIONS, POST, DELETE').status(204).end();
  };

  // ---- WHIP: publish --------------------------------------------------------------
  app.options('/rooms/:room/whip', auth, allow('publisher', 'host'), options);
  app.post('/rooms/:room/whip', auth, allow('publisher', 'host'), rateLimited, requireSdp, sdpBody, async (req, res) => {
    Registry.validateName(param(req, 'room'));
    const existing = rooms.get(param(req, 'room'));
    if (existing?.settings.mode === 'webinar') {
      // A webinar mixes only its hosts: a host token, or a grant from POST /rooms/{room}/hosts.
      const grant = typeof req.query.grant === 'string' ? req.query.grant : '';
      const hostToken = req.caller && !req.caller.open && (req.caller.claims.role === 'host' || req.caller.claims.role === 'admin');
      if (!hostToken && !(grant && existing.hostGrants.has(grant))) {
        throw forbidden(
          `room "${existing.name}" is a webinar: only hosts publish. Watch it over WHEP, or be promoted (POST /rooms/${existing.name}/hosts) and publish with the grant you get`,
        );
      }
    }
    const room = await rooms.getOrCreate(param(req, 'room'));
    const name = req.caller?.claims.name ?? displayName(req.query.name);
    const { participant, answer } = await room.addPublisher(String(req.body ?? ''), name, req.caller?.tokenHash ?? null);
    monitor.sessionCreated(participant.id, 'whip');
    iceLinks(res);
    res
      .status(201)
      .set('Content-Type', 'application/sdp')
      .set('Location', `/rooms/${room.name}/whip/${participant.id}`)
      .set('ETag', `"${participant.id}"`)
      .send(answer);
  });
  app.delete('/rooms/:room/whip/:id', auth, allow('publisher', 'host'), (req, res) => {
    const room = rooms.require(param(req, 'room'));
    const p = room.participants.get(param(req, 'id'));
    if (!p) throw notFound(`no WHIP session "${param(req, 'id')}" in room "${room.name}"`);
    if (!ownsSession(req.caller, p.ownerTokenHash)) throw forbidden('only the token that created this session (or an admin) may end it');
    room.removePublisher(p.id);
    res.status(200).end();
  });
  app.patch('/rooms/:room/whip/:id', (_req, res) => {
    res.set('Allow', 'DELETE').status(405).json({ error: 'method_not_allowed', message: 'trickle ICE is not supported; send a complete offer' });
  });

  // ---- WHEP: subscribe ------------------------------------------------------------
  app.options('/rooms/:room/whep', auth, allow('subscriber', 'publisher', 'host'), options);
  app.post('/rooms/:room/whep', auth, allow('subscriber', 'publisher', 'host'), rateLimited, requireSdp, sdpBody, async (req, res) => {
    Registry.validateName(param(req, 'room'));
    const participant = typeof req.query.participant === 'string' && req.query.participant ? req.query.participant : null;
    const existing = rooms.get(param(req, 'room'));
    if (participant !== null && !existing?.participants.has(participant)) {
      throw notFound(`participant "${participant}" is not in room "${param(req, 'room')}"`);
    }
    // A publisher watches only as itself: its own mix-minus.
    if (req.caller?.claims.role === 'publisher' && !req.caller.open) {
      if (!participant || !ownsSession(req.caller, existing!.participants.get(participant)!.ownerTokenHash)) {
        throw forbidden('a publisher token may only subscribe to its own mix-minus (?participant=<its WHIP session>)');
      }
    }
    // ?level=720p|360p|audio pins the rung (a recorder wants the top one whatever its network).
    const rawLevel = typeof req.query.level === 'string' ? req.query.level : null;
    if (rawLevel !== null && !LEVELS.includes(rawLevel as Level)) throw badRequest(`"level" must be one of ${LEVELS.join(', ')}`);
    const room = await rooms.getOrCreate(param(req, 'room'));
    const { subscription, answer } = await room.addSubscriber(String(req.body ?? ''), participant, req.caller?.tokenHash ?? null, {
      level: rawLevel as Level | null,
    });
    monitor.sessionCreated(subscription.id, 'whep');
    iceLinks(res);
    res
      .status(201)
      .set('Content-Type', 'application/sdp')
      .set('Location', `/rooms/${room.name}/whep/${subscription.id}`)
      .send(answer);
  });
  app.delete('/rooms/:room/whep/:id', auth, allow('subscriber', 'publisher', 'host'), async (req, res) => {
    const room = rooms.require(param(req, 'room'));
    const s = room.subscriptions.get(param(req, 'id'));
    if (!s) throw notFound(`no WHEP session "${param(req, 'id')}" in room "${room.name}"`);
    if (!ownsSession(req.caller, s.ownerTokenHash)) throw forbidden('only the token that created this session (or an admin) may end it');
    await room.removeSubscriber(s.id);
    res.status(200).end();
  });
  app.patch('/rooms/:room/whep/:id', (_req, res) => {
    res.set('Allow', 'DELETE').status(405).json({ error: 'method_not_allowed', message: 'trickle ICE is not supported; send a complete offer' });
  });

  // ---- Rooms ----------------------------------------------------------------------
  app.get('/rooms', auth, allow(), (_req, res) => {
    res.json({
      rooms: rooms.list().map((r) => ({ name: r.name, participants: r.participants.size, subscriptions: r.subscriptions.size })),
    });
  });
  // Browsers asking for /rooms/{room} get the room page; API clients get JSON.
  app.get('/rooms/:room', (req, res, next) => {
    if (deps.staticDir && req.accepts(['json', 'html']) === 'html') {
      res.sendFile('room.html', { root: path.resolve(deps.staticDir) });
      return;
    }
    next();
  });
  app.get('/rooms/:room', auth, allow(), (req, res) => {
    res.json(rooms.require(param(req, 'room')).describe());
  });
  // PUT creates a room with settings (or replaces the settings of a live one).
  app.put('/rooms/:room', auth, allow(), express.json({ limit: '8kb' }), async (req, res) => {
    Registry.validateName(param(req, 'room'));
    const patch = parseSettingsPatch(req.body ?? {});
    if (typeof patch === 'string') throw badRequest(patch);
    const existed = Boolean(rooms.get(param(req, 'room')));
    const room = await rooms.getOrCreate(param(req, 'room'), patch);
    if (existed) room.updateSettings({ ...DEFAULT_ROOM_SETTINGS, ...patch });
    res.status(existed ? 200 : 201).json(room.describe());
  });
  app.patch('/rooms/:room', auth, allow(), express.json({ limit: '8kb' }), (req, res) => {
    const room = rooms.require(param(req, 'room'));
    const patch = parseSettingsPatch(req.body);
    if (typeof patch === 'string') throw badRequest(patch);
    room.updateSettings(patch);
    res.json(room.describe());
  });
  app.get('/rooms/:room/events', auth, allow('publisher', 'host', 'subscriber'), (req, res) => {
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

  // ---- Webinars: hosts, HLS, RTMP -------------------------------------------------------
  app.post('/rooms/:room/hosts', auth, allow('host'), express.json({ limit: '2kb' }), (req, res) => {
    const room = rooms.require(param(req, 'room'));
    const b = (req.body ?? {}) as Record<string, unknown>;
    const subscriptionId = typeof b.subscriptionId === 'string' ? b.subscriptionId : null;
    if (b.subscriptionId !== undefined && !subscriptionId) throw badRequest('"subscriptionId" must be a WHEP session id');
    if (subscriptionId && !room.subscriptions.has(subscriptionId)) throw notFound(`no WHEP session "${subscriptionId}" in room "${room.name}"`);
    const name = typeof b.name === 'string' ? b.name.trim().slice(0, 64) || null : null;
    const grant = randomUUID();
    room.hostGrants.set(grant, { subscriptionId, name, createdAt: Date.now() });
    room.emit('event', { type: 'host-promoted', at: new Date().toISOString(), subscriptionId, name });
    const now = Math.floor(Date.now() / 1000);
    const token = deps.authSecret
      ? signToken({ room: room.name, role: 'host', name: name ?? undefined, iat: now, exp: now + 12 * 3600, jti: grant }, deps.authSecret)
      : null;
    const q = new URLSearchParams({ grant, ...(name ? { name } : {}) });
    res.status(201).json({ grant, whip: `/rooms/${room.name}/whip?${q}`, token });
  });

  const HLS_TYPES: Record<string, string> = { '.m3u8': 'application/vnd.apple.mpegurl', '.ts': 'video/mp2t' };
  app.get('/rooms/:room/hls/:file', auth, allow('subscriber', 'publisher', 'host'), async (req, res) => {
    const room = rooms.require(param(req, 'room'));
    const name = param(req, 'file');
    const ext = path.extname(name);
    if (!HLS_TYPES[ext]) throw notFound(`no HLS file "${name}"`);
    let hls = room.hls;
    if (name === 'index.m3u8') {
      // The playlist starts HLS on demand and answers once a first segment exists.
      if (!hls?.running) {
        hls = await room.hlsPackager({ idleMs: deps.hlsIdleMs ?? 30_000 }).catch((err: Error) => {
          throw err instanceof HttpError ? err : new HttpError(503, 'hls_unavailable', `HLS could not start: ${err.message}`, { 'Retry-After': '2' });
        });
      }
      if (!(await hls.ready())) throw new HttpError(503, 'hls_starting', 'HLS is starting: no segment yet; retry shortly', { 'Retry-After': '2' });
    }
    if (!hls) throw notFound(`HLS is not running in room "${room.name}"; request /rooms/${room.name}/hls/index.m3u8 first`);
    hls.touch(req.socket.remoteAddress ?? 'unknown');
    const file = hls.file(name);
    if (!file) throw notFound(`no HLS file "${name}" (segments older than the playlist window are deleted)`);
    res.set('Content-Type', HLS_TYPES[ext]);
    if (ext === '.m3u8') {
      // Playlists change every segment; segments never change once listed.
      res.set('Cache-Control', 'no-cache, max-age=0');
      let text = fs.readFileSync(file, 'utf8');
      const token = typeof req.query.access_token === 'string' ? req.query.access_token : null;
      if (token) text = text.replace(/^(?!#)(\S+)$/gm, `$1?access_token=${encodeURIComponent(token)}`);
      res.send(Buffer.from(text)); // a Buffer: express adds no charset to the playlist type
      return;
    }
    res.set('Cache-Control', 'public, max-age=60, immutable');
    res.sendFile(file);
  });

  app.post('/rooms/:room/streams', auth, allow('host'), express.json({ limit: '4kb' }), (req, res) => {
    const room = rooms.require(param(req, 'room'));
    const b = (req.body ?? {}) as Record<string, unknown>;
    const problem = checkRtmpUrl(b.url);
    if (problem) throw badRequest(problem);
    if (room.streams.size >= 4) throw new HttpError(409, 'too_many_streams', `room "${room.name}" already pushes to 4 targets`);
    const push = room.startStream(String(b.url));
    res.status(201).set('Location', `/rooms/${room.name}/streams/${push.id}`).json(push.describe());
  });
  app.get('/rooms/:room/streams', auth, allow('host'), (req, res) => {
    const room = rooms.require(param(req, 'room'));
    res.json({ streams: [...room.streams.values()].map((p) => p.describe()) });
  });
  app.delete('/rooms/:room/streams/:id', auth, allow('host'), async (req, res) => {
    const room = rooms.require(param(req, 'room'));
    if (!(await room.stopStream(param(req, 'id')))) throw notFound(`no stream "${param(req, 'id')}" in room "${room.name}"`);
    res.status(204).end();
  });

  // The HLS viewer page (hls.js), for audiences that do not need sub-second latency.
  app.get('/rooms/:room/watch', (_req, res) => {
    res.sendFile('watch.html', { root: path.resolve(deps.staticDir ?? '.') });
  });
  // Viewer page libraries, served from node_modules (no CDN).
  app.get('/vendor/hls.min.js', (_req, res) => {
    res.set('Cache-Control', 'public, max-age=86400').sendFile(HLS_JS);
  });

  // ---- Recordings (BullMQ jobs run by `npm run worker`) -----------------------------
  const recordings = (): Recordings => {
    if (!deps.recordings) throw new HttpError(503, 'recordings_unavailable', 'recordings are not configured on this server');
    return deps.recordings;
  };
  app.post('/rooms/:room/recordings', auth, allow(), express.json({ limit: '2kb' }), async (req, res) => {
    Registry.validateName(param(req, 'room'));
    const r = recordings();
    const body = Recordings.parseRequest(req.body ?? {});
    if (typeof body === 'string') throw badRequest(body);
    const room = rooms.require(param(req, 'room'));
    const rec = await r.create(room.name, body);
    res.status(202).set('Location', rec.links.self).json(rec);
  });
  app.get('/recordings', auth, allow(), async (req, res) => {
    const room = typeof req.query.room === 'string' ? req.query.room : undefined;
    res.json({ recordings: await recordings().list(room) });
  });
  app.get('/recordings/:id', auth, allow(), async (req, res) => {
    res.json(await recordings().get(param(req, 'id')));
  });
  app.post('/recordings/:id/stop', auth, allow(), async (req, res) => {
    const { status, body } = await recordings().stop(param(req, 'id'));
    res.status(status).json(body);
  });
  app.get('/recordings/:id/file', auth, allow(), async (req, res, next) => {
    const f = await recordings().file(param(req, 'id'));
    if (f.partial) res.set('X-Recording-Partial', 'true');
    // sendFile answers Range requests (206) and conditional GETs.
    res.attachment(f.downloadName);
    res.sendFile(f.path, { acceptRanges: true, cacheControl: false, dotfiles: 'deny' }, (err) => {
      if (err && !res.headersSent) next(err);
    });
  });
  app.delete('/recordings/:id', auth, allow(), async (req, res) => {
    await recordings().remove(param(req, 'id'));
    res.status(204).end();
  });

  // ---- Monitoring -----------------------------------------------------------------
  app.post('/rooms/:room/telemetry', auth, allow('publisher', 'host', 'subscriber'), express.json({ limit: '8kb' }), (req, res) => {
    const room = rooms.require(param(req, 'room'));
    const t = parseTelemetry(req.body);
    if (typeof t === 'string') throw badRequest(t);
    const session = t.role === 'publisher' ? room.participants.get(t.session) : room.subscriptions.get(t.session);
    if (!session) throw notFound(`no ${t.role === 'publisher' ? 'WHIP' : 'WHEP'} session "${t.session}" in room "${room.name}"`);
    if (!ownsSession(req.caller, session.ownerTokenHash)) throw forbidden('telemetry is accepted only for your own session');
    monitor.recordTelemetry(t);
    res.status(204).end();
  });
  app.get('/metrics', auth, allow(), async (_req, res) => {
    res.set('Content-Type', monitor.registry.contentType).send(await monitor.metrics());
  });
  app.get('/stats', auth, allow(), async (req, res) => {
    if (req.query.fresh !== undefined) await monitor.sample();
    res.json(monitor.snapshot());
  });
  app.get('/stats/events', auth, allow(), (req, res) => {
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
    const auth = deps.authSecret ? 'tokens required' : 'OPEN: no MCU_AUTH_SECRET, anyone can publish, watch and administer';
    res.status(r.ready ? 200 : 503).json({ ...r, checks: { ...r.checks, auth } });
  });

  // Page configuration and tokens for the bundled pages. With auth on, minting tokens is an
  // admin's job (a real deployment mints them in its own backend, see README).
  app.get('/config', (_req, res) => {
    res.json({ auth: deps.authSecret ? 'token' : 'open', turn: Boolean(deps.turn) });
  });
  app.post('/tokens', auth, allow(), express.json({ limit: '2kb' }), (req, res) => {
    const b = (req.body ?? {}) as Record<string, unknown>;
    if (!deps.authSecret) {
      res.json({ open: true, token: null });
      return;
    }
    const role = b.role as Role;
    if (!ROLES.includes(role)) throw badRequest(`"role" must be one of ${ROLES.join(', ')}`);
    const room = typeof b.room === 'string' ? b.room : '';
    if (room !== '*') Registry.validateName(room);
    const ttl = typeof b.ttlSec === 'number' && b.ttlSec > 0 && b.ttlSec <= 86_400 ? Math.floor(b.ttlSec) : 3600;
    const name = typeof b.name === 'string' ? b.name.slice(0, 64) : undefined;
    const now = Math.floor(Date.now() / 1000);
    res.json({ open: false, token: signToken({ room, role, name, iat: now, exp: now + ttl, jti: randomUUID() }, deps.authSecret) });
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
