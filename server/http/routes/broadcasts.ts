// Webinars and broadcasts: host grants, HLS (started on demand), RTMP pushes, the HLS player page.

import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import express, { Router } from 'express';
import { badRequest, hlsStarting, hlsUnavailable, McuError, notFound, tooManyStreams } from '../../../pipeline/errors.ts';
import { allow, queryToken, type authenticate } from '../auth.ts';
import { param } from '../middleware.ts';
import { StreamTarget } from '../../broadcast/StreamTarget.ts';
import type { AppDeps } from '../deps.ts';

const HLS_JS = createRequire(import.meta.url).resolve('hls.js/dist/hls.min.js');
const HLS_TYPES: Record<string, string> = { '.m3u8': 'application/vnd.apple.mpegurl', '.ts': 'video/mp2t' };
const MAX_STREAMS_PER_ROOM = 4;

export function broadcastRoutes(deps: AppDeps, auth: ReturnType<typeof authenticate>): Router {
  const { rooms } = deps;
  const r = Router();

  r.post('/rooms/:room/hosts', auth, allow('host'), express.json({ limit: '2kb' }), (req, res) => {
    const room = rooms.require(param(req, 'room'));
    const b = (req.body ?? {}) as Record<string, unknown>;
    const subscriptionId = typeof b.subscriptionId === 'string' ? b.subscriptionId : null;
    if (b.subscriptionId !== undefined && !subscriptionId) throw badRequest('"subscriptionId" must be a WHEP session id');
    if (subscriptionId && !room.subscriptions.has(subscriptionId)) throw notFound(`no WHEP session "${subscriptionId}" in room "${room.name}"`);
    const name = typeof b.name === 'string' ? b.name.trim().slice(0, 64) || null : null;
    // The grant and its host token live exactly as long as the token that gave them.
    const tokens = deps.tokens;
    const caller = req.caller!;
    const now = Math.floor(Date.now() / 1000);
    const exp = tokens && !caller.open ? Math.min(caller.claims.exp, now + tokens.maxTtlSec) : null;
    const grant = room.grantHost({ subscriptionId, name }, exp === null ? null : exp * 1000);
    const token = tokens && exp !== null ? tokens.mint({ room: room.name, role: 'host', name: name ?? undefined, iat: now, exp, jti: grant }) : null;
    const q = new URLSearchParams({ grant, ...(name ? { name } : {}) });
    res.status(201).json({ grant, whip: `/rooms/${room.name}/whip?${q}`, token, expiresAt: exp === null ? null : new Date(exp * 1000).toISOString() });
  });

  r.get('/rooms/:room/hls/:file', queryToken, auth, allow('subscriber', 'publisher', 'host'), async (req, res) => {
    const room = rooms.require(param(req, 'room'));
    const name = param(req, 'file');
    const ext = path.extname(name);
    if (!HLS_TYPES[ext]) throw notFound(`no HLS file "${name}"`);
    let hls = room.broadcasts.hls;
    if (name === 'index.m3u8') {
      // The playlist starts HLS on demand and answers once a first segment exists.
      if (!hls?.running) {
        hls = await room.broadcasts.hlsPackager({ idleMs: deps.hlsIdleMs ?? 30_000 }).catch((err: Error) => {
          throw err instanceof McuError ? err : hlsUnavailable(`HLS could not start: ${err.message}`);
        });
      }
      if (!(await hls.ready())) throw hlsStarting('HLS is starting: no segment yet; retry shortly');
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

  r.post('/rooms/:room/streams', auth, allow('host'), express.json({ limit: '4kb' }), async (req, res) => {
    const room = rooms.require(param(req, 'room'));
    const b = (req.body ?? {}) as Record<string, unknown>;
    const target = await StreamTarget.check(b.url, deps.streamTargetsAllow ?? []);
    if (room.broadcasts.streams.size >= MAX_STREAMS_PER_ROOM) throw tooManyStreams(`room "${room.name}" already pushes to ${MAX_STREAMS_PER_ROOM} targets`);
    const push = room.broadcasts.startStream(target);
    res.status(201).set('Location', `/rooms/${room.name}/streams/${push.id}`).json(push.describe());
  });
  r.get('/rooms/:room/streams', auth, allow('host'), (req, res) => {
    const room = rooms.require(param(req, 'room'));
    res.json({ streams: [...room.broadcasts.streams.values()].map((p) => p.describe()) });
  });
  r.delete('/rooms/:room/streams/:id', auth, allow('host'), async (req, res) => {
    const room = rooms.require(param(req, 'room'));
    if (!(await room.broadcasts.stopStream(param(req, 'id')))) throw notFound(`no stream "${param(req, 'id')}" in room "${room.name}"`);
    res.status(204).end();
  });

  // The HLS viewer page (hls.js), for audiences that do not need sub-second latency.
  r.get('/rooms/:room/watch', (_req, res) => {
    res.sendFile('watch.html', { root: path.resolve(deps.staticDir ?? '.') });
  });
  // Viewer page libraries, served from node_modules (no CDN).
  r.get('/vendor/hls.min.js', (_req, res) => {
    res.set('Cache-Control', 'public, max-age=86400').sendFile(HLS_JS);
  });
  return r;
}
