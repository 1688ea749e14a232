// ICE for real networks: with ICE_ANNOUNCED_IP and ICE_UDP_PORT_MIN..MAX every candidate the
// server hands out (WHIP and WHEP answers, ICE-restart fragments) names the announced address
// and a port of the range; media still flows with announced 127.0.0.1 and a 20-port range;
// an exhausted range answers 503 and leaves nothing behind.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import dgram from 'node:dgram';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { colorAt, colorDistance } from '../helpers/media.ts';
import { candidatesOf } from '../../pipeline/net/announce.ts';
import { openApiDocument } from '../../pipeline/api/openapi.ts';
import { responseSchema, validate } from '../../pipeline/api/validate.ts';

// The logger reads LOG_FILE when it is first imported: set it before importing the server.
const LOG_DIR = fs.mkdtempSync(path.join(os.tmpdir(), 'mcu-ice-'));
process.env.LOG_FILE = path.join(LOG_DIR, 'server.log');
process.env.LOG_LEVEL = 'info';
// Every JSON response is checked against /openapi.json; mismatches become log lines (checked last).
process.env.MCU_CHECK_RESPONSES = '1';
const { startServer } = await import('../../server/main.ts');
const { startPublisher, startSubscriber, waitFor } = await import('../helpers/peers.ts');
type RunningServer = Awaited<ReturnType<typeof startServer>>;
type Publisher = Awaited<ReturnType<typeof startPublisher>>;
type Subscriber = Awaited<ReturnType<typeof startSubscriber>>;

const logLines = () => fs.readFileSync(process.env.LOG_FILE!, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));

const fx = (name: string) => fs.readFileSync(new URL(`../fixtures/sdp/${name}.sdp`, import.meta.url), 'utf8');

/** A run of `n` UDP ports below Linux' ephemeral range that nothing is bound to right now. */
async function freeRange(n: number): Promise<{ min: number; max: number }> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const min = 20_000 + Math.floor(Math.random() * 10_000);
    const sockets: dgram.Socket[] = [];
    let ok = true;
    for (let p = min; p < min + n && ok; p++) {
      const s = dgram.createSocket('udp4');
      ok = await new Promise<boolean>((r) => {
        s.once('error', () => r(false));
        s.bind(p, () => r(true));
      });
      sockets.push(s);
    }
    await Promise.all(sockets.map((s) => new Promise<void>((r) => s.close(() => r()))));
    if (ok) return { min, max: min + n - 1 };
  }
  throw new Error('no free UDP port range found');
}

function checkCandidates(sdp: string, ip: string, range: { min: number; max: number }, what: string): void {
  const cands = candidatesOf(sdp);
  assert.ok(cands.length > 0, `${what} has candidates`);
  for (const c of cands) {
    assert.is(c.address, ip, `${what}: candidate address`);
    assert.ok(c.port >= range.min && c.port <= range.max, `${what}: port ${c.port} in ${range.min}-${range.max}`);
  }
}

async function post(url: string, sdp: string): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: sdp });
}

const announced = suite('ICE_ANNOUNCED_IP on answers (no connection needed)');
let server: RunningServer;
let range: { min: number; max: number };

announced.before(async () => {
  range = await freeRange(20);
  server = await startServer({ port: 0, host: '127.0.0.1', roomIdleMs: 300, demo: false, ice: { announcedIp: '203.0.113.50', portRange: range } });
});
announced.after(async () => {
  await server?.close();
});

announced('WHIP and WHEP answers name only the announced address, on ports of the range', async () => {
  const whip = await post(`${server.url}/rooms/nat/whip`, fx('gstreamer-vp8-opus'));
  assert.is(whip.status, 201, await whip.clone().text());
  checkCandidates(await whip.text(), '203.0.113.50', range, 'WHIP answer');
  const whep = await post(`${server.url}/rooms/nat/whep`, fx('hand-whep-mids-audio-video'));
  assert.is(whep.status, 201, await whep.clone().text());
  const answer = await whep.text();
  checkCandidates(answer, '203.0.113.50', range, 'WHEP answer');
  assert.ok(/^c=IN IP4 203\.0\.113\.50$/m.test(answer), 'c= line announced');
  // An ICE restart's fragment (PATCH) carries announced candidates too.
  const restart = await fetch(new URL(whip.headers.get('location')!, server.url), {
    method: 'PATCH',
    headers: { 'Content-Type': 'application/trickle-ice-sdpfrag', 'If-Match': '*' },
    body: 'a=ice-ufrag:rst1\r\na=ice-pwd:0123456789abcdefghijkl\r\n',
  });
  assert.is(restart.status, 200, await restart.clone().text());
  checkCandidates(await restart.text(), '203.0.113.50', range, 'ICE-restart fragment');
  for (const r of [whip, whep]) await fetch(new URL(r.headers.get('location')!, server.url), { method: 'DELETE' });
});

announced('a client inside the NAT (a recording worker beside the server) still connects: ICE finds the direct path', async () => {
  const pub = await startPublisher({ baseUrl: server.url, room: 'inside', name: 'Blue', color: [30, 30, 220], toneHz: 700 });
  try {
    await waitFor(async () => {
      const room = await (await fetch(`${server.url}/rooms/inside`, { headers: { Accept: 'application/json' } })).json();
      return room.participants[0]?.framesIn > 10;
    }, 15_000, 'frames from the publisher whose answer named an unreachable address');
  } finally {
    await pub.close();
  }
});

announced.run();

const loopback = suite<Ctx>('media on loopback with announced 127.0.0.1 and a 20-port range');
interface Ctx {
  server: RunningServer;
  range: { min: number; max: number };
  pub: Publisher;
  sub: Subscriber;
}

loopback.before(async (ctx) => {
  ctx.range = await freeRange(20);
  ctx.server = await startServer({ port: 0, host: '127.0.0.1', roomIdleMs: 300, demo: false, ice: { announcedIp: '127.0.0.1', portRange: ctx.range } });
});
loopback.after(async (ctx) => {
  for (const p of [ctx.sub, ctx.pub]) await p?.close();
  await ctx.server?.close();
});

loopback('a publisher and a subscriber connect; the subscriber sees the publisher\'s colour', async (ctx) => {
  const baseUrl = ctx.server.url;
  ctx.pub = await startPublisher({ baseUrl, room: 'lan', name: 'Red', color: [220, 30, 30], toneHz: 600 });
  ctx.sub = await startSubscriber({ baseUrl, room: 'lan' });
  checkCandidates(ctx.pub.pc.remoteDescription.sdp, '127.0.0.1', ctx.range, 'publisher\'s answer');
  checkCandidates(ctx.sub.pc.remoteDescription.sdp, '127.0.0.1', ctx.range, 'subscriber\'s answer');
  await ctx.sub.waitForFrames(10, 15_000);
  await waitFor(() => {
    const f = ctx.sub.lastFrame();
    return f && colorDistance(colorAt(f, f.width / 2, f.height / 2, 6), [220, 30, 30]) < 60;
  }, 10_000, 'the red publisher in the composite');
  await waitFor(() => ctx.sub.toneDb(600) > -40, 10_000, 'the 600 Hz tone in the mix');
  // A live room's description (a participant, a subscription, tiles) matches /openapi.json.
  const doc = (await (await fetch(`${baseUrl}/openapi.json`)).json()) as Record<string, unknown>;
  const res = await fetch(`${baseUrl}/rooms/lan`, { headers: { Accept: 'application/json' } });
  const room = await res.json();
  assert.is(room.participants.length, 1);
  assert.is(room.subscriptions.length, 1);
  assert.equal(validate(room, responseSchema(doc, 'GET', '/rooms/{room}', 200, 'application/json')!, doc), []);
});

loopback('operators get one JSON line per room open, join and leave (with the reason)', async (ctx) => {
  const pid = ctx.pub.participantId;
  const sid = ctx.sub.subscriptionId;
  await ctx.sub.close();
  await ctx.pub.close();
  const find = (msg: string, f: (l: any) => boolean = () => true) => logLines().find((l) => l.msg === msg && l.room === 'lan' && f(l));
  await waitFor(() => find('participant left', (l) => l.participant === pid), 5000, 'the participant-left line');
  await waitFor(() => find('room closed: empty'), 5000, 'the room-closed line');
  const created = find('room created: mixer started');
  assert.ok(created && created.capacity >= 4, JSON.stringify(created));
  // The mixer's FFmpeg process is named after its room.
  assert.ok(logLines().some((l) => l.msg === 'ffmpeg started' && /^lan#\d+$/.test(l.ffmpeg) && l.ffmpegPid > 0), 'the mixer\'s ffmpeg started line');
  assert.ok(find('participant joined', (l) => l.participant === pid && l.name === 'Red' && l.video === true));
  assert.ok(find('subscriber joined', (l) => l.subscription === sid && l.codec === 'vp8'));
  assert.is(find('subscriber left', (l) => l.subscription === sid)?.reason, 'ended by the client (DELETE)');
  assert.is(find('participant left', (l) => l.participant === pid)?.reason, 'ended by the client (DELETE)');
  for (const l of logLines()) assert.ok(l.level && l.time && l.msg, 'level, time and msg on every line');
});

loopback.run();

const exhausted = suite('an exhausted port range');
let small: RunningServer;
exhausted.before(async () => {
  const r = await freeRange(2);
  small = await startServer({ port: 0, host: '127.0.0.1', roomIdleMs: 300, demo: false, ice: { announcedIp: '127.0.0.1', portRange: r } });
});
exhausted.after(async () => {
  await small?.close();
});

exhausted('answers 503 problem+json once every port is taken, and adds no participant', async () => {
  const locations: string[] = [];
  let refused: Response | null = null;
  // One ICE socket per host address and peer connection: two ports last one or two sessions.
  for (let i = 0; i < 4 && !refused; i++) {
    const r = await post(`${small.url}/rooms/full/whip`, fx('gstreamer-vp8-opus'));
    if (r.status === 201) locations.push(r.headers.get('location')!);
    else refused = r;
  }
  assert.ok(refused, 'a session was refused');
  assert.is(refused!.status, 503);
  assert.match(refused!.headers.get('content-type') ?? '', /application\/problem\+json/);
  const body = await refused!.json();
  assert.match(body.detail, /ICE_UDP_PORT_MIN/);
  const room = await (await fetch(`${small.url}/rooms/full`)).json();
  assert.is(room.participants.length, locations.length);
  for (const l of locations) await fetch(new URL(l, small.url), { method: 'DELETE' });
  // Every JSON response of this file matched /openapi.json.
  assert.equal(logLines().filter((l) => /^response (does not match|check failed)/.test(l.msg)), []);
});

exhausted.run();
