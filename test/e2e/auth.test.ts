// Who may do what: bearer tokens per role and room, session ownership, TURN credentials that
// coturn accepts, caps and rate limits.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { startServer, type RunningServer } from '../../server/main.ts';
import { signToken, type Role } from '../../pipeline/auth/tokens.ts';
import { startPublisher, startSubscriber, waitFor, type Publisher } from '../helpers/peers.ts';
import { SyntheticPublisher, WhepSubscriber } from '../../workers/clients/webrtc.ts';
import { colorAt, colorDistance } from '../helpers/media.ts';
import { skip } from '../helpers/skip.ts';

const SECRET = 'test-secret-0123456789';
const TURN_SECRET = 'turn-secret-abcdef';
const TURN_PORT = 34780;
const room = 'secure';

interface Ctx {
  server: RunningServer;
  coturn: ChildProcess | null;
  pub: Publisher;
}
const test = suite<Ctx>('auth');

// Each token is unique (jti), as a backend minting one per user session would make them.
const token = (role: Role, r = room, extra: Record<string, unknown> = {}) =>
  signToken({ room: r, role, exp: Math.floor(Date.now() / 1000) + 600, jti: randomUUID(), ...extra } as any, SECRET);
const bearer = (t: string) => ({ Authorization: `Bearer ${t}` });
const dummySdp = 'v=0\r\n';

async function req(ctx: Ctx, method: string, path: string, t?: string, body?: string, type = 'application/sdp') {
  const res = await fetch(`${ctx.server.url}${path}`, {
    method,
    headers: { ...(t ? bearer(t) : {}), ...(body !== undefined ? { 'Content-Type': type } : {}) },
    body,
  });
  await res.arrayBuffer();
  return res;
}

test.before(async (ctx) => {
  ctx.coturn = null;
  try {
    ctx.coturn = spawn('turnserver', [
      '-n', '--listening-ip=127.0.0.1', `--listening-port=${TURN_PORT}`, '--relay-ip=127.0.0.1',
      '--use-auth-secret', `--static-auth-secret=${TURN_SECRET}`, '--realm=mcu.test', '--no-tls', '--no-dtls',
      '--allow-loopback-peers', '--no-cli', '--min-port=49200', '--max-port=49400', '--log-file=stdout', '--simple-log',
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    ctx.coturn.on('error', () => (ctx.coturn = null));
  } catch {
    ctx.coturn = null;
  }
  ctx.server = await startServer({
    port: 0,
    host: '127.0.0.1',
    authSecret: SECRET,
    turn: { urls: [`turn:127.0.0.1:${TURN_PORT}?transport=udp`], secret: TURN_SECRET, ttlSec: 600 },
    limits: { maxRooms: 3, maxParticipantsPerRoom: 3, maxSubscribersPerRoom: 5, sessionsPerSecPerClient: 1000, sessionBurstPerClient: 1000 },
  });
  ctx.pub = await startPublisher({ baseUrl: ctx.server.url, room, name: 'ignored', color: [200, 30, 30], toneHz: 500, token: token('publisher', room, { name: 'Ada' }) });
});

test.after(async (ctx) => {
  await ctx.pub?.close();
  await ctx.server?.close();
  ctx.coturn?.kill('SIGTERM');
});

test('no token → 401 with WWW-Authenticate: Bearer; health checks stay public', async (ctx) => {
  for (const [method, path] of [['POST', `/rooms/${room}/whip`], ['POST', `/rooms/${room}/whep`], ['GET', '/rooms'], ['GET', '/metrics'], ['GET', '/stats'], ['PATCH', `/rooms/${room}`]]) {
    const r = await req(ctx, method, path, undefined, method === 'GET' ? undefined : dummySdp);
    assert.is(r.status, 401, `${method} ${path}`);
    assert.match(r.headers.get('www-authenticate') ?? '', /^Bearer/);
  }
  assert.is((await req(ctx, 'GET', '/healthz')).status, 200);
  const ready = await (await fetch(`${ctx.server.url}/readyz`)).json();
  assert.is(ready.checks.auth, 'tokens required');
});

test('expired, tampered and wrong-secret tokens → 401', async (ctx) => {
  const expired = signToken({ room, role: 'admin', exp: Math.floor(Date.now() / 1000) - 5 }, SECRET);
  let r = await req(ctx, 'GET', '/rooms', expired);
  assert.is(r.status, 401);
  assert.match(r.headers.get('www-authenticate') ?? '', /expired/);
  const [h, , s] = token('subscriber').split('.');
  const forged = Buffer.from(JSON.stringify({ room: '*', role: 'admin', exp: 9e9 })).toString('base64url');
  r = await req(ctx, 'GET', '/rooms', `${h}.${forged}.${s}`);
  assert.is(r.status, 401);
  r = await req(ctx, 'GET', '/rooms', signToken({ room: '*', role: 'admin', exp: 9e9 }, 'another-secret-123456'));
  assert.is(r.status, 401);
});

test('roles: each endpoint allows only its roles (403 otherwise)', async (ctx) => {
  const sub = token('subscriber');
  const pub = token('publisher');
  const admin = token('admin', '*');
  // WHIP: publisher/host/admin
  assert.is((await req(ctx, 'POST', `/rooms/${room}/whip`, sub, dummySdp)).status, 403);
  assert.is((await req(ctx, 'POST', `/rooms/${room}/whip`, token('host'), dummySdp)).status, 400, 'host passes auth (then the SDP is bad)');
  // WHEP: subscriber yes; publisher only for its own mix-minus
  assert.is((await req(ctx, 'POST', `/rooms/${room}/whep`, sub, dummySdp)).status, 400, 'subscriber passes auth');
  assert.is((await req(ctx, 'POST', `/rooms/${room}/whep`, pub, dummySdp)).status, 403);
  assert.is((await req(ctx, 'POST', `/rooms/${room}/whep?participant=${ctx.pub.participantId}`, pub, dummySdp)).status, 403, 'not its own session');
  // REST API, stats and metrics: admin only
  for (const t of [sub, pub, token('host')]) {
    assert.is((await req(ctx, 'GET', '/rooms', t)).status, 403);
    assert.is((await req(ctx, 'GET', `/rooms/${room}`, t)).status, 403);
    assert.is((await req(ctx, 'PATCH', `/rooms/${room}`, t, '{"layout":"speaker"}', 'application/json')).status, 403);
    assert.is((await req(ctx, 'GET', '/metrics', t)).status, 403);
    assert.is((await req(ctx, 'GET', '/stats', t)).status, 403);
    assert.is((await req(ctx, 'POST', '/tokens', t, '{}', 'application/json')).status, 403);
  }
  assert.is((await req(ctx, 'GET', '/rooms', admin)).status, 200);
  assert.is((await req(ctx, 'GET', `/rooms/${room}`, admin)).status, 200);
  assert.is((await req(ctx, 'PATCH', `/rooms/${room}`, admin, '{"layout":"grid"}', 'application/json')).status, 200);
  assert.is((await req(ctx, 'GET', '/metrics', admin)).status, 200);
  // the token's name claim overrides ?name=
  const info = await (await fetch(`${ctx.server.url}/rooms/${room}`, { headers: bearer(admin) })).json();
  assert.is(info.participants[0].name, 'Ada');
  // EventSource streams take ?access_token=
  const ctrl = new AbortController();
  const sse = await fetch(`${ctx.server.url}/stats/events?access_token=${admin}`, { signal: ctrl.signal });
  assert.is(sse.status, 200);
  ctrl.abort();
});

test('a token for room a does not open room b', async (ctx) => {
  const other = token('admin', 'other-room');
  assert.is((await req(ctx, 'GET', `/rooms/${room}`, other)).status, 403);
  assert.is((await req(ctx, 'POST', `/rooms/${room}/whip`, token('publisher', 'other-room'), dummySdp)).status, 403);
  assert.is((await req(ctx, 'POST', `/rooms/${room}/whep`, token('subscriber', 'other-room'), dummySdp)).status, 403);
});

test('a publisher watches its own mix-minus; a session ends only with its own token (or admin)', async (ctx) => {
  const own = await WhepSubscriber.start({
    whepUrl: `${ctx.server.url}/rooms/${room}/whep?participant=${ctx.pub.participantId}`,
    headers: bearer(token('publisher', room, { name: 'Ada' })),
  }).catch((e) => e);
  // A different publisher token is not the owner of ctx.pub's session.
  assert.instance(own, Error, 'a fresh token is a different owner');
  assert.match(String(own.message), /403/);
  const t = token('publisher');
  const mine = await startPublisher({ baseUrl: ctx.server.url, room, color: [0, 200, 0], toneHz: 700, token: t });
  const watch = await WhepSubscriber.start({ whepUrl: `${ctx.server.url}/rooms/${room}/whep?participant=${mine.participantId}`, headers: bearer(t) });
  await watch.waitForFrames(3, 10_000);
  const sessionPath = new URL(mine.location).pathname;
  assert.is((await req(ctx, 'DELETE', sessionPath, token('publisher'))).status, 403, 'another publisher may not end it');
  assert.is((await req(ctx, 'DELETE', sessionPath, token('subscriber'))).status, 403);
  assert.is((await req(ctx, 'DELETE', new URL(watch.location).pathname, token('subscriber'))).status, 403);
  assert.is((await req(ctx, 'DELETE', sessionPath, t)).status, 200, 'its creator may');
  assert.is((await req(ctx, 'DELETE', new URL(watch.location).pathname, token('admin', '*'))).status, 200, 'an admin may');
  await watch.close();
  await mine.close();
});

test('TURN: a relay-only publisher using the Link-header credentials publishes through coturn', async (ctx) => {
  if (!ctx.coturn) {
    return skip('coturn (turnserver) is not installed');
  }
  const t = token('publisher');
  const opt = await fetch(`${ctx.server.url}/rooms/${room}/whip`, { method: 'OPTIONS', headers: bearer(t) });
  const link = opt.headers.get('link') ?? '';
  const m = /<([^>]+)>; rel="ice-server"; username="([^"]+)"; credential="([^"]+)"; credential-type="password"/.exec(link);
  assert.ok(m, `Link header with TURN credentials: ${link}`);
  const iceServers = [{ urls: m![1], username: m![2], credential: m![3] }];
  const relayed = await SyntheticPublisher.start({
    whipUrl: `${ctx.server.url}/rooms/${room}/whip?name=Relayed`,
    color: [30, 30, 220],
    toneHz: 900,
    headers: bearer(t),
    rtcConfig: { iceServers, iceTransportPolicy: 'relay' },
  });
  const admin = token('admin', '*');
  const viewer = await startSubscriber({ baseUrl: ctx.server.url, room, token: token('subscriber') });
  try {
    await waitFor(async () => {
      const info = await (await fetch(`${ctx.server.url}/rooms/${room}`, { headers: bearer(admin) })).json();
      const tile = info.layout.tiles.find((x: any) => x.participantId === relayed.participantId);
      const f = viewer.lastFrame();
      return tile && f && colorDistance(colorAt(f, tile.video.x + tile.video.width / 2, tile.video.y + tile.video.height / 2, 6), [30, 30, 220]) < 60;
    }, 15_000, 'the relayed publisher\'s colour in the composite');
    // The pair carrying the media: the transport's selected pair (or the succeeded pair that sent
    // the most), read once the stats have it.
    const local = await waitFor(async () => {
      const all = [...(await relayed.pc.getStats()).values()] as any[];
      const selectedId = all.find((s) => s.type === 'transport')?.selectedCandidatePairId;
      const pairs = all.filter((s) => s.type === 'candidate-pair' && (s.id === selectedId || s.state === 'succeeded'));
      const pair = pairs.find((s) => s.id === selectedId) ?? pairs.sort((a, b) => (b.bytesSent ?? 0) - (a.bytesSent ?? 0))[0];
      return pair ? all.find((s) => s.id === pair.localCandidateId) : null;
    }, 5000, 'the publisher\'s selected candidate pair in its stats');
    assert.is(local?.candidateType, 'relay', 'the media went through the TURN relay');
    // The 201 carried fresh credentials too.
    const res = await fetch(`${ctx.server.url}/rooms/${room}/whip`, { method: 'OPTIONS', headers: bearer(t) });
    assert.match(res.headers.get('link') ?? '', /credential-type="password"/);
  } finally {
    await viewer.close();
    await relayed.close();
  }
});

test('caps: participants and subscribers per room → 403, rooms per server → 503 with Retry-After', async (ctx) => {
  const admin = token('admin', '*');
  // rooms: "secure" exists; 2 more reach the cap of 3
  for (const r of ['cap1', 'cap2']) {
    const res = await req(ctx, 'PUT', `/rooms/${r}`, admin, '{}', 'application/json');
    assert.is(res.status, 201);
  }
  const over = await req(ctx, 'PUT', '/rooms/cap3', admin, '{}', 'application/json');
  assert.is(over.status, 503);
  assert.ok(Number(over.headers.get('retry-after')) > 0);
  // participants: "secure" has Ada (+ maybe none else); fill to 3
  const extra: Publisher[] = [];
  const info = await (await fetch(`${ctx.server.url}/rooms/${room}`, { headers: bearer(admin) })).json();
  for (let i = info.participants.length; i < 3; i++) {
    extra.push(await startPublisher({ baseUrl: ctx.server.url, room, color: [100, 100, 100], toneHz: null, token: token('publisher') }));
  }
  const full = await startPublisher({ baseUrl: ctx.server.url, room, color: [1, 1, 1], toneHz: null, token: token('publisher') }).catch((e) => e);
  assert.instance(full, Error);
  assert.match(String(full.message), /403.*maximum of 3 participants/);
  for (const p of extra) await p.close();
});

test('CORS with tokens on: preflights need no token; a page on another origin reads Location and ETag; CORS_ORIGINS narrows it', async (ctx) => {
  const from = 'https://player.example.com';
  const preflight = (url: string, origin: string, method = 'POST', headers = 'authorization, content-type') =>
    fetch(url, { method: 'OPTIONS', headers: { Origin: origin, 'Access-Control-Request-Method': method, 'Access-Control-Request-Headers': headers } });
  for (const [path, method, headers] of [
    [`/rooms/${room}/whip`, 'POST', 'authorization, content-type'],
    [`/rooms/${room}/whep`, 'POST', 'authorization, content-type'],
    [`/rooms/${room}/whep/some-session`, 'PATCH', 'authorization, content-type, if-match'],
    [`/rooms/${room}/hls/index.m3u8`, 'GET', 'authorization'],
    ['/config', 'GET', 'authorization'],
  ] as const) {
    const res = await preflight(`${ctx.server.url}${path}`, from, method, headers);
    assert.is(res.status, 204, `preflight ${method} ${path} without a token`);
    assert.is(res.headers.get('access-control-allow-origin'), '*');
    assert.match(res.headers.get('access-control-allow-methods') ?? '', new RegExp(method));
    for (const h of headers.split(', ')) assert.match((res.headers.get('access-control-allow-headers') ?? '').toLowerCase(), new RegExp(h), `${path}: ${h} allowed`);
  }
  // The real request, as a page on another origin sends it: the headers a WHIP/WHEP client reads are exposed.
  const sub = await fetch(`${ctx.server.url}/rooms/${room}/whep`, {
    method: 'POST',
    headers: { Origin: from, 'Content-Type': 'application/sdp', Authorization: `Bearer ${token('subscriber')}` },
    body: dummySdp,
  });
  assert.is(sub.headers.get('access-control-allow-origin'), '*');
  const exposed = (sub.headers.get('access-control-expose-headers') ?? '').toLowerCase();
  for (const h of ['location', 'etag', 'link', 'accept-patch']) assert.match(exposed, new RegExp(h), `${h} exposed`);
  const noToken = await fetch(`${ctx.server.url}/rooms/${room}/whep`, { method: 'POST', headers: { Origin: from, 'Content-Type': 'application/sdp' }, body: dummySdp });
  assert.is(noToken.status, 401, 'the request itself still needs its token');
  assert.is(noToken.headers.get('access-control-allow-origin'), '*', 'and its 401 is readable by the page');

  const narrow = await startServer({ port: 0, host: '127.0.0.1', authSecret: SECRET, corsOrigins: [from], demo: false });
  try {
    const ok = await preflight(`${narrow.url}/rooms/${room}/whip`, from);
    assert.is(ok.status, 204);
    assert.is(ok.headers.get('access-control-allow-origin'), from);
    assert.match(ok.headers.get('vary') ?? '', /Origin/);
    const other = await preflight(`${narrow.url}/rooms/${room}/whip`, 'https://evil.example.net');
    assert.is(other.headers.get('access-control-allow-origin'), null, 'an origin not listed gets no Allow-Origin');
  } finally {
    await narrow.close();
  }
});

test.run();
