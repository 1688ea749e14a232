// The ingest with what users bring: camera sizes and aspects from 160x120 to portrait
// 1080x1920 (and a mid-call change), each checked by content in its tile in fit and crop;
// H.264 publishers (constrained baseline and high, packetization-mode 0 and 1) with their
// audio in the mix; trickle ICE and ICE restarts over PATCH; liveness (a killed client, a
// client that never connects, one that stops sending).

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { startServer, type RunningServer } from '../../server/main.ts';
import { denoiseOff, startSubscriber, waitFor, type Subscriber } from '../helpers/peers.ts';
import { colorAt, colorDistance, type Rgb } from '../helpers/media.ts';
import { EncodedPublisher, patternVideo, type H264Variant } from '../helpers/encoded.ts';

const PAIRS: Array<[Rgb, Rgb]> = [
  [[220, 30, 30], [40, 200, 210]],
  [[30, 200, 30], [200, 40, 200]],
  [[30, 30, 220], [230, 220, 40]],
];

interface Ctx {
  server: RunningServer;
}
const test = suite<Ctx>('ingest');

test.before(async (ctx) => {
  process.env.PUBLISHER_STALLED_REMOVE_MS = '2000';
  ctx.server = await startServer({ port: 0, host: '127.0.0.1', roomIdleMs: 500, demo: false } as any);
});

test.after(async (ctx) => {
  await ctx.server?.close();
});

const roomJson = async (ctx: Ctx, room: string) => (await fetch(`${ctx.server.url}/rooms/${room}`)).json() as Promise<any>;

/** Problems with one participant's tile in the subscriber's latest frame ([] = it looks right). */
async function tileProblems(ctx: Ctx, room: string, sub: Subscriber, id: string, [a, b]: [Rgb, Rgb]): Promise<string[]> {
  const info = await roomJson(ctx, room);
  const t = info.layout.tiles.find((x: any) => x.participantId === id);
  const frame = sub.lastFrame();
  if (!t || !frame) return ['no tile or no frame yet'];
  const v = t.video;
  const at = (fx: number, fy: number) => colorAt(frame, v.x + v.width * fx, v.y + v.height * fy, 2);
  const problems: string[] = [];
  const want = (c: Rgb, exp: Rgb, what: string) => colorDistance(c, exp) > 70 && problems.push(`${what}: ${c} (want ${exp})`);
  want(at(0.25, 0.5), a, 'left half');
  want(at(0.75, 0.5), b, 'right half');
  // The picture reaches its edges: no bars inside the picture area (fit) or the tile (crop).
  want(at(0.06, 0.06), a, 'top-left corner');
  want(at(0.94, 0.94), b, 'bottom-right corner');
  if (info.layout.fit === 'fit') {
    // Letterboxed in its cell, not stretched: beside the picture (when there is room) is background.
    const c = t.cell;
    if (v.x - c.x > 16) {
      const side = colorAt(frame, c.x + (v.x - c.x) / 2, c.y + c.height / 2, 2);
      if (colorDistance(side, a) < 70) problems.push(`the bar left of the picture shows the picture: ${side}`);
    }
    if (v.y - c.y > 16) {
      const top = colorAt(frame, v.x + v.width / 2, c.y + (v.y - c.y) / 2, 2);
      if (colorDistance(top, a) < 70 || colorDistance(top, b) < 70) problems.push(`the bar above the picture shows the picture: ${top}`);
    }
  } else if (v.width !== t.cell.width || v.height !== t.cell.height) problems.push('crop: the picture does not fill its tile');
  return problems;
}

async function expectTiles(ctx: Ctx, room: string, sub: Subscriber, pubs: Array<{ id: string; pair: [Rgb, Rgb]; what: string }>, ms: number) {
  let last: string[] = [];
  await waitFor(async () => {
    last = [];
    for (const p of pubs) for (const problem of await tileProblems(ctx, room, sub, p.id, p.pair)) last.push(`${p.what}: ${problem}`);
    return last.length === 0;
  }, ms, 'every picture right in its tile').catch((err) => {
    throw new Error(`${err.message}: ${last.join('; ')}`);
  });
}

const setFit = (ctx: Ctx, room: string, fit: 'fit' | 'crop') =>
  fetch(`${ctx.server.url}/rooms/${room}`, { method: 'PATCH', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ fit }) });

test('every camera size and aspect appears right in its tile, in fit and in crop, and follows a mid-call change', async (ctx) => {
  const room = 'e2e-ingest-sizes';
  const sizes: Array<[number, number]> = [[160, 120], [640, 480], [1280, 720], [1080, 1920], [1920, 1080], [642, 362]];
  const pubs: Array<{ pub: EncodedPublisher; id: string; pair: [Rgb, Rgb]; what: string }> = [];
  const sub = await startSubscriber({ baseUrl: ctx.server.url, room });
  try {
    for (const [i, [w, h]] of sizes.entries()) {
      const pair = PAIRS[i % PAIRS.length];
      const pub = await EncodedPublisher.start({ whipUrl: `${ctx.server.url}/rooms/${room}/whip?name=${w}x${h}`, video: await patternVideo(w, h, ...pair), audio: false });
      pubs.push({ pub, id: pub.participantId, pair, what: `${w}x${h}` });
    }
    await expectTiles(ctx, room, sub, pubs, 8000);
    const info = await roomJson(ctx, room);
    for (const p of pubs) {
      const part = info.participants.find((x: any) => x.id === p.id);
      assert.equal(`${part.videoSize.width}x${part.videoSize.height}`, p.what, 'the server knows the size sent');
    }
    // Each step waits up to 10 s: on this 2-core box six decoders and the 8-slot mixer
    // occasionally starve the mixer into its frozen-output restart (3 s + a restart).
    assert.is((await setFit(ctx, room, 'crop')).status, 200);
    await expectTiles(ctx, room, sub, pubs, 10_000);
    // Mid-call: the 640x480 camera turns portrait, then back to 4:3.
    const changing = pubs[1];
    changing.pub.setVideo(await patternVideo(1080, 1920, ...changing.pair));
    changing.what = '640x480 → 1080x1920';
    await expectTiles(ctx, room, sub, pubs, 10_000);
    assert.is((await setFit(ctx, room, 'fit')).status, 200);
    await expectTiles(ctx, room, sub, pubs, 10_000);
    changing.pub.setVideo(await patternVideo(640, 480, ...changing.pair));
    await expectTiles(ctx, room, sub, pubs, 10_000);
    const stats = (await (await fetch(`${ctx.server.url}/stats?fresh=1`)).json()) as any;
    const st = stats.rooms.find((r: any) => r.name === room).participants.find((p: any) => p.id === changing.id).ingest;
    assert.is(st.video.decoderRestarts, 0, 'a resolution change does not restart the decoder');
  } finally {
    await sub.close();
    for (const p of pubs) await p.pub.close();
  }
});

test('H.264 publishers (constrained baseline and high, packetization-mode 1 and 0) are mixed, picture and audio', async (ctx) => {
  const room = 'e2e-ingest-h264';
  const variants: H264Variant[] = [
    { profile: 'baseline', mode: 1 },
    { profile: 'baseline', mode: 0 },
    { profile: 'high', mode: 1 },
    { profile: 'high', mode: 0 },
  ];
  const pubs: Array<{ pub: EncodedPublisher; id: string; pair: [Rgb, Rgb]; what: string }> = [];
  const sub = await startSubscriber({ baseUrl: ctx.server.url, room });
  try {
    for (const [i, v] of variants.entries()) {
      const pair = PAIRS[i % PAIRS.length];
      const pub = await EncodedPublisher.start({ whipUrl: `${ctx.server.url}/rooms/${room}/whip`, video: await patternVideo(640, 360, ...pair, v), audio: i === 0 });
      pubs.push({ pub, id: pub.participantId, pair, what: `${v.profile} mode ${v.mode}` });
    }
    await expectTiles(ctx, room, sub, pubs, 8000);
    await denoiseOff(ctx.server.url, room);
    await waitFor(() => sub.toneDb(600, 800) > -35, 3000, 'the H.264 publisher\'s audio (600 Hz) in the mix');
    const stats = (await (await fetch(`${ctx.server.url}/stats?fresh=1`)).json()) as any;
    for (const p of stats.rooms.find((r: any) => r.name === room).participants) assert.is(p.ingest.video.codec, 'h264');
  } finally {
    await sub.close();
    for (const p of pubs) await p.pub.close();
  }
});

test('trickle ICE: an offer without candidates connects on PATCHed ones; If-Match is enforced when sent and for restarts; an ICE restart answers a fragment', async (ctx) => {
  const room = 'e2e-ingest-trickle';
  const pair = PAIRS[0];
  const sub = await startSubscriber({ baseUrl: ctx.server.url, room });
  const pub = await EncodedPublisher.start({ whipUrl: `${ctx.server.url}/rooms/${room}/whip`, video: await patternVideo(640, 360, ...pair), trickle: true });
  try {
    assert.equal(pub.patches, [204]);
    await expectTiles(ctx, room, sub, [{ id: pub.participantId, pair, what: 'trickled' }], 8000);
    const patch = (headers: Record<string, string>, body: string) =>
      fetch(pub.location, { method: 'PATCH', headers: { 'Content-Type': 'application/trickle-ice-sdpfrag', ...headers }, body });
    const cand = 'a=candidate:1 1 udp 2130706431 127.0.0.1 9 typ host\r\n';
    assert.is((await patch({}, cand)).status, 204, 'candidates without If-Match (npm whip-whep\'s WHEPClient sends none)');
    assert.is((await patch({}, 'a=ice-ufrag:rst0\r\na=ice-pwd:0123456789abcdefghijkl\r\n')).status, 428, 'If-Match required for a restart');
    assert.is((await patch({ 'If-Match': '"nope"' }, cand)).status, 412, 'a stale ETag');
    assert.is((await fetch(pub.location, { method: 'PATCH', headers: { 'Content-Type': 'text/plain', 'If-Match': pub.etag }, body: cand })).status, 415);
    assert.is((await patch({ 'If-Match': pub.etag }, 'garbage')).status, 400);
    const restart = await patch({ 'If-Match': '*' }, 'a=ice-ufrag:rst1\r\na=ice-pwd:0123456789abcdefghijkl\r\n');
    assert.is(restart.status, 200);
    assert.is(restart.headers.get('content-type')?.split(';')[0], 'application/trickle-ice-sdpfrag');
    const frag = await restart.text();
    assert.match(frag, /a=ice-ufrag:\S+/);
    assert.match(frag, /a=ice-pwd:\S+/);
    assert.match(frag, /a=candidate:/);
    assert.ok(restart.headers.get('etag') && restart.headers.get('etag') !== pub.etag, 'a new ETag');
    assert.is((await patch({ 'If-Match': pub.etag }, cand)).status, 412, 'the old ETag is stale now');
    assert.is((await patch({ 'If-Match': restart.headers.get('etag')! }, cand)).status, 204);
  } finally {
    await pub.close();
    await sub.close();
  }
});

test('a decoder killed mid-call is replaced, the publisher asked for a keyframe, the picture comes back', async (ctx) => {
  const room = 'e2e-ingest-decoder-death';
  const pair = PAIRS[2];
  const sub = await startSubscriber({ baseUrl: ctx.server.url, room });
  const pub = await EncodedPublisher.start({ whipUrl: `${ctx.server.url}/rooms/${room}/whip`, video: await patternVideo(1280, 720, ...pair) });
  try {
    await expectTiles(ctx, room, sub, [{ id: pub.participantId, pair, what: '720p' }], 8000);
    const ingest = ctx.server.rooms.get(room)!.participants.get(pub.participantId)!.ingest;
    const decoder = ingest.video!.decoder;
    const pid = decoder.pid;
    const plis = ingest.pliSent;
    decoder.process!.kill('SIGKILL');
    await waitFor(() => decoder.pid && decoder.pid !== pid && decoder.stats.framesOut > 0, 6000, 'a new decoder process with frames');
    assert.ok(ingest.pliSent > plis, 'a keyframe was asked for');
    assert.is(decoder.stats.restarts, 1);
    assert.match(decoder.stats.lastExit ?? '', /SIGKILL/);
    const framesBefore = ingest.framesIn;
    await waitFor(() => ingest.framesIn > framesBefore + 20, 4000, 'frames again');
    await expectTiles(ctx, room, sub, [{ id: pub.participantId, pair, what: '720p after the restart' }], 3000);
  } finally {
    await pub.close();
    await sub.close();
  }
});

test('a WHEP offer with a bundle-only video section gets video', async (ctx) => {
  const room = 'e2e-ingest-whep-bundle-only';
  const pub = await EncodedPublisher.start({ whipUrl: `${ctx.server.url}/rooms/${room}/whip`, video: await patternVideo(640, 360, ...PAIRS[0]) });
  const { RTCPeerConnection: WeriftPc } = await import('werift');
  const pc = new WeriftPc();
  try {
    const video = pc.addTransceiver('video', { direction: 'recvonly' });
    pc.addTransceiver('audio', { direction: 'recvonly' });
    let packets = 0;
    video.onTrack.subscribe((track) => track.onReceiveRtp.subscribe(() => packets++));
    await pc.setLocalDescription(await pc.createOffer());
    await new Promise((r) => setTimeout(r, 500));
    // The video section as GStreamer writes bundled sections: port 0 + a=bundle-only.
    const sections = pc.localDescription!.sdp.split(/\r\n(?=m=)/);
    const offer = sections.map((sec) => (sec.startsWith('m=video') ? sec.replace(/^m=video \d+/, 'm=video 0').replace(/\r\na=mid:/, '\r\na=bundle-only\r\na=mid:') : sec)).join('\r\n');
    assert.match(offer, /m=video 0 [\s\S]*a=bundle-only/);
    const res = await fetch(`${ctx.server.url}/rooms/${room}/whep`, { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: offer });
    const answer = await res.text();
    assert.is(res.status, 201, answer);
    assert.match(answer, /m=video [1-9]/, 'the answer takes the video section');
    await pc.setRemoteDescription({ type: 'answer', sdp: answer });
    await waitFor(() => packets > 30, 8000, 'video packets on the bundle-only section');
    await fetch(new URL(res.headers.get('location')!, ctx.server.url), { method: 'DELETE' });
  } finally {
    await pc.close();
    await pub.close();
  }
});

test('liveness: a killed publisher is gone within 5 s; one that never connects within 15 s; one that stops sending is stalled, then removed', async (ctx) => {
  const room = 'e2e-ingest-liveness';
  const gone = async (id: string | undefined) => !(await roomJson(ctx, room)).participants?.some((p: any) => p.id === id);
  // A publisher in its own process, killed with SIGKILL (no DELETE, no goodbye).
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/publish-cli.ts', `${ctx.server.url}/rooms/${room}/whip?name=killed`], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  const killedId = await waitFor(() => /participant (\S+)/.exec(out)?.[1], 20_000, 'the child publisher');
  await waitFor(async () => (await roomJson(ctx, room)).participants?.some((p: any) => p.id === killedId && p.framesIn > 0), 5000, 'its frames');
  child.kill('SIGKILL');
  const killedAt = performance.now();
  await waitFor(() => gone(killedId), 7000, 'the killed publisher removed');
  const goneMs = performance.now() - killedAt;
  console.log(`  killed publisher removed after ${goneMs.toFixed(0)} ms`);
  assert.ok(goneMs < 5000, `removed after ${goneMs.toFixed(0)} ms`);

  // An offer whose client never does ICE: its slot is released after 15 s.
  const ghost = await EncodedPublisher.start({ whipUrl: `${ctx.server.url}/rooms/${room}/whip?name=keep`, video: await patternVideo(320, 180, ...PAIRS[1]) });
  const offer = ghost.pc.localDescription!.sdp.replace(/a=ice-ufrag:\S+/g, 'a=ice-ufrag:ghst').replace(/a=candidate:.*\r\n/g, '');
  const res = await fetch(`${ctx.server.url}/rooms/${room}/whip?name=ghost`, { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: offer });
  assert.is(res.status, 201);
  const ghostId = res.headers.get('location')!.split('/').pop();
  const postedAt = performance.now();
  // The ghost's 15 s and the real publisher's stall (10 s, then removed 2 s later) run at once.
  const ghostRemoved = (async () => {
    await new Promise((r) => setTimeout(r, 14_000 - (performance.now() - postedAt)));
    assert.ok(!(await gone(ghostId)), 'still there at 14 s');
    await waitFor(() => gone(ghostId), 3000, 'the ghost removed after 15 s');
  })();
  // The real publisher stops sending media (its connection stays up): stalled at 10 s, removed 2 s later.
  const stalledRemoved = (async () => {
    await waitFor(async () => (await roomJson(ctx, room)).participants.find((p: any) => p.id === ghost.participantId)?.framesIn > 0, 10_000, 'the publisher\'s frames');
    (ghost as any).closed = true; // stops the pacing loop, keeps the peer connection
    const stoppedAt = performance.now();
    await waitFor(async () => (await roomJson(ctx, room)).participants.find((p: any) => p.id === ghost.participantId)?.stalled, 13_000, 'stalled');
    const stalledMs = performance.now() - stoppedAt;
    assert.ok(stalledMs > 9000, `stalled after ${stalledMs.toFixed(0)} ms`);
    await waitFor(() => gone(ghost.participantId), 4000, 'the stalled publisher removed');
  })();
  const results = await Promise.allSettled([ghostRemoved, stalledRemoved]);
  await ghost.pc.close();
  for (const r of results) if (r.status === 'rejected') throw r.reason;
});

test.run();
