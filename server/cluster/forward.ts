// Any node answers for any room: a request for a room owned by another node is proxied to it
// (the SDP exchange included, so a Bearer token survives; the Location comes back absolute on
// the owner), or, with CLUSTER_REDIRECT=1, answered 307 to the owner. A request that creates a
// room (WHIP/WHEP POST, PUT /rooms/{room}) places it first. GET /rooms lists the whole cluster.
// Mounted before the resource routes by createApp when deps.cluster is set.

import { Readable } from 'node:stream';
import { Router, type NextFunction, type Request, type Response } from 'express';
import { absoluteLocation, clusterRooms, isStale, ownerAlive, route, type NodeRecord } from '../../pipeline/cluster/placement.ts';
import { ROOM_NAME } from '../rooms/Room.ts';
import { allow, allowGlobal, covers, sameSecret, type authenticate } from '../http/auth.ts';
import { unavailable } from '../../pipeline/errors.ts';
import { log as rootLog } from '../../workers/log.ts';
import type { AppDeps } from '../http/deps.ts';
import type { ClusterNode } from './ClusterNode.ts';
import { EDGE_HEADER, edgeHandlers } from './edgeRoutes.ts';

const log = rootLog.child({ component: 'cluster-forward' });
/** Set on a proxied request: its receiver serves it (no second hop). */
export const FORWARDED_HEADER = 'x-mcu-forwarded-by';
/** The cluster's secret (mcu:cluster:key): without it the forwarded marker is ignored. */
export const CLUSTER_KEY_HEADER = 'x-mcu-cluster-key';
const ROOM_PATH = /^\/rooms\/([^/]+)(\/.*)?$/;
const MAX_BODY = 1024 * 1024;
const HEADERS_TIMEOUT_MS = 30_000;
/** How often a forwarded request still waiting for its answer checks that its owner is alive. */
const STALE_CHECK_AFTER_MS = 1000;
const REQUEST_HEADERS = ['authorization', 'content-type', 'if-match', 'if-none-match', 'accept', 'user-agent', 'last-event-id'];
const SKIP_RESPONSE_HEADERS = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'content-encoding', 'date', 'vary']);
const localHeader = (h: string) => h.startsWith('access-control-') || ['x-content-type-options', 'referrer-policy', 'x-frame-options', 'content-security-policy', 'cross-origin-resource-policy'].includes(h);

/** Creates the room when it does not exist, so it is placed first. */
function creates(req: Request, rest: string | undefined): boolean {
  return (req.method === 'POST' && (rest === '/whip' || rest === '/whep')) || (req.method === 'PUT' && !rest);
}

/** Served by whichever node is asked: pages, and the preflight (no room state in them). */
function servedAnywhere(req: Request, rest: string | undefined): boolean {
  if (req.method === 'OPTIONS') return true;
  if (req.method === 'GET' && rest === '/watch') return true;
  return req.method === 'GET' && !rest && req.accepts(['json', 'html']) === 'html';
}

export function clusterRoutes(deps: AppDeps, auth: ReturnType<typeof authenticate>): Router {
  const cluster = deps.cluster!;
  const r = Router();
  const edge = cluster.edges ? edgeHandlers(deps, auth, { proxy, readBody }) : null;

  r.get('/rooms', auth, allow(), async (req, res) => {
    const rooms = clusterRooms(await cluster.nodes(), Date.now());
    // This node's own rooms as they are now (its record may be up to a heartbeat old).
    const own = new Map(deps.rooms.list().map((room) => [room.name, { name: room.name, participants: room.participants.size, subscriptions: room.subscriptions.size, node: cluster.id }]));
    const merged = [...rooms.filter((x) => x.node !== cluster.id && !own.has(x.name)), ...own.values()].sort((a, b) => a.name.localeCompare(b.name));
    res.json({ rooms: merged.filter((x) => covers(req.caller, x.name)) });
  });
  r.get('/cluster/nodes', auth, allowGlobal('/cluster/nodes'), async (_req, res) => {
    const now = Date.now();
    res.json({ self: cluster.id, nodes: (await cluster.nodes()).map(({ roomList: _l, ...n }) => ({ ...n, stale: isStale(n, now) })) });
  });
  r.get('/cluster/edges', auth, allowGlobal('/cluster/edges'), async (_req, res) => {
    const pulls = (await cluster.edges?.describe()) ?? [];
    res.json({ self: cluster.id, viewers: cluster.edges?.viewers.size ?? 0, pulls });
  });
  r.post('/admin/drain', auth, allowGlobal('/admin/drain'), async (_req, res) => {
    await cluster.drain();
    res.status(202).json({ node: cluster.id, state: 'draining', rooms: deps.rooms.size });
  });

  r.use(async (req: Request, res: Response, next: NextFunction) => {
    const m = ROOM_PATH.exec(req.path);
    if (!m) return next();
    let room: string;
    try {
      room = decodeURIComponent(m[1]);
    } catch {
      return next();
    }
    const rest = m[2];
    if (!ROOM_NAME.test(room) || servedAnywhere(req, rest)) return next();
    // Forwarded by a node: it carries the cluster's secret. Its client is the last address the
    // forwarding node appended (session rate limits count that client, not the node).
    const key = req.get(CLUSTER_KEY_HEADER);
    let forwarded = typeof req.get(FORWARDED_HEADER) === 'string' && !!key && !!cluster.key && sameSecret(key, cluster.key);
    if (forwarded) res.locals.clientAddress = (req.get('x-forwarded-for') ?? '').split(',').pop()?.trim() || undefined;
    try {
      // Webinar edges: viewers of other nodes' webinars served here (or on the edge chosen).
      if (edge && rest?.startsWith('/whep/') && (await edge.session(req, res, room, rest.slice('/whep/'.length)))) return;
      const edgeAsked = forwarded && req.get(EDGE_HEADER) === '1';
      if (edge && req.method === 'POST' && rest === '/whep' && !deps.rooms.get(room) && (!forwarded || edgeAsked)) {
        if (await edge.viewer(req, res, room, edgeAsked)) return;
        // Sent here as an edge, but no edge viewer after all (the room changed): routed anew.
        forwarded = false;
      }
      let owner: NodeRecord | null = null;
      if (!forwarded && !deps.rooms.get(room)) {
        // Only an authenticated caller gets a room placed (the owner checks the role again).
        if (creates(req, rest)) await new Promise<void>((resolve, reject) => auth(req, res, (err?: unknown) => (err ? reject(err) : resolve())));
        const region = typeof req.query.region === 'string' ? req.query.region : req.get('x-mcu-region') ?? null;
        owner = creates(req, rest) ? await cluster.place(room, region) : await cluster.ownerOf(room);
      }
      const how = route(cluster.id, owner, { forwarded, redirect: cluster.redirect });
      if (how.kind === 'local') return next();
      if (how.kind === 'redirect') {
        res.status(307).set('Location', `${how.to.url}${req.originalUrl}`).end();
        return;
      }
      await proxy(req, res, how.to, cluster);
    } catch (err) {
      next(err);
    }
  });
  return r;
}

async function readBody(req: Request): Promise<Buffer | undefined> {
  if (req.method === 'GET' || req.method === 'HEAD') return undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > MAX_BODY) throw unavailable('request body too large to forward', 1);
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}

async function proxy(req: Request, res: Response, owner: NodeRecord, cluster: ClusterNode, o: { headers?: Record<string, string>; body?: Buffer } = {}): Promise<void> {
  const headers: Record<string, string> = { ...o.headers, [FORWARDED_HEADER]: cluster.id, [CLUSTER_KEY_HEADER]: cluster.key };
  for (const h of REQUEST_HEADERS) {
    const v = req.get(h);
    if (v !== undefined) headers[h] = v;
  }
  headers['x-forwarded-for'] = [req.get('x-forwarded-for'), req.socket.remoteAddress].filter(Boolean).join(', ');
  const body = o.body ?? (await readBody(req));
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(new Error(`no answer from ${owner.id} within ${HEADERS_TIMEOUT_MS / 1000} s`)), HEADERS_TIMEOUT_MS);
  // A dead machine does not refuse the connection, it just never answers (no RST over a dead
  // link): a wait that outlasts STALE_CHECK_AFTER_MS is given up once the owner's record is stale,
  // so the client's retry is placed anew within seconds, not HEADERS_TIMEOUT_MS.
  const staleCheck = setInterval(() => {
    void cluster
      .nodes()
      .then((nodes) => {
        if (!ownerAlive(nodes.find((n) => n.id === owner.id), Date.now())) ac.abort(new Error(`${owner.id} is stale (no heartbeat)`));
      })
      .catch(() => {});
  }, STALE_CHECK_AFTER_MS);
  res.once('close', () => ac.abort(new Error('client went away')));
  let upstream: globalThis.Response;
  try {
    upstream = await fetch(`${owner.url}${req.originalUrl}`, { method: req.method, headers, body: body ? new Uint8Array(body) : undefined, signal: ac.signal, redirect: 'manual' });
  } catch (err) {
    log.warn({ owner: owner.id, url: req.originalUrl, error: (err as Error).message }, 'forwarding to the room\'s owner failed');
    throw unavailable(`the node that hosts this room (${owner.id}) does not answer; try again shortly`, 2);
  } finally {
    clearTimeout(timer);
    clearInterval(staleCheck);
  }
  res.status(upstream.status);
  upstream.headers.forEach((value, name) => {
    if (SKIP_RESPONSE_HEADERS.has(name) || localHeader(name) || name === 'set-cookie') return;
    if (name === 'location') res.set('Location', absoluteLocation(owner.url, value));
    else if (name === 'link') res.append('Link', value);
    else res.set(name, value);
  });
  res.set('X-MCU-Node', owner.id);
  if (!upstream.body || req.method === 'HEAD') {
    res.end();
    return;
  }
  res.flushHeaders();
  await new Promise<void>((resolve) => {
    const s = Readable.fromWeb(upstream.body as any);
    s.on('error', () => resolve());
    s.on('end', resolve);
    res.once('close', () => (s.destroy(), resolve()));
    s.pipe(res);
  });
}
