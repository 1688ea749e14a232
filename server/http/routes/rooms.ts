// Rooms as resources: list, describe, create with settings, change settings, follow events,
// and clients' own telemetry about their sessions.

import path from 'node:path';
import express, { Router } from 'express';
import { badRequest, forbidden, notFound } from '../../../pipeline/errors.ts';
import { RoomRegistry as Registry } from '../../rooms/RoomRegistry.ts';
import { DEFAULT_ROOM_SETTINGS, parseSettingsPatch, type RoomEvent } from '../../rooms/Room.ts';
import { allow, covers, ownsSession, queryToken, type authenticate } from '../auth.ts';
import { endAtExpiry } from './ops.ts';
import { param } from '../middleware.ts';
import { openSse } from '../sse.ts';
import { parseTelemetry } from '../../../pipeline/quality/figures.ts';
import { parseParticipantPatch } from '../../../pipeline/audio/voice.ts';
import type { AppDeps } from '../deps.ts';

export function roomRoutes(deps: AppDeps, auth: ReturnType<typeof authenticate>): Router {
  const { rooms, monitor } = deps;
  const r = Router();

  r.get('/rooms', auth, allow(), (req, res) => {
    res.json({
      rooms: rooms.list().filter((room) => covers(req.caller, room.name)).map((room) => ({ name: room.name, participants: room.participants.size, subscriptions: room.subscriptions.size })),
    });
  });
  // Browsers asking for /rooms/{room} get the room page; API clients get JSON.
  r.get('/rooms/:room', (req, res, next) => {
    if (deps.staticDir && req.accepts(['json', 'html']) === 'html') {
      res.sendFile('room.html', { root: path.resolve(deps.staticDir) });
      return;
    }
    next();
  });
  r.get('/rooms/:room', auth, allow(), (req, res) => {
    res.json(rooms.require(param(req, 'room')).describe());
  });
  // PUT creates a room with settings (or replaces the settings of a live one).
  r.put('/rooms/:room', auth, allow(), express.json({ limit: '8kb' }), async (req, res) => {
    const name = Registry.validateName(param(req, 'room'));
    const patch = parseSettingsPatch(req.body ?? {});
    if (typeof patch === 'string') throw badRequest(patch);
    const existed = Boolean(rooms.get(name));
    const room = await rooms.getOrCreate(name, patch);
    if (existed) room.updateSettings({ ...DEFAULT_ROOM_SETTINGS, ...patch, audio: { ...DEFAULT_ROOM_SETTINGS.audio, ...patch.audio } });
    res.status(existed ? 200 : 201).json(room.describe());
  });
  r.patch('/rooms/:room', auth, allow(), express.json({ limit: '8kb' }), (req, res) => {
    const room = rooms.require(param(req, 'room'));
    const patch = parseSettingsPatch(req.body);
    if (typeof patch === 'string') throw badRequest(patch);
    room.updateSettings(patch);
    res.json(room.describe());
  });
  // One participant's settings: { "audio": { "processing": false } } lets music or a
  // presentation's sound pass the voice chain untouched.
  r.patch('/rooms/:room/participants/:id', auth, allow(), express.json({ limit: '8kb' }), (req, res) => {
    const room = rooms.require(param(req, 'room'));
    const patch = parseParticipantPatch(req.body);
    if (typeof patch === 'string') throw badRequest(patch);
    const id = param(req, 'id');
    if (!room.participants.has(id)) throw notFound(`participant "${id}" is not in room "${room.name}"`);
    if (patch.processing !== undefined) room.setParticipantProcessing(id, patch.processing);
    res.json(room.describe().participants.find((p) => p.id === id));
  });
  r.get('/rooms/:room/events', queryToken, auth, allow('publisher', 'host', 'subscriber'), (req, res) => {
    const room = rooms.require(param(req, 'room'));
    const sse = openSse(req, res);
    // The current state first, so a late listener knows where things stand.
    const now: RoomEvent = { type: 'layout-changed', at: new Date().toISOString(), layout: room.layout.kind, activeSpeaker: room.activeSpeaker, tiles: room.layout.tiles };
    sse.send(now.type, now);
    // And each tracks subscription's slots (a page that subscribed just before listening learns its own).
    for (const s of room.subscriptions.values()) {
      const slots = room.tracks.describe(s.id);
      if (slots) sse.send('tracks-changed', { type: 'tracks-changed', at: now.at, subscriptionId: s.id, changed: [], slots });
    }
    const send = (e: RoomEvent) => sse.send(e.type, e);
    room.on('event', send);
    room.once('closed', sse.end);
    sse.onEnd(() => {
      room.off('event', send);
      room.off('closed', sse.end);
    });
    endAtExpiry(sse, req.caller);
  });

  r.post('/rooms/:room/telemetry', auth, allow('publisher', 'host', 'subscriber'), express.json({ limit: '8kb' }), (req, res) => {
    const room = rooms.require(param(req, 'room'));
    const t = parseTelemetry(req.body);
    if (typeof t === 'string') throw badRequest(t);
    const session = t.role === 'publisher' ? room.participants.get(t.session) : room.subscriptions.get(t.session);
    if (!session) throw notFound(`no ${t.role === 'publisher' ? 'WHIP' : 'WHEP'} session "${t.session}" in room "${room.name}"`);
    if (!ownsSession(req.caller, session.ownerTokenHash)) throw forbidden('telemetry is accepted only for your own session');
    monitor.recordTelemetry(t);
    res.status(204).end();
  });
  return r;
}
