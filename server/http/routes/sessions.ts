// WHIP (publish) and WHEP (subscribe) sessions: POST an offer, DELETE the session.
// Everything that can be checked is checked before a room or a peer connection exists.

import { randomUUID } from 'node:crypto';
import { Router, type Request, type Response } from 'express';
import express from 'express';
import { badRequest, forbidden, notFound, preconditionFailed, preconditionRequired, sdpProblem, unsupportedMediaType } from '../../../pipeline/errors.ts';
import { RoomRegistry as Registry } from '../../rooms/RoomRegistry.ts';
import { allow, ownsSession, type authenticate } from '../auth.ts';
import { param, requireSdp, sdpBody, sessionRateLimit } from '../middleware.ts';
import { checkPublishOffer, checkSubscribeOffer, SdpError } from '../../../pipeline/sdp.ts';
import { iceUfragOf, isIceRestart, parseSdpFrag, SDPFRAG_TYPE, SdpFragError } from '../../../pipeline/sdpFrag.ts';
import { applyIceFragment } from '../../rtc/iceTrickle.ts';
import type { IceNetwork } from '../../rtc/network.ts';
import type { RTCPeerConnection } from 'werift';
import { iceServerLinks, turnCredentials } from '../../../pipeline/auth/tokens.ts';
import { LEVELS, type Level } from '../../../pipeline/ladder.ts';
import type { AppDeps } from '../deps.ts';
import { parseTracks, receivingVideoSections, tracksFor } from '../../../pipeline/forward/slots.ts';

function displayName(raw: unknown): string {
  const name = typeof raw === 'string' ? raw.trim().slice(0, 64) : '';
  return name || 'Guest';
}

/** Each session's current ETag, by its connection object (a new one after each ICE restart). */
const etags = new WeakMap<object, string>();
const etagOf = (session: object, id: string): string => etags.get(session) ?? `"${id}"`;
export const fragBody = express.text({ type: () => true, limit: 64 * 1024 });

/**
 * PATCH of a WHIP/WHEP session (RFC 9725 4.3): trickled candidates (204) or an ICE restart
 * (200 with the server's new credentials and candidates, and a new ETag). If-Match, when sent,
 * must name the session's current ETag ("*" is accepted for a restart, whose client may not
 * know it); only a restart requires it.
 */
export async function patchSession(req: Request, res: Response, session: object, id: string, pc: RTCPeerConnection, net?: IceNetwork): Promise<void> {
  if (!req.is(SDPFRAG_TYPE)) throw unsupportedMediaType(`PATCH takes ${SDPFRAG_TYPE} (trickle ICE / ICE restart)`);
  const ifMatch = req.get('if-match');
  let frag;
  try {
    frag = parseSdpFrag(String(req.body ?? ''));
  } catch (err) {
    throw err instanceof SdpFragError ? badRequest(err.message) : err;
  }
  const current = etagOf(session, id);
  const restart = frag.ufrag !== null && frag.pwd !== null;
  if (!ifMatch) {
    // Candidates for the ICE session in progress are taken without If-Match: npm whip-whep's
    // WHEPClient (1.2.0) never reads the ETag of its POST answer. A restart still needs it.
    const remote = pc.remoteDescription?.sdp;
    if (!remote || isIceRestart(frag, iceUfragOf(remote))) throw preconditionRequired('If-Match with the session\'s ETag is required for an ICE restart');
  } else if (ifMatch !== current && !(restart && ifMatch.trim() === '*')) {
    throw preconditionFailed(`If-Match ${ifMatch} does not match the session's ETag ${current}`);
  }
  const { restarted, answer } = await applyIceFragment(pc, frag, net).catch((err: Error) => {
    throw badRequest(`the fragment could not be applied: ${err.message}`);
  });
  res.set('Accept-Patch', SDPFRAG_TYPE);
  if (!restarted) {
    res.set('ETag', current).status(204).end();
    return;
  }
  const next = `"${id}-${Date.now().toString(36)}"`;
  etags.set(session, next);
  res.status(200).set('Content-Type', SDPFRAG_TYPE).set('ETag', next).send(answer);
}

/** RFC 9725 ice-server Link headers, with fresh TURN REST credentials when configured (an edge's answers too). */
export function appendIceLinks(res: Response, turn: AppDeps['turn']): void {
  if (!turn) return;
  const creds = turnCredentials(turn.secret, randomUUID(), Math.floor(Date.now() / 1000), turn.ttlSec);
  res.append('Link', iceServerLinks(turn.urls, creds));
}

function checkOffer<T>(check: () => T): T {
  try {
    return check();
  } catch (err) {
    throw err instanceof SdpError ? sdpProblem(err) : err;
  }
}

export function sessionRoutes(deps: AppDeps, auth: ReturnType<typeof authenticate>): Router {
  const { rooms, monitor } = deps;
  const r = Router();
  const rateLimited = sessionRateLimit(deps.sessionRate);

  const iceLinks = (res: Response) => appendIceLinks(res, deps.turn);
  const options = (_req: Request, res: Response) => {
    iceLinks(res);
    res.set('Accept-Post', 'application/sdp').set('Accept-Patch', SDPFRAG_TYPE).set('Allow', 'OPTIONS, POST').status(204).end();
  };

  // ---- WHIP: publish --------------------------------------------------------------
  r.options('/rooms/:room/whip', auth, allow('publisher', 'host'), options);
  r.post('/rooms/:room/whip', auth, allow('publisher', 'host'), rateLimited, requireSdp, sdpBody, async (req, res) => {
    const roomName = Registry.validateName(param(req, 'room'));
    const existing = rooms.get(roomName);
    if (existing?.settings.mode === 'webinar') {
      // A webinar mixes only its hosts: a host token, or a grant from POST /rooms/{room}/hosts.
      const grant = typeof req.query.grant === 'string' ? req.query.grant : '';
      const hostToken = req.caller && !req.caller.open && (req.caller.claims.role === 'host' || req.caller.claims.role === 'admin');
      if (!hostToken && !(grant && existing.hasHostGrant(grant))) {
        throw forbidden(
          `room "${existing.name}" is a webinar: only hosts publish. Watch it over WHEP, or be promoted (POST /rooms/${existing.name}/hosts) and publish with the grant you get`,
        );
      }
    }
    // Before any WebRTC work, and before the offer is parsed (its parsing was 70 % of a refusal's
    // handler time): a full room, or a server without headroom, costs no negotiation.
    if (existing) {
      existing.checkPublisherSlot();
      rooms.admitPublisher(roomName);
    }
    const offer = String(req.body ?? '');
    checkOffer(() => checkPublishOffer(offer));
    const created = !rooms.get(roomName);
    const room = await rooms.getOrCreate(roomName, {}, { forMember: true });
    const name = req.caller?.claims.name ?? displayName(req.query.name);
    const { participant, answer } = await room.addPublisher(offer, name, req.caller?.tokenHash ?? null).catch(async (err) => {
      if (created) await rooms.releaseIfUnused(room, 'WHIP offer failed');
      throw err;
    });
    monitor.sessionCreated(participant.id, 'whip');
    iceLinks(res);
    res
      .status(201)
      .set('Content-Type', 'application/sdp')
      .set('Location', `/rooms/${room.name}/whip/${participant.id}`)
      .set('ETag', `"${participant.id}"`)
      .set('Accept-Patch', SDPFRAG_TYPE)
      .send(answer);
  });
  r.delete('/rooms/:room/whip/:id', auth, allow('publisher', 'host'), (req, res) => {
    const room = rooms.require(param(req, 'room'));
    const p = room.participants.get(param(req, 'id'));
    if (!p) throw notFound(`no WHIP session "${param(req, 'id')}" in room "${room.name}"`);
    if (!ownsSession(req.caller, p.ownerTokenHash)) throw forbidden('only the token that created this session (or an admin) may end it');
    room.removePublisher(p.id);
    res.status(200).end();
  });
  r.patch('/rooms/:room/whip/:id', auth, allow('publisher', 'host'), fragBody, async (req, res) => {
    const room = rooms.require(param(req, 'room'));
    const p = room.participants.get(param(req, 'id'));
    if (!p) throw notFound(`no WHIP session "${param(req, 'id')}" in room "${room.name}"`);
    if (!ownsSession(req.caller, p.ownerTokenHash)) throw forbidden('only the token that created this session (or an admin) may change it');
    await patchSession(req, res, p.ingest, p.id, p.ingest.pc, deps.iceNetwork);
  });

  // ---- WHEP: subscribe ------------------------------------------------------------
  r.options('/rooms/:room/whep', auth, allow('subscriber', 'publisher', 'host'), options);
  r.post('/rooms/:room/whep', auth, allow('subscriber', 'publisher', 'host'), rateLimited, requireSdp, sdpBody, async (req, res) => {
    const roomName = Registry.validateName(param(req, 'room'));
    const participant = typeof req.query.participant === 'string' && req.query.participant ? req.query.participant : null;
    const existing = rooms.get(roomName);
    if (participant !== null && !existing?.participants.has(participant)) {
      throw notFound(`participant "${participant}" is not in room "${roomName}"`);
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
    // ?keyframes=periodic: a keyframe every 2 s without asking (a recorder or a segmenter; a
    // subscriber that sends PLIs gets one only when it asks: keyframePolicy.ts).
    const rawKeyframes = req.query.keyframes;
    if (rawKeyframes !== undefined && rawKeyframes !== 'periodic') throw badRequest('"keyframes" must be "periodic" (or absent: keyframes when asked for)');
    // A room at its subscriber limit refuses before the offer is parsed (as WHIP does).
    existing?.checkSubscriberSlot();
    const offer = String(req.body ?? '');
    checkOffer(() => checkSubscribeOffer(offer, ['VP8', 'H264']));
    // ?tracks=N (or N receiving video m-lines): the N most recent speakers' own video, forwarded.
    const rawTracks = parseTracks(req.query.tracks);
    if (typeof rawTracks === 'string') throw badRequest(rawTracks);
    const tracks = tracksFor(rawTracks, receivingVideoSections(offer));
    if (typeof tracks === 'string') throw badRequest(tracks);
    const created = !rooms.get(roomName);
    const room = await rooms.getOrCreate(roomName, {}, { forMember: true });
    const { subscription, answer } = await room
      .addSubscriber(offer, participant, req.caller?.tokenHash ?? null, { level: rawLevel as Level | null, tracks, periodicKeyframes: rawKeyframes === 'periodic' })
      .catch(async (err) => {
        if (created) await rooms.releaseIfUnused(room, 'WHEP offer failed');
        throw err;
      });
    monitor.sessionCreated(subscription.id, 'whep');
    iceLinks(res);
    res
      .status(201)
      .set('Content-Type', 'application/sdp')
      .set('Location', `/rooms/${room.name}/whep/${subscription.id}`)
      .set('ETag', `"${subscription.id}"`)
      .set('Accept-Patch', SDPFRAG_TYPE)
      .send(answer);
  });
  r.delete('/rooms/:room/whep/:id', auth, allow('subscriber', 'publisher', 'host'), async (req, res) => {
    const room = rooms.require(param(req, 'room'));
    const s = room.subscriptions.get(param(req, 'id'));
    if (!s) throw notFound(`no WHEP session "${param(req, 'id')}" in room "${room.name}"`);
    if (!ownsSession(req.caller, s.ownerTokenHash)) throw forbidden('only the token that created this session (or an admin) may end it');
    await room.removeSubscriber(s.id);
    res.status(200).end();
  });
  r.patch('/rooms/:room/whep/:id', auth, allow('subscriber', 'publisher', 'host'), fragBody, async (req, res) => {
    const room = rooms.require(param(req, 'room'));
    const s = room.subscriptions.get(param(req, 'id'));
    if (!s) throw notFound(`no WHEP session "${param(req, 'id')}" in room "${room.name}"`);
    if (!ownsSession(req.caller, s.ownerTokenHash)) throw forbidden('only the token that created this session (or an admin) may change it');
    await patchSession(req, res, s.egress, s.id, s.egress.pc, deps.iceNetwork);
  });
  return r;
}
