// CLUSTER=1 over HTTP only (two in-process nodes, one private Redis, tokens on): a request for
// another node's room is proxied with its Authorization (the owner's 401 without it), a creating
// request needs a valid token before anything is placed, CLUSTER_REDIRECT=1 answers 307 to the
// owner, GET /rooms lists the cluster. Node A is region "a", node B region "b" with redirects.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startServer, type RunningServer } from '../../server/main.ts';
import { testRedis, redisUnavailableReason, type TestRedis } from '../helpers/redis.ts';
import { waitFor } from '../helpers/peers.ts';
import { skip } from '../helpers/skip.ts';
import { RTCPeerConnection } from 'werift';
import '../../workers/weriftDtlsFix.ts'; // werift's DTLS client survives a repeated HelloVerifyRequest
import { createHmac } from 'node:crypto';

const SECRET = 'cluster-http-test-secret-0123456789';
const TURN_URL = 'turn:127.0.0.1:9?transport=udp';
const TURN_SECRET = 'cluster-http-turn-secret';

interface Ctx {
  redis: TestRedis | null;
  a: RunningServer;
  b: RunningServer;
  admin: string;
}
const test = suite<Ctx>('cluster-http');

test.before(async (ctx) => {
  ctx.redis = null;
  if (redisUnavailableReason()) return;
  ctx.redis = await testRedis();
  const node = (id: string, region: string, redirect: boolean, turn: { urls: string[]; secret: string; ttlSec: number } | null = null) =>
    startServer({
      turn,
      port: 0,
      host: '127.0.0.1',
      demo: false,
      roomIdleMs: 3000,
      authSecret: SECRET,
      redisUrl: ctx.redis!.url,
      cluster: { nodeId: id, region, redirect, drainMs: 0 },
    });
  ctx.a = await node('http-a', 'a', false);
  // B announces a TURN server (nothing listens there: only its Link headers are looked at).
  ctx.b = await node('http-b', 'b', true, { urls: [TURN_URL], secret: TURN_SECRET, ttlSec: 600 });
  ctx.admin = ctx.a.tokens!.mint({ room: '*', role: 'admin', exp: Math.floor(Date.now() / 1000) + 600 });
});

test.after(async (ctx) => {
  await ctx.a?.close();
  await ctx.b?.close();
  await ctx.redis?.stop();
});

const bearer = (t: string) => ({ Authorization: `Bearer ${t}` });

test('proxied with the Authorization header; the owner answers; GET /rooms lists the cluster', async (ctx) => {
  const reason = redisUnavailableReason();
  if (reason) return skip(reason);
  const room = 'http-proxied';
  // Nothing is placed for a caller without a valid token.
  const anon = await fetch(`${ctx.a.url}/rooms/${room}?region=b`, { method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: '{}' });
  assert.is(anon.status, 401);
  assert.is((await fetch(`${ctx.a.url}/cluster/nodes`, { headers: bearer(ctx.admin) }).then((r) => r.json()) as any).nodes.length, 2);
  const put = await fetch(`${ctx.a.url}/rooms/${room}?region=b`, { method: 'PUT', headers: { 'Content-Type': 'application/json', ...bearer(ctx.admin) }, body: '{}' });
  assert.is(put.status, 201, await put.clone().text());
  assert.is(put.headers.get('x-mcu-node'), 'http-b');
  assert.ok(ctx.b.rooms.get(room), 'the room is on node B');
  assert.not.ok(ctx.a.rooms.get(room), 'and not on node A');
  // Through A: the owner checks the token it is given.
  assert.is((await fetch(`${ctx.a.url}/rooms/${room}`)).status, 401);
  const got = await fetch(`${ctx.a.url}/rooms/${room}`, { headers: bearer(ctx.admin) });
  assert.is(got.status, 200);
  assert.is(((await got.json()) as any).name, room);
  const list = await waitFor(async () => {
    const l = ((await (await fetch(`${ctx.a.url}/rooms`, { headers: bearer(ctx.admin) })).json()) as any).rooms;
    return l.length === 1 ? l : null;
  }, 5000, 'node A to list the room');
  assert.equal(list[0], { name: room, participants: 0, subscriptions: 0, node: 'http-b' });
  // A room nobody owns: 404 where asked.
  assert.is((await fetch(`${ctx.a.url}/rooms/http-nobody`, { headers: bearer(ctx.admin) })).status, 404);
});

test('CLUSTER_REDIRECT=1: 307 to the owner, nothing created on the redirecting node', async (ctx) => {
  const reason = redisUnavailableReason();
  if (reason) return skip(reason);
  const room = 'http-redirected';
  const r = await fetch(`${ctx.b.url}/rooms/${room}?region=a`, { method: 'PUT', headers: { 'Content-Type': 'application/json', ...bearer(ctx.admin) }, body: '{}', redirect: 'manual' });
  assert.is(r.status, 307);
  assert.is(r.headers.get('location'), `${ctx.a.url}/rooms/${room}?region=a`);
  assert.not.ok(ctx.b.rooms.get(room));
  // Following it (with the token again) creates the room on its owner.
  const put = await fetch(r.headers.get('location')!, { method: 'PUT', headers: { 'Content-Type': 'application/json', ...bearer(ctx.admin) }, body: '{}' });
  assert.is(put.status, 201);
  assert.ok(ctx.a.rooms.get(room));
});

test('a webinar viewer asking node B is served there as an edge, which pulls from A with a token it minted', async (ctx) => {
  const reason = redisUnavailableReason();
  if (reason) return skip(reason);
  const room = 'http-webinar';
  const put = await fetch(`${ctx.b.url}/rooms/${room}?region=a`, { method: 'PUT', headers: { 'Content-Type': 'application/json', ...bearer(ctx.admin) }, body: '{"mode":"webinar"}', redirect: 'manual' });
  assert.is(put.status, 307);
  assert.is((await fetch(put.headers.get('location')!, { method: 'PUT', headers: { 'Content-Type': 'application/json', ...bearer(ctx.admin) }, body: '{"mode":"webinar"}' })).status, 201);
  // B learns from A's next heartbeat that the room is a webinar.
  await waitFor(async () => ((await (await fetch(`${ctx.b.url}/rooms`, { headers: bearer(ctx.admin) })).json()) as any).rooms.some((r: any) => r.name === room), 5000, 'B to list the webinar');
  const pc = new RTCPeerConnection();
  pc.addTransceiver('video', { direction: 'recvonly' });
  pc.addTransceiver('audio', { direction: 'recvonly' });
  await pc.setLocalDescription(await pc.createOffer());
  const offer = pc.localDescription!.sdp;
  const viewer = ctx.a.tokens!.mint({ room, role: 'subscriber', exp: Math.floor(Date.now() / 1000) + 600 });
  const post = (headers: Record<string, string>) => fetch(`${ctx.b.url}/rooms/${room}/whep`, { method: 'POST', headers: { 'Content-Type': 'application/sdp', ...headers }, body: offer });
  try {
    assert.is((await post({})).status, 401, 'the edge checks the token');
    const res = await post(bearer(viewer));
    assert.is(res.status, 201, await res.clone().text());
    assert.is(res.headers.get('x-mcu-node'), 'http-b');
    assert.is(res.headers.get('x-mcu-owner'), 'http-a');
    const location = new URL(res.headers.get('location')!, ctx.b.url).toString();
    assert.ok(location.startsWith(`${ctx.b.url}/rooms/${room}/whep/`), location);
    // The edge announces its ICE servers (RFC 9725 Link) as an owner does: fresh TURN REST
    // credentials that coturn's use-auth-secret accepts (the viewer's media is with the edge).
    const link = res.headers.get('link') ?? '';
    const m = /^<([^>]+)>; rel="ice-server"; username="(\d+):[^"]+"; credential="([^"]+)"; credential-type="password"$/.exec(link);
    assert.ok(m, `one ice-server Link on the edge's answer (got ${link ? 'a different one' : 'none'})`);
    assert.is(m![1], TURN_URL);
    const username = /username="([^"]+)"/.exec(link)![1];
    assert.is(m![3], createHmac('sha1', TURN_SECRET).update(username).digest('base64'), 'the credential is the TURN REST HMAC of the username');
    assert.ok(Number(m![2]) > Date.now() / 1000 + 500, 'valid for TURN_TTL_SEC');
    const opt = await fetch(`${ctx.b.url}/rooms/${room}/whep`, { method: 'OPTIONS', headers: bearer(viewer) });
    assert.match(opt.headers.get('link') ?? '', /rel="ice-server"/, 'the preflight at the edge announces them too');
    // The owner has one subscription: B's pull, authorised by the token B minted.
    assert.is(ctx.a.rooms.get(room)!.subscriptions.size, 1);
    const edges = (await (await fetch(`${ctx.b.url}/cluster/edges`, { headers: bearer(ctx.admin) })).json()) as any;
    assert.equal(edges.pulls.map((p: any) => [p.room, p.key, p.viewers]), [[room, '720p/vp8', 1]]);
    // Only its creator (or an admin) ends the session, at the edge.
    const other = ctx.a.tokens!.mint({ room, role: 'subscriber', exp: Math.floor(Date.now() / 1000) + 600 });
    assert.is((await fetch(location, { method: 'DELETE', headers: bearer(other) })).status, 403);
    assert.is((await fetch(location, { method: 'DELETE', headers: bearer(viewer) })).status, 200);
    // The pull stays (EDGE_LINGER_MS) without viewers.
    const after = (await (await fetch(`${ctx.b.url}/cluster/edges`, { headers: bearer(ctx.admin) })).json()) as any;
    assert.equal([after.viewers, after.pulls.map((p: any) => p.viewers)], [0, [0]]);
  } finally {
    await pc.close();
  }
});

test.run();
