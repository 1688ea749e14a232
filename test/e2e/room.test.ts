// The live room end to end, on loopback with real WebRTC peers: three publishers with a
// distinct colour and tone each, subscribers that decode the composite and the mix.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startServer, type RunningServer } from '../../server/main.ts';
import { denoiseOff, startPublisher, startSubscriber, waitFor, type Publisher, type Subscriber } from '../helpers/peers.ts';
import { colorAt, colorDistance } from '../helpers/media.ts';

const RED: [number, number, number] = [220, 30, 30];
const GREEN: [number, number, number] = [30, 200, 30];
const BLUE: [number, number, number] = [30, 30, 220];
const TONE = { A: 500, B: 800, C: 1300 };

interface Ctx {
  server: RunningServer;
  a: Publisher;
  b: Publisher;
  c: Publisher;
  subA: Subscriber;
  subAll: Subscriber;
}

const room = 'e2e-room';
const test = suite<Ctx>('live room');

async function roomJson(ctx: Ctx) {
  return (await fetch(`${ctx.server.url}/rooms/${room}`)).json() as Promise<any>;
}

function centre(tile: any): [number, number] {
  return [tile.video.x + tile.video.width / 2, tile.video.y + tile.video.height / 2];
}

/** Colour at the centre of each participant's tile in the subscriber's latest frame. */
async function tileColours(ctx: Ctx, sub: Subscriber) {
  const info = await roomJson(ctx);
  const frame = sub.lastFrame();
  assert.ok(frame, 'the subscriber has decoded a frame');
  assert.is(frame!.width, 1280);
  assert.is(frame!.height, 720);
  const out = new Map<string, [number, number, number]>();
  for (const t of info.layout.tiles) {
    const [x, y] = centre(t);
    out.set(t.participantId, colorAt(frame!, x, y, 6));
  }
  return out;
}

function maxGap(times: number[], from: number, to: number): number {
  const window = times.filter((t) => t >= from && t <= to);
  let gap = 0;
  for (let i = 1; i < window.length; i++) gap = Math.max(gap, window[i] - window[i - 1]);
  if (window.length) gap = Math.max(gap, window[0] - from, to - window[window.length - 1]);
  return window.length ? gap : to - from;
}

test.before(async (ctx) => {
  ctx.server = await startServer({ port: 0, host: '127.0.0.1', roomIdleMs: 500, demo: false });
  const baseUrl = ctx.server.url;
  ctx.a = await startPublisher({ baseUrl, room, name: 'Alice', color: RED, toneHz: TONE.A });
  ctx.b = await startPublisher({ baseUrl, room, name: 'Bob', color: GREEN, toneHz: TONE.B });
  ctx.c = await startPublisher({ baseUrl, room, name: 'Carol', color: BLUE, toneHz: TONE.C });
  await denoiseOff(baseUrl, room);
  ctx.subA = await startSubscriber({ baseUrl, room, participant: ctx.a.participantId });
  ctx.subAll = await startSubscriber({ baseUrl, room });
  await ctx.subA.waitForFrames(10, 10_000);
  await ctx.subAll.waitForFrames(10, 10_000);
});

test.after(async (ctx) => {
  for (const p of [ctx.subA, ctx.subAll, ctx.a, ctx.b, ctx.c]) await p?.close();
  await ctx.server?.close();
});

test('GET /rooms/{room} lists participants, subscriptions and the layout', async (ctx) => {
  const info = await roomJson(ctx);
  assert.is(info.participants.length, 3);
  const alice = info.participants.find((p: any) => p.id === ctx.a.participantId);
  assert.equal([alice.name, alice.audio, alice.video], ['Alice', true, true]);
  assert.is(info.subscriptions.length, 2);
  const linked = info.subscriptions.find((s: any) => s.id === ctx.subA.subscriptionId);
  assert.is(linked.participantId, ctx.a.participantId);
  assert.is(linked.audio, 'mix-minus');
  assert.is(info.layout.tiles.length, 3);
  assert.equal(info.layout.canvas, { width: 1280, height: 720 });
});

test('GET /rooms/{room} shows the mix timing and when each subscription connected and got its first video packet', async (ctx) => {
  const info = await roomJson(ctx);
  const t = info.mixer.timing;
  for (const k of ['videoTickLateMs', 'videoWriteToPacketMs', 'audioTickLateMs', 'audioWriteToPacketMs']) {
    assert.ok(t[k].n > 10, `${k} has samples: ${JSON.stringify(t[k])}`);
    // Generous: a loaded CI box; the point is that a live mix has figures and they are times, not garbage.
    assert.ok(t[k].p50 >= 0 && t[k].p50 < 1000 && t[k].max >= t[k].p50, `${k}: ${JSON.stringify(t[k])}`);
  }
  // Nothing waits in Node's sockets to the compositor while it keeps up.
  assert.ok(t.videoQueuedFrames.n > 10 && t.videoQueuedFrames.p50 < 1, `queued frames: ${JSON.stringify(t.videoQueuedFrames)}; the timing: ${JSON.stringify(t)}`);
  const s = info.subscriptions.find((x: any) => x.id === ctx.subAll.subscriptionId);
  const created = Date.parse(s.createdAt);
  const connected = Date.parse(s.connectedAt);
  const firstVideo = Date.parse(s.firstVideoPacketAt);
  assert.ok(created <= connected + 5 && connected <= firstVideo + 5 && firstVideo <= Date.now(), `created ${s.createdAt}, connected ${s.connectedAt}, first video ${s.firstVideoPacketAt}`);
});

test('a room made by its first publisher runs one mixer process throughout: no swap at the first join or the first watcher', async (ctx) => {
  // The WHIP that created the room started its mixer with the always-on rungs (Room.expectMember);
  // the first process still serves after three joins and two subscribers. (Before, the first
  // WHIP added the rungs to a room started without any: a second process replaced the first.)
  const info = await roomJson(ctx);
  assert.ok(info.mixer.rungs.length > 0, `rungs ${JSON.stringify(info.mixer.rungs)}`);
  assert.is(info.mixer.processesStarted, 1, `mixer processes started: ${JSON.stringify(info.mixer)}`);
  assert.is(info.mixer.epoch, 1, `the mixer's process epoch: ${JSON.stringify(info.mixer)}`);
});

test('a room nobody watches keeps one mixer running (no encoder, no restarts)', async () => {
  // Its own server: this suite's rooms close 500 ms after they empty.
  const server = await startServer({ port: 0, host: '127.0.0.1', roomIdleMs: 60_000, demo: false });
  try {
    const url = `${server.url}/rooms/unwatched`;
    const put = await fetch(url, { method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: '{}' });
    assert.ok(put.ok, `PUT ${put.status}`);
    const info = async () => (await (await fetch(url)).json()) as any;
    let first = await info();
    for (let i = 0; i < 100 && first.mixer.pid === null; i++) {
      await new Promise((r) => setTimeout(r, 100));
      first = await info();
    }
    await new Promise((r) => setTimeout(r, 2500));
    const later = await info();
    assert.equal(later.mixer.rungs, []);
    assert.is(later.mixer.restarts, 0, 'mixer restarts');
    assert.is(later.mixer.pid, first.mixer.pid, 'the same mixer process');
  } finally {
    await server.close();
  }
});

test('the composite shows every publisher in its grid cell', async (ctx) => {
  const expected = new Map([
    [ctx.a.participantId, RED],
    [ctx.b.participantId, GREEN],
    [ctx.c.participantId, BLUE],
  ]);
  const colours = await waitFor(async () => {
    const seen = await tileColours(ctx, ctx.subA);
    for (const [id, rgb] of expected) if (colorDistance(seen.get(id)!, rgb) > 60) return null;
    return seen;
  }, 8000, 'all three colours in their cells').catch(async (err) => {
    throw new Error(`${err.message}: saw ${JSON.stringify([...(await tileColours(ctx, ctx.subA))])}`);
  });
  assert.is(colours.size, 3);
});

test('mix-minus: the linked subscriber hears B and C but not A; the full mix has all three', async (ctx) => {
  await new Promise((r) => setTimeout(r, 1500));
  const a = ctx.subA.toneDb(TONE.A, 1000);
  const b = ctx.subA.toneDb(TONE.B, 1000);
  const c = ctx.subA.toneDb(TONE.C, 1000);
  assert.ok(b > -40 && c > -40, `B and C audible in A's mix-minus (B ${b.toFixed(1)} dB, C ${c.toFixed(1)} dB)`);
  assert.ok(a < Math.min(b, c) - 30, `A at least 30 dB below the others (A ${a.toFixed(1)}, B ${b.toFixed(1)}, C ${c.toFixed(1)})`);
  for (const [who, hz] of Object.entries(TONE)) {
    const level = ctx.subAll.toneDb(hz, 1000);
    assert.ok(level > -40, `${who} audible in the full mix (${level.toFixed(1)} dB)`);
  }
});

test('B leaves: two tiles within 2 s, and the video never pauses over 200 ms', async (ctx) => {
  const before = performance.now();
  await new Promise((r) => setTimeout(r, 300));
  const left = performance.now();
  await ctx.b.close();
  const info = await waitFor(async () => {
    const j = await roomJson(ctx);
    return j.layout.tiles.length === 2 ? j : null;
  }, 2000, 'the layout to drop to two tiles');
  const aTile = info.layout.tiles.find((t: any) => t.participantId === ctx.a.participantId);
  const cTile = info.layout.tiles.find((t: any) => t.participantId === ctx.c.participantId);
  await waitFor(() => {
    const f = ctx.subA.lastFrame()!;
    return colorDistance(colorAt(f, ...centre(aTile), 6), RED) < 60 && colorDistance(colorAt(f, ...centre(cTile), 6), BLUE) < 60;
  }, 2000 - (performance.now() - left), 'the composite to show A and C in the two-tile layout');
  await new Promise((r) => setTimeout(r, 1000));
  const gap = maxGap(ctx.subA.frameTimes, before, performance.now());
  assert.ok(gap <= 200, `longest frame gap across the leave: ${gap.toFixed(0)} ms`);
  const frame = ctx.subA.lastFrame()!;
  for (const t of info.layout.tiles) {
    assert.ok(colorDistance(colorAt(frame, ...centre(t), 6), GREEN) > 100, 'no trace of B');
  }
});

test('killing the mixer: media resumes to the same subscriber session within 3 s', async (ctx) => {
  const roomObj = ctx.server.rooms.get(room)!;
  const proc = roomObj.mixer.currentProcess!;
  const oldPid = proc.ffmpeg.pid;
  assert.ok(oldPid);
  const framesBefore = ctx.subA.frameCount();
  const killedAt = performance.now();
  proc.ffmpeg.kill('SIGKILL');
  await waitFor(() => roomObj.mixer.pid && roomObj.mixer.pid !== oldPid, 3000, 'a new mixer process');
  await waitFor(() => ctx.subA.frameTimes.some((t) => t > killedAt + 300), 3000, 'frames after the restart');
  const resumedAt = ctx.subA.frameTimes.find((t) => t > killedAt + 300)!;
  assert.ok(resumedAt - killedAt < 3000, `resumed after ${(resumedAt - killedAt).toFixed(0)} ms`);
  assert.ok(ctx.subA.frameCount() > framesBefore);
  const info = await roomJson(ctx);
  assert.ok(info.subscriptions.some((s: any) => s.id === ctx.subA.subscriptionId), 'the same WHEP session');
  assert.ok(info.mixer.restarts >= 1);
  // and the picture is right again
  await waitFor(async () => {
    const seen = await tileColours(ctx, ctx.subA);
    return colorDistance(seen.get(ctx.a.participantId)!, RED) < 60 && colorDistance(seen.get(ctx.c.participantId)!, BLUE) < 60;
  }, 3000, 'the composite after the restart');
  // and the mix-minus still excludes A
  await new Promise((r) => setTimeout(r, 1200));
  assert.ok(ctx.subA.toneDb(TONE.A, 800) < ctx.subA.toneDb(TONE.C, 800) - 30, 'mix-minus after the restart');
});

test.run();
