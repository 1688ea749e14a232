// Recordings: BullMQ jobs run by `npm run worker`; this API queues, lists, stops, serves and
// deletes them.

import express, { Router } from 'express';
import { badRequest, forbidden, notFound, recordingsUnavailable } from '../../../pipeline/errors.ts';
import { RoomRegistry as Registry } from '../../rooms/RoomRegistry.ts';
import { Recordings } from '../../recordings/Recordings.ts';
import { allow, covers, type authenticate } from '../auth.ts';
import { param } from '../middleware.ts';
import { rungFor } from '../../../pipeline/ladder.ts';
import { recordingVideoCodec } from '../../../pipeline/media/remux.ts';
import type { AppDeps } from '../deps.ts';

export function recordingRoutes(deps: AppDeps, auth: ReturnType<typeof authenticate>): Router {
  const { rooms } = deps;
  const r = Router();
  const recordings = (): Recordings => {
    if (!deps.recordings) throw recordingsUnavailable('recordings are not configured on this server');
    return deps.recordings;
  };
  /** A recording of a room the token does not cover answers like one that does not exist. */
  const mine = async (req: express.Request): Promise<string> => {
    const id = param(req, 'id');
    const rec = await recordings().get(id);
    if (!covers(req.caller, rec.room)) throw notFound(`no recording "${id}"`);
    return id;
  };
  r.post('/rooms/:room/recordings', auth, allow(), express.json({ limit: '2kb' }), async (req, res) => {
    Registry.validateName(param(req, 'room'));
    const recs = recordings();
    const body = Recordings.parseRequest(req.body ?? {});
    if (typeof body === 'string') throw badRequest(body);
    const room = rooms.require(param(req, 'room'));
    const rec = await recs.create(room.name, body);
    // The recorder subscribes to the top rung in the format's codec: encoded from now on (an
    // MP4's H.264 rung otherwise starts only once the worker has subscribed).
    room.expectSubscriber(rungFor('720p', recordingVideoCodec(body.format) === 'H264' ? 'h264' : 'vp8')!.id);
    res.status(202).set('Location', rec.links.self).json(rec);
  });
  r.get('/recordings', auth, allow(), async (req, res) => {
    const room = typeof req.query.room === 'string' ? req.query.room : undefined;
    if (room !== undefined && !covers(req.caller, room)) throw forbidden(`this token is for room "${req.caller!.claims.room}", not "${room}"`);
    const list = await recordings().list(room);
    res.json({ recordings: list.filter((rec) => covers(req.caller, rec.room)) });
  });
  r.get('/recordings/:id', auth, allow(), async (req, res) => {
    const rec = await recordings().get(param(req, 'id'));
    if (!covers(req.caller, rec.room)) throw notFound(`no recording "${param(req, 'id')}"`);
    res.json(rec);
  });
  r.post('/recordings/:id/stop', auth, allow(), async (req, res) => {
    const { status, body } = await recordings().stop(await mine(req));
    res.status(status).json(body);
  });
  r.get('/recordings/:id/file', auth, allow(), async (req, res, next) => {
    const f = await recordings().file(await mine(req));
    if (f.partial) res.set('X-Recording-Partial', 'true');
    // sendFile answers Range requests (206) and conditional GETs.
    res.attachment(f.downloadName);
    res.sendFile(f.path, { acceptRanges: true, cacheControl: false, dotfiles: 'deny' }, (err) => {
      if (err && !res.headersSent) next(err);
    });
  });
  r.delete('/recordings/:id', auth, allow(), async (req, res) => {
    await recordings().remove(await mine(req));
    res.status(204).end();
  });
  return r;
}
