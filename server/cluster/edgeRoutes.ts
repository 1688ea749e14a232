// The HTTP side of webinar edges (server/cluster/EdgeRelays.ts): a WHEP viewer of a webinar that
// another node owns is served by the least loaded node of its region other than the owner —
// here, or proxied to that node with X-MCU-Edge — instead of by the owner. Anything an edge
// cannot serve (a mix-minus, individual tracks, a refused offer, a failed pull) goes to the
// owner, whose answer is the one a client would have had without edges. DELETE and PATCH of a
// viewer served here are answered here (its Location points here).

import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { checkSubscribeOffer } from '../../pipeline/sdp.ts';
import { LEVELS, type Level } from '../../pipeline/ladder.ts';
import { parseTracks, receivingVideoSections } from '../../pipeline/forward/slots.ts';
import { chooseEdge, servesAtEdge } from '../../pipeline/cluster/edges.ts';
import type { NodeRecord } from '../../pipeline/cluster/placement.ts';
import { SDPFRAG_TYPE } from '../../pipeline/sdpFrag.ts';
import { forbidden, notFound, unauthorized } from '../../pipeline/errors.ts';
import { covers, ownsSession, type authenticate } from '../http/auth.ts';
import { sessionRateLimit } from '../http/middleware.ts';
import { appendIceLinks, fragBody, patchSession } from '../http/routes/sessions.ts';
import { log as rootLog } from '../../workers/log.ts';
import type { AppDeps } from '../http/deps.ts';
import type { ClusterNode } from './ClusterNode.ts';

const log = rootLog.child({ component: 'edge' });
/** Set by a node that proxies a viewer to the edge it chose: serve it here as an edge. */
export const EDGE_HEADER = 'x-mcu-edge';

type Proxy = (req: Request, res: Response, to: NodeRecord, cluster: ClusterNode, o?: { headers?: Record<string, string>; body?: Buffer }) => Promise<void>;
type ReadBody = (req: Request) => Promise<Buffer | undefined>;

const run = (mw: RequestHandler, req: Request, res: Response) =>
  new Promise<void>((resolve, reject) => mw(req, res, ((err?: unknown) => (err ? reject(err) : resolve())) as NextFunction));

export function edgeHandlers(deps: AppDeps, auth: ReturnType<typeof authenticate>, io: { proxy: Proxy; readBody: ReadBody }) {
  const cluster = deps.cluster!;
  const edges = cluster.edges!;
  const rateLimited = sessionRateLimit(deps.sessionRate);

  const checkCaller = (req: Request, room: string) => {
    const c = req.caller;
    if (!c) throw unauthorized('not authenticated');
    if (!['admin', 'subscriber', 'publisher', 'host'].includes(c.claims.role)) throw forbidden(`a ${c.claims.role} token may not ${req.method} ${req.path}`);
    if (!covers(c, room)) throw forbidden(`this token is for room "${c.claims.room}", not "${room}"`);
  };

  /** DELETE / PATCH of a viewer served here; false when `id` is no viewer of this node. */
  async function session(req: Request, res: Response, room: string, id: string): Promise<boolean> {
    const v = edges.get(room, id);
    if (!v || (req.method !== 'DELETE' && req.method !== 'PATCH')) return false;
    await run(auth, req, res);
    checkCaller(req, room);
    if (!ownsSession(req.caller, v.ownerTokenHash)) throw forbidden('only the token that created this session (or an admin) may end or change it');
    if (req.method === 'DELETE') {
      if (!(await edges.remove(id))) throw notFound(`no WHEP session "${id}" in room "${room}"`);
      res.status(200).end();
    } else {
      await run(fragBody, req, res);
      await patchSession(req, res, v.egress, v.id, v.egress.pc, deps.iceNetwork);
    }
    return true;
  }

  /**
   * POST /rooms/{room}/whep for a room another node owns: true when answered (served here, by
   * the edge chosen, or by the owner once the body is read); false: the usual forwarding.
   */
  async function viewer(req: Request, res: Response, room: string, edgeAsked: boolean): Promise<boolean> {
    const participant = typeof req.query.participant === 'string' && req.query.participant ? req.query.participant : null;
    const tracks = parseTracks(req.query.tracks);
    if (typeof tracks === 'string' || participant !== null || tracks !== null) return false;
    const owner = await cluster.ownerOf(room);
    if (!owner || owner.id === cluster.id) return false;
    if (!servesAtEdge({ participant, tracks, room: owner.roomList.find((r) => r.name === room) })) return false;
    await run(auth, req, res);
    // From here on the body is read: every path answers.
    const body = (await io.readBody(req)) ?? Buffer.alloc(0);
    const offer = body.toString();
    const viaOwner = async (why: string) => {
      log.debug({ room, why }, 'viewer served by the owner');
      await io.proxy(req, res, owner, cluster, { body });
      return true;
    };
    if (receivingVideoSections(offer) > 1) return viaOwner('individual tracks');
    if (!edgeAsked) {
      const region = typeof req.query.region === 'string' ? req.query.region : (req.get('x-mcu-region') ?? cluster.opts.region);
      const self = cluster.record();
      const view = [...(await cluster.nodes()).filter((n) => n.id !== self.id), self];
      const chosen = chooseEdge(view, { now: Date.now(), ownerId: owner.id, region });
      if (!chosen) return viaOwner('no edge in the cluster');
      if (chosen.id !== self.id) {
        try {
          await io.proxy(req, res, chosen, cluster, { body, headers: { [EDGE_HEADER]: '1' } });
          return true;
        } catch (err) {
          // The edge chosen does not answer (it died within its last heartbeat): serve here.
          if (res.headersSent) throw err;
          log.warn({ room, edge: chosen.id, error: (err as Error).message }, 'the edge chosen does not answer; serving the viewer here');
        }
      }
    }
    try {
      checkCaller(req, room);
    } catch {
      return viaOwner('the owner answers for the token');
    }
    // A publisher token watches only its own mix-minus: the owner says so.
    if (req.caller?.claims.role === 'publisher' && !req.caller.open) return viaOwner('publisher token');
    const rawLevel = typeof req.query.level === 'string' ? req.query.level : null;
    if (rawLevel !== null && !LEVELS.includes(rawLevel as Level)) return viaOwner('bad level');
    if (!req.is('application/sdp')) return viaOwner('not application/sdp');
    let wants: ReturnType<typeof checkSubscribeOffer>;
    try {
      wants = checkSubscribeOffer(offer, ['VP8', 'H264']);
    } catch {
      return viaOwner('offer refused');
    }
    await run(rateLimited, req, res);
    let served;
    try {
      served = await edges.subscribe(room, owner.url, offer, wants, { level: rawLevel as Level | null, ownerTokenHash: req.caller?.tokenHash ?? null });
    } catch (err) {
      log.warn({ room, owner: owner.id, error: (err as Error).message }, 'edge could not serve the viewer; the owner does');
      return viaOwner('edge failed');
    }
    const { viewer: v, answer } = served;
    // ICE servers (TURN) as the owner announces them: the viewer's media is with this node.
    appendIceLinks(res, deps.turn);
    res
      .status(201)
      .set('Content-Type', 'application/sdp')
      .set('Location', `/rooms/${room}/whep/${v.id}`)
      .set('ETag', `"${v.id}"`)
      .set('Accept-Patch', SDPFRAG_TYPE)
      .set('X-MCU-Node', cluster.id)
      .set('X-MCU-Owner', owner.id)
      .send(answer);
    return true;
  }

  return { session, viewer };
}
