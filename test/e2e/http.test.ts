// Bad input never crashes the server: each case answers with its status and a message.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startServer, type RunningServer } from '../../server/main.ts';

const test = suite<{ server: RunningServer }>('http errors');

const base = ['v=0', 'o=- 1 2 IN IP4 127.0.0.1', 's=-', 't=0 0', 'a=fingerprint:sha-256 AA:BB', 'a=ice-ufrag:abcd', 'a=ice-pwd:0123456789abcdefghijkl'];
const sdp = (...sections: string[][]) => [...base, ...sections.flat()].join('\r\n') + '\r\n';
const dataOnly = sdp(['m=application 9 UDP/DTLS/SCTP webrtc-datachannel', 'a=sctp-port:5000']);
const vp9Recv = sdp(['m=video 9 UDP/TLS/RTP/SAVPF 98', 'a=rtpmap:98 VP9/90000', 'a=recvonly']);

async function post(url: string, body: string, type = 'application/sdp') {
  const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': type }, body });
  const text = await res.text();
  let json: any = null;
  try {
    json = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, json, headers: res.headers };
}

test.before(async (ctx) => {
  ctx.server = await startServer({ port: 0, host: '127.0.0.1', roomIdleMs: 200, demo: false });
});
test.after(async (ctx) => {
  await ctx.server.close();
});

test('OPTIONS advertises Accept-Post: application/sdp', async ({ server }) => {
  for (const kind of ['whip', 'whep']) {
    const res = await fetch(`${server.url}/rooms/r1/${kind}`, { method: 'OPTIONS' });
    assert.ok(res.status === 204 || res.status === 200);
    assert.is(res.headers.get('accept-post'), 'application/sdp');
  }
});

test('wrong content type → 415', async ({ server }) => {
  const r = await post(`${server.url}/rooms/r1/whip`, 'v=0', 'text/plain');
  assert.is(r.status, 415);
  assert.match(r.json.message, /application\/sdp/);
  const j = await post(`${server.url}/rooms/r1/whep`, '{}', 'application/json');
  assert.is(j.status, 415);
});

test('malformed SDP → 400 saying what is wrong', async ({ server }) => {
  let r = await post(`${server.url}/rooms/r1/whip`, 'hello');
  assert.is(r.status, 400);
  assert.match(r.json.message, /v=0/);
  r = await post(`${server.url}/rooms/r1/whip`, '');
  assert.is(r.status, 400);
  assert.match(r.json.message, /empty/);
  r = await post(`${server.url}/rooms/r1/whip`, 'v=0\r\nthis is not sdp\r\n');
  assert.is(r.status, 400);
  assert.match(r.json.message, /malformed SDP line/);
});

test('media-less SDP → 400', async ({ server }) => {
  const r = await post(`${server.url}/rooms/r1/whip`, dataOnly);
  assert.is(r.status, 400);
  assert.match(r.json.message, /no audio or video/);
  const s = await post(`${server.url}/rooms/r1/whep`, dataOnly);
  assert.is(s.status, 400);
});

test('a subscriber that decodes neither VP8 nor H.264 → 406 naming the codecs', async ({ server }) => {
  const r = await post(`${server.url}/rooms/r1/whep`, vp9Recv);
  assert.is(r.status, 406);
  assert.match(r.json.message, /VP8, H264/);
});

test('body over 64 KiB → 413', async ({ server }) => {
  const r = await post(`${server.url}/rooms/r1/whip`, 'v=0\r\n' + 'a=x\r\n'.repeat(14000));
  assert.is(r.status, 413);
  assert.match(r.json.message, /larger than/);
});

test('room names are validated → 400', async ({ server }) => {
  for (const bad of ['a%20b', 'x'.repeat(65), 'a.b', 'a*b', '%C3%A4']) {
    const r = await post(`${server.url}/rooms/${bad}/whip`, dataOnly);
    assert.is(r.status, 400, bad);
    assert.match(r.json.message, /room names/);
  }
});

test('unknown session on DELETE → 404', async ({ server }) => {
  let r = await fetch(`${server.url}/rooms/nosuchroom/whip/abc`, { method: 'DELETE' });
  assert.is(r.status, 404);
  assert.match((await r.json()).message, /does not exist/);
  // a room that exists, a session that does not
  const sub = await post(`${server.url}/rooms/r2/whep`, vp9Recv);
  assert.is(sub.status, 406);
  r = await fetch(`${server.url}/rooms/r2/whep/nope`, { method: 'DELETE' });
  assert.is(r.status, 404);
});

test('unknown participant in participant= → 404', async ({ server }) => {
  const r = await post(`${server.url}/rooms/r1/whep?participant=ghost`, vp9Recv);
  assert.is(r.status, 404);
  assert.match(r.json.message, /ghost/);
});

test('trickle ICE PATCH of an unknown session → 404; unknown route → 404 JSON; the server is still healthy', async ({ server }) => {
  const p = await fetch(`${server.url}/rooms/r1/whip/x`, { method: 'PATCH', headers: { 'Content-Type': 'application/trickle-ice-sdpfrag' }, body: 'a=x' });
  assert.is(p.status, 404);
  const n = await fetch(`${server.url}/nope`);
  assert.is(n.status, 404);
  assert.is((await n.json()).error, 'not_found');
  const h = await fetch(`${server.url}/healthz`);
  assert.is(h.status, 200);
});

test.run();
