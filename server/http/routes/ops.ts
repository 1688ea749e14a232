// Operations: metrics, stats (JSON and SSE), the dashboard, health and readiness, page
// configuration, the OpenAPI document and token minting. Server-wide views (/metrics) need a global admin or the
// metrics token; stats show only the rooms the caller's token covers.

import path from 'node:path';
import express, { Router, type NextFunction, type Request, type Response } from 'express';
import { badRequest, forbidden } from '../../../pipeline/errors.ts';
import { RoomRegistry as Registry } from '../../rooms/RoomRegistry.ts';
import { allow, allowGlobal, covers, queryToken, sameSecret, type Caller, type authenticate } from '../auth.ts';
import { openSse, type SseStream } from '../sse.ts';
import { isGlobalAdmin, mintRefusal, parseTtl, ROLES, type Role } from '../../../pipeline/auth/tokens.ts';
import { openApiDocument } from '../../../pipeline/api/openapi.ts';
import type { Monitor } from '../../stats/Monitor.ts';
import type { AppDeps } from '../deps.ts';

const DEFAULT_TTL_SEC = 3600;
const TOKEN_FIELDS = ['room', 'role', 'name', 'ttlSec'];

type Snapshot = ReturnType<Monitor['snapshot']>;

/** A stats snapshot cut to what the caller covers: a room-scoped token sees its room only,
 * and no server-wide figures. */
export function scopedSnapshot(snap: Snapshot, caller: Caller | undefined): Snapshot | (Omit<Snapshot, 'server' | 'history'> & { server: null; history: []; scope: string }) {
  if (caller && (caller.open || isGlobalAdmin(caller.claims))) return snap;
  return { ...snap, server: null, history: [], rooms: snap.rooms.filter((r) => covers(caller, r.name)), scope: caller?.claims.room ?? '' };
}

/** Ends an event stream when the token that opened it expires. */
export function endAtExpiry(sse: SseStream, caller: Caller | undefined): void {
  if (!caller || caller.open) return;
  const timer = setTimeout(() => sse.end(), Math.max(0, caller.claims.exp * 1000 - Date.now()));
  sse.onEnd(() => clearTimeout(timer));
}

export function opsRoutes(deps: AppDeps, auth: ReturnType<typeof authenticate>): Router {
  const { monitor } = deps;
  const r = Router();

  /** METRICS_TOKEN (a static bearer for scrapers), or any token that passes allowGlobal. */
  const metricsAccess = (req: Request, res: Response, next: NextFunction) => {
    const m = /^Bearer +(\S+)$/i.exec(req.get('authorization') ?? '');
    if (deps.metricsToken && m && sameSecret(m[1], deps.metricsToken)) return next();
    auth(req, res, (err?: unknown) => (err ? next(err) : allowGlobal('/metrics')(req, res, next)));
  };
  r.get('/metrics', metricsAccess, async (_req, res) => {
    res.set('Content-Type', monitor.registry.contentType).send(await monitor.metrics());
  });
  r.get('/stats', auth, allow(), async (req, res) => {
    if (req.query.fresh !== undefined) await monitor.sample();
    res.json(scopedSnapshot(monitor.snapshot(), req.caller));
  });
  r.get('/stats/events', queryToken, auth, allow(), (req, res) => {
    const sse = openSse(req, res);
    const send = (snap: unknown) => sse.send('stats', scopedSnapshot(snap as Snapshot, req.caller));
    send(monitor.snapshot());
    monitor.on('sample', send);
    sse.onEnd(() => monitor.off('sample', send));
    endAtExpiry(sse, req.caller);
  });
  r.get('/dashboard', (_req, res) => {
    res.sendFile('dashboard.html', { root: path.resolve(deps.staticDir ?? '.') });
  });
  r.get('/healthz', (_req, res) => {
    res.json({ ok: true, uptimeSec: Math.round(process.uptime()) });
  });
  r.get('/readyz', async (_req, res) => {
    const ready = deps.ready ? await deps.ready() : { ready: true, checks: {} };
    const authMode = deps.tokens ? 'tokens required' : 'OPEN: no MCU_AUTH_SECRET, anyone can publish, watch and administer';
    res.status(ready.ready ? 200 : 503).json({ ...ready, checks: { ...ready.checks, auth: authMode } });
  });

  // Page configuration and tokens for the bundled pages. With auth on, minting tokens is an
  // admin's job (a real deployment mints them in its own backend, see docs/SECURITY.md), and a
  // token never mints more than it holds: its own room(s), roles at or below its own, an
  // expiry no later than its own (an admin for "*" excepted).
  r.get('/openapi.json', (_req, res) => {
    res.json(openApiDocument());
  });
  r.get('/config', (_req, res) => {
    res.json({ auth: deps.tokens ? 'token' : 'open', turn: Boolean(deps.turn) });
  });
  r.post('/tokens', auth, allow(), express.json({ limit: '2kb' }), (req, res) => {
    const tokens = deps.tokens;
    if (!tokens) {
      res.json({ open: true, token: null });
      return;
    }
    const body = req.body as unknown;
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw badRequest('the body must be a JSON object');
    const b = body as Record<string, unknown>;
    const unknown = Object.keys(b).find((k) => !TOKEN_FIELDS.includes(k));
    if (unknown) throw badRequest(`unknown field "${unknown}" (known: ${TOKEN_FIELDS.join(', ')})`);
    const role = b.role as Role;
    if (!ROLES.includes(role)) throw badRequest(`"role" must be one of ${ROLES.join(', ')}`);
    if (typeof b.room !== 'string') throw badRequest('"room" must be a room name or "*"');
    const room = b.room;
    if (room !== '*') Registry.validateName(room);
    if (b.name !== undefined && typeof b.name !== 'string') throw badRequest('"name" must be a string');
    const name = typeof b.name === 'string' ? b.name.slice(0, 64) : undefined;
    const ttl = parseTtl(b.ttlSec, DEFAULT_TTL_SEC, tokens.maxTtlSec);
    if (typeof ttl === 'string') throw badRequest(ttl);
    const minter = req.caller!.claims;
    const now = Math.floor(Date.now() / 1000);
    // Without ttlSec, the default lifetime is cut to the minter's own.
    const exp = b.ttlSec === undefined && !isGlobalAdmin(minter) ? Math.min(now + ttl, minter.exp) : now + ttl;
    const refusal = mintRefusal(minter, { room, role, exp });
    if (refusal) throw forbidden(refusal);
    const token = tokens.mint({ room, role, name, iat: now, exp });
    res.json({ open: false, token, expiresAt: new Date(exp * 1000).toISOString() });
  });
  return r;
}
