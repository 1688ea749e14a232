// Issue #17: a token never yields more than it holds; strict tokens; query-string tokens only
// where headers cannot be set; stream keys and passwords in no response, log line or process
// list; pushes only to allowed targets. Real server in-process (port 0), logs to a file.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { signToken, type Role } from '../../pipeline/auth/tokens.ts';
import { parseAllowList } from '../../pipeline/net/pushTargets.ts';

// The logger reads LOG_FILE and LOG_LEVEL when it is first imported: set them before importing
// the server (the request log, where query tokens must show masked, is at info level).
const DIR = fs.mkdtempSync(path.join(os.tmpdir(), 'mcu-security-'));
process.env.LOG_FILE = path.join(DIR, 'server.log');
process.env.LOG_LEVEL = 'info';
// JSON responses are checked against /openapi.json as they leave (mismatches are log lines).
process.env.MCU_CHECK_RESPONSES = '1';
const { startServer } = await import('../../server/main.ts');
const { startPublisher, waitFor } = await import('../helpers/peers.ts');
const { descendants } = await import('../helpers/procs.ts');
type RunningServer = Awaited<ReturnType<typeof startServer>>;
type Publisher = Awaited<ReturnType<typeof startPublisher>>;

const SECRET = 'security-secret-0123456789';
const METRICS_TOKEN = 'metrics-token-abcdefghijklmnop';
const MAX_TTL = 7200;
const KEY = 'Sk3yZZ9-live-0042';
const PASSWORD = 'pa55-Wqx7';
const A = 'room-a';
const B = 'room-b';

interface Ctx {
  server: RunningServer;
  pub: Publisher | null;
  drop: net.Server;
  dropPort: number;
  accepted: number;
  minted: string[];
}
const test = suite<Ctx>('security');

const now = () => Math.floor(Date.now() / 1000);
/** Every token this suite signed: none may show up in the server's log. */
const signed: string[] = [];
const token = (role: Role, room: string, ttl = 600, extra: Record<string, unknown> = {}) => {
  const t = signToken({ room, role, exp: now() + ttl, ...extra } as any, SECRET);
  signed.push(t);
  return t;
};
const payload = (t: string) => JSON.parse(Buffer.from(t.split('.')[1], 'base64url').toString());

async function call(ctx: Ctx, method: string, p: string, t?: string | null, body?: unknown, base = ctx.server.url) {
  const res = await fetch(`${base}${p}`, {
    method,
    headers: { ...(t ? { Authorization: `Bearer ${t}` } : {}), ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json: any = null;
  try {
    json = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  if (json?.token) ctx.minted.push(json.token);
  return { status: res.status, json, text, headers: res.headers };
}

test.before(async (ctx) => {
  ctx.minted = [];
  ctx.pub = null;
  ctx.accepted = 0;
  // A target that accepts and drops every connection.
  ctx.drop = net.createServer((s) => {
    ctx.accepted++;
    s.destroy();
  });
  await new Promise<void>((r) => ctx.drop.listen(0, '127.0.0.1', () => r()));
  ctx.dropPort = (ctx.drop.address() as net.AddressInfo).port;
  ctx.server = await startServer({
    port: 0,
    host: '127.0.0.1',
    roomIdleMs: 60_000,
    authSecret: SECRET,
    tokenMaxTtlSec: MAX_TTL,
    metricsToken: METRICS_TOKEN,
    metricsPort: 0,
    metricsHost: '127.0.0.1',
    streamTargetsAllow: parseAllowList('rtmp://127.0.0.1'),
    limits: { maxRooms: 10, maxParticipantsPerRoom: 4, maxSubscribersPerRoom: 10, sessionsPerSecPerClient: 1000, sessionBurstPerClient: 1000 },
  });
  const admin = token('admin', '*');
  for (const r of [A, B]) assert.is((await call(ctx, 'PUT', `/rooms/${r}`, admin, {})).status, 201);
});

test.after(async (ctx) => {
  await ctx.pub?.close();
  await ctx.server?.close();
  ctx.drop?.close();
  fs.rmSync(DIR, { recursive: true, force: true });
});

test('escalation: a room admin cannot mint for "*", another room, or beyond its own expiry (403, nothing minted)', async (ctx) => {
  const roomAdmin = token('admin', A, 60);
  const cases: Array<[unknown, RegExp]> = [
    [{ room: '*', role: 'admin' }, /only mint tokens for room "room-a"/],
    [{ room: B, role: 'subscriber' }, /room "room-a"/],
    [{ room: A, role: 'publisher', ttlSec: 3600 }, /outlive/],
  ];
  for (const [body, re] of cases) {
    const r = await call(ctx, 'POST', '/tokens', roomAdmin, body);
    assert.is(r.status, 403, JSON.stringify(body));
    assert.match(r.json.detail, re);
    assert.is(r.json.token, undefined, 'nothing minted');
  }
  // What it holds it may hand on: its room, any role up to admin, no later than its expiry.
  const ok = await call(ctx, 'POST', '/tokens', roomAdmin, { room: A, role: 'subscriber' });
  assert.is(ok.status, 200);
  assert.ok(payload(ok.json.token).exp <= payload(roomAdmin).exp, 'the default lifetime is cut to the minter\'s');
  // Hosts and others may not mint through /tokens at all.
  for (const role of ['host', 'publisher', 'subscriber'] as const) {
    const r = await call(ctx, 'POST', '/tokens', token(role, A), { room: A, role: 'subscriber' });
    assert.is(r.status, 403);
    assert.is(r.json.token, undefined);
  }
});

test('escalation: a host grant inherits the granting token\'s expiry, and so does the grant', async (ctx) => {
  const admin = token('admin', '*');
  assert.is((await call(ctx, 'PUT', '/rooms/web-a', admin, { mode: 'webinar' })).status, 201);
  const host = token('host', 'web-a', 3);
  const g = await call(ctx, 'POST', '/rooms/web-a/hosts', host, { name: 'Guest' });
  assert.is(g.status, 201);
  assert.is(payload(g.json.token).exp, payload(host).exp, 'not 12 h: the host token\'s own expiry');
  assert.is(payload(g.json.token).role, 'host');
  // A publisher with the grant passes the webinar check (then its dummy offer is refused)...
  const pubToken = token('publisher', 'web-a');
  const whip = (grant: string) =>
    fetch(`${ctx.server.url}/rooms/web-a/whip?grant=${grant}`, { method: 'POST', headers: { Authorization: `Bearer ${pubToken}`, 'Content-Type': 'application/sdp' }, body: 'v=0\r\n' });
  assert.is((await whip(g.json.grant)).status, 400, 'a live grant opens the webinar');
  // ...until the token that gave it expires.
  await new Promise((r) => setTimeout(r, (payload(host).exp - now() + 1) * 1000));
  assert.is((await whip(g.json.grant)).status, 403, 'an expired grant does not');
  assert.is((await call(ctx, 'POST', '/rooms/web-a/hosts', host, {})).status, 401, 'nor does the expired host token');
  // A host cannot grant in another room.
  assert.is((await call(ctx, 'POST', `/rooms/${A}/hosts`, token('host', 'web-a'), {})).status, 403);
});

test('lists and metrics show only the rooms a token covers; global views need "*" or METRICS_TOKEN', async (ctx) => {
  const roomAdmin = token('admin', A);
  const global = token('admin', '*');
  const rooms = await call(ctx, 'GET', '/rooms', roomAdmin);
  assert.equal(rooms.json.rooms.map((r: any) => r.name), [A]);
  assert.ok((await call(ctx, 'GET', '/rooms', global)).json.rooms.length >= 2);
  assert.is((await call(ctx, 'GET', `/rooms/${B}`, roomAdmin)).status, 403);
  const stats = await call(ctx, 'GET', '/stats', roomAdmin);
  assert.equal(stats.json.rooms.map((r: any) => r.name), [A]);
  assert.is(stats.json.server, null, 'no server-wide figures for a room token');
  assert.ok((await call(ctx, 'GET', '/stats', global)).json.server.cpu);
  const metrics = await call(ctx, 'GET', '/metrics', roomAdmin);
  assert.is(metrics.status, 403);
  assert.match(metrics.json.detail, /server-wide.*METRICS_TOKEN/);
  assert.is((await call(ctx, 'GET', '/metrics', global)).status, 200);
  assert.is((await call(ctx, 'GET', `/recordings?room=${B}`, roomAdmin)).status, 403);
  const recs = await call(ctx, 'GET', '/recordings', roomAdmin);
  if (recs.status === 200) assert.ok(recs.json.recordings.every((r: any) => r.room === A));
  else assert.is(recs.status, 503, 'recordings answer 503 without Redis');
  // The SSE stream behind the dashboard is scoped the same way.
  const ctrl = new AbortController();
  const sse = await fetch(`${ctx.server.url}/stats/events?access_token=${roomAdmin}`, { signal: ctrl.signal });
  assert.is(sse.status, 200);
  const reader = sse.body!.getReader();
  let text = '';
  while (!text.includes('\n\n')) text += new TextDecoder().decode((await reader.read()).value);
  ctrl.abort();
  const snap = JSON.parse(/data: (.*)/.exec(text)![1]);
  assert.equal(snap.rooms.map((r: any) => r.name), [A]);
  // METRICS_TOKEN: /metrics only, on the main port and on METRICS_PORT.
  const m = await call(ctx, 'GET', '/metrics', METRICS_TOKEN);
  assert.is(m.status, 200);
  assert.match(m.text, /mcu_rooms/);
  assert.is((await call(ctx, 'GET', '/rooms', METRICS_TOKEN)).status, 401, 'the metrics token opens nothing else');
  assert.ok(ctx.server.metricsUrl);
  const base = ctx.server.metricsUrl!.replace(/\/metrics$/, '');
  assert.is((await call(ctx, 'GET', '/metrics', METRICS_TOKEN, undefined, base)).status, 200);
  assert.is((await call(ctx, 'GET', '/metrics', null, undefined, base)).status, 401);
  assert.is((await call(ctx, 'GET', '/metrics', global, undefined, base)).status, 401, 'the metrics port takes the metrics token only');
  assert.is((await call(ctx, 'GET', '/rooms', METRICS_TOKEN, undefined, base)).status, 404);
});

test('strict tokens: encodings, lifetimes, ttlSec, jti uniqueness', async (ctx) => {
  const global = token('admin', '*');
  const [h, p, s] = global.split('.');
  const std = Buffer.from(s, 'base64url').toString('base64');
  assert.is((await call(ctx, 'GET', '/rooms', `${h}.${p}.${std}`)).status, 401, 'standard base64 signature');
  assert.is((await call(ctx, 'GET', '/rooms', `${h}.${p}.${s}=`)).status, 401, 'padding');
  const none = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
  assert.is((await call(ctx, 'GET', '/rooms', `${none}.${p}.`)).status, 401, 'alg none');
  const far = await call(ctx, 'GET', '/rooms', signToken({ room: '*', role: 'admin', exp: 253_402_300_799 }, SECRET));
  assert.is(far.status, 401, 'year 9999');
  assert.match(far.json.detail, /TOKEN_MAX_TTL_SEC/);
  assert.is((await call(ctx, 'GET', '/rooms', token('admin', '*', 600, { nbf: now() + 300 }))).status, 401, 'not yet valid');
  assert.is((await call(ctx, 'GET', '/rooms', token('admin', '*', -5))).status, 401, 'expired');
  for (const ttlSec of [-5, 0, 0.4, 1.5, 1e12, MAX_TTL + 1, '60', null]) {
    const r = await call(ctx, 'POST', '/tokens', global, { room: A, role: 'subscriber', ttlSec });
    assert.is(r.status, 400, `ttlSec ${ttlSec}`);
    assert.match(r.json.detail, new RegExp(`"ttlSec" must be a whole number of seconds from 1 to ${MAX_TTL}`));
  }
  const one = await call(ctx, 'POST', '/tokens', global, { room: A, role: 'subscriber', ttlSec: 60 });
  const two = await call(ctx, 'POST', '/tokens', global, { room: A, role: 'subscriber', ttlSec: 60 });
  assert.is(one.status, 200);
  assert.is.not(one.json.token, two.json.token, 'identical requests, different tokens');
  assert.is.not(payload(one.json.token).jti, payload(two.json.token).jti);
  assert.is(payload(one.json.token).exp - payload(one.json.token).iat, 60);
  assert.is((await call(ctx, 'POST', '/tokens', global, { room: A, role: 'subscriber', extra: 1 })).status, 400, 'unknown field');
});

test('query-string tokens: only HLS and event streams; elsewhere 401 pointing at the header', async (ctx) => {
  const global = token('admin', '*');
  for (const p of ['/rooms', '/metrics', '/stats', '/recordings', `/rooms/${A}`, `/rooms/${A}/streams`]) {
    const r = await call(ctx, 'GET', `${p}?access_token=${global}`);
    assert.is(r.status, 401, p);
    assert.match(r.json.detail, /Authorization: Bearer/, p);
  }
  assert.is((await call(ctx, 'POST', `/tokens?access_token=${global}`, null, { room: A, role: 'subscriber' })).status, 401);
  for (const p of ['/stats/events', `/rooms/${A}/events`]) {
    const ctrl = new AbortController();
    const r = await fetch(`${ctx.server.url}${p}?access_token=${global}`, { signal: ctrl.signal });
    assert.is(r.status, 200, p);
    ctrl.abort();
  }
  const hls = await call(ctx, 'GET', `/rooms/${A}/hls/nothing.ts?access_token=${global}`);
  assert.is(hls.status, 404, 'HLS takes the query token (then there is no such segment)');
});

test('push to a target that drops the connection: the key and password in no response, log line or ps line', async (ctx) => {
  const admin = token('admin', '*');
  ctx.pub = await startPublisher({ baseUrl: ctx.server.url, room: A, color: [200, 40, 40], toneHz: 440, token: token('publisher', A) });
  const host = token('host', A);
  const secretUrl = `rtmp://127.0.0.1:${ctx.dropPort}/live/${KEY}?pass=${PASSWORD}`;
  const bodies: string[] = [];
  const cmdlines = new Set<string>();
  let presetModes: number[] = [];
  const watcher = setInterval(() => {
    for (const cmd of descendants().values()) {
      if (!cmd) continue; // a zombie has no command line left
      cmdlines.add(cmd);
      const pre = / -fpre (\S+)/.exec(cmd)?.[1];
      if (pre) {
        try {
          presetModes.push(fs.statSync(pre).mode & 0o777);
        } catch {
          /* already deleted */
        }
      }
    }
  }, 20);
  try {
    const created = await call(ctx, 'POST', `/rooms/${A}/streams`, host, { url: secretUrl });
    bodies.push(created.text);
    assert.is(created.status, 201, created.text);
    assert.is(created.json.url, `rtmp://127.0.0.1:${ctx.dropPort}/live/***`);
    const id = created.json.id;
    const state = await waitFor(async () => {
      const r = await call(ctx, 'GET', `/rooms/${A}/streams`, host);
      bodies.push(r.text);
      const s = r.json.streams.find((x: any) => x.id === id);
      return s && s.attempts >= 2 && s.lastError && ctx.accepted >= 2 ? s : null;
    }, 40_000, 'two attempts that reached the target and were dropped', 200);
    assert.is(state.lastError, 'could not connect to the target', 'one generic message: no port state, no FFmpeg text');
    assert.is(state.state, 'retrying');
    // A closed port reads the same as one that accepts and drops: no port scanner.
    const closedPort = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const closed = await call(ctx, 'POST', `/rooms/${A}/streams`, host, { url: `rtmp://127.0.0.1:${closedPort}/live/${KEY}` });
    assert.is(closed.status, 201);
    const closedState = await waitFor(async () => {
      const r = await call(ctx, 'GET', `/rooms/${A}/streams`, host);
      bodies.push(r.text);
      const s = r.json.streams.find((x: any) => x.id === closed.json.id);
      return s && s.attempts >= 2 && s.lastError ? s : null;
    }, 40_000, 'two attempts at a closed port', 200);
    assert.is(closedState.lastError, state.lastError, 'closed and open-but-dropping ports give the same answer');
    assert.is((await call(ctx, 'DELETE', `/rooms/${A}/streams/${closed.json.id}`, host)).status, 204);
    bodies.push((await call(ctx, 'GET', `/rooms/${A}`, admin)).text);
    bodies.push((await call(ctx, 'GET', '/stats', admin)).text);
    bodies.push((await call(ctx, 'GET', '/metrics', admin)).text);
    assert.is((await call(ctx, 'DELETE', `/rooms/${A}/streams/${id}`, host)).status, 204);
  } finally {
    clearInterval(watcher);
  }
  const pushes = [...cmdlines.values()].filter((c) => c.includes(' -fpre '));
  assert.ok(pushes.length >= 1, `an FFmpeg for the push was seen in the process list (${cmdlines.size} processes)`);
  assert.ok(pushes.every((c) => /rtmp:\/\/127\.0\.0\.1:\d+$/.test(c)), 'its output is the loopback relay');
  for (const c of cmdlines.values()) {
    assert.not.ok(c.includes(KEY) || c.includes(PASSWORD), `no secret in a command line: ${c}`);
  }
  assert.ok(presetModes.every((m) => m === 0o600), `the preset file is private: ${presetModes.map((m) => m.toString(8))}`);
  for (const b of bodies) assert.not.ok(b.includes(KEY) || b.includes(PASSWORD), `no secret in a response: ${b.slice(0, 300)}`);
  const log = fs.readFileSync(process.env.LOG_FILE!, 'utf8');
  const lines = log.split('\n').filter(Boolean);
  assert.ok(lines.some((l) => /ffmpeg (died|started)/.test(l)), 'the log has the push\'s FFmpeg lines');
  for (const l of lines) {
    assert.not.ok(l.includes(KEY) || l.includes(PASSWORD), `no secret in a log line: ${l}`);
    JSON.parse(l);
  }
});

test('no token minted or used by this suite appears in the log', async (ctx) => {
  const log = fs.readFileSync(process.env.LOG_FILE!, 'utf8');
  assert.ok(ctx.minted.length >= 3 && signed.length > 10, `${ctx.minted.length} minted, ${signed.length} signed`);
  for (const t of [...ctx.minted, ...signed]) assert.not.ok(log.includes(t.split('.')[2]), 'a token in the log');
  assert.ok(log.includes('access_token=***'), 'query tokens are masked in the request log');
  const mismatches = log.split('\n').filter((l) => l.includes('"response does not match /openapi.json"') || l.includes('"response check failed"'));
  assert.equal(mismatches, [], 'every JSON response matches /openapi.json');
});

test('a push to a private or loopback address without an allow-list → 400 naming the rule', async () => {
  const open = await startServer({ port: 0, host: '127.0.0.1', authSecret: SECRET, roomIdleMs: 60_000 });
  try {
    const admin = token('admin', '*');
    const put = await fetch(`${open.url}/rooms/c`, { method: 'PUT', headers: { Authorization: `Bearer ${admin}`, 'Content-Type': 'application/json' }, body: '{}' });
    assert.is(put.status, 201);
    for (const target of ['rtmp://127.0.0.1:1935/app/k', 'rtmp://10.0.0.8/app/k', 'rtmp://[::1]/app/k', 'rtmp://169.254.169.254/app/k', 'rtmp://localhost/app/k', 'rtmp://0.0.0.0/app/k']) {
      const r = await fetch(`${open.url}/rooms/c/streams`, { method: 'POST', headers: { Authorization: `Bearer ${admin}`, 'Content-Type': 'application/json' }, body: JSON.stringify({ url: target }) });
      const body = (await r.json()) as any;
      assert.is(r.status, 400, target);
      assert.match(body.detail, /loopback, private, link-local and unspecified addresses .*STREAM_TARGETS_ALLOW/, target);
    }
    const creds = await fetch(`${open.url}/rooms/c/streams`, { method: 'POST', headers: { Authorization: `Bearer ${admin}`, 'Content-Type': 'application/json' }, body: JSON.stringify({ url: `rtmp://bob:${PASSWORD}@live.example.com/app/${KEY}` }) });
    const text = await creds.text();
    assert.is(creds.status, 400);
    assert.not.ok(text.includes(PASSWORD) || text.includes(KEY), 'the refusal does not echo the secrets');
  } finally {
    await open.close();
  }
});

test.run();
