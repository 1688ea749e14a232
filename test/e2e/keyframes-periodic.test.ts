// Keyframes every 2 s only for consumers that cannot ask (pipeline/mixer/keyframePolicy.ts): a
// subscriber whose offer has PLI gets its join keyframe and then only what it asks for (at most
// one more in 6 s, against three with a keyframe every 2 s); one that asks for
// ?keyframes=periodic (a recorder) gets one every 2 s; a bad value is a 400. Counted as the
// keyframes each subscriber receives, and in GET /rooms/{room} (mixer.keyframesByRung).

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startServer, type RunningServer } from '../../server/main.ts';
import { startPublisher, waitFor, type Publisher } from '../helpers/peers.ts';
import { startRtpSubscriber } from '../helpers/rtp-subscriber.ts';
import { KEYFRAME_INTERVAL_MS } from '../../pipeline/mixer/keyframePolicy.ts';

const room = 'e2e-keyframes';
interface Ctx {
  server: RunningServer;
  pub: Publisher;
}
const test = suite<Ctx>('keyframes-periodic');
const info = async (ctx: Ctx) => (await (await fetch(`${ctx.server.url}/rooms/${room}`)).json()) as any;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test.before(async (ctx) => {
  ctx.server = await startServer({ port: 0, host: '127.0.0.1' });
  ctx.pub = await startPublisher({ baseUrl: ctx.server.url, room, name: 'Green', color: [30, 200, 30], toneHz: 600 });
});
test.after(async (ctx) => {
  await ctx.pub?.close();
  await ctx.server?.close();
});

test('a subscriber that can send PLIs gets no keyframe it did not ask for; ?keyframes=periodic gets one every 2 s', async (ctx) => {
  const asks = await startRtpSubscriber(`${ctx.server.url}/rooms/${room}/whep?level=720p`, 'VP8');
  try {
    await waitFor(() => asks.keyframeTimes.length > 0 && asks.videoPackets() > 100, 15_000, 'the join keyframe and video');
    const s = (await info(ctx)).subscriptions.find((x: any) => asks.location.endsWith(`/${x.id}`));
    assert.is(s?.periodicKeyframes, false, JSON.stringify(s));
    await sleep(1000); // joins settle (the publisher's own layout, the rung's start)
    const before = asks.keyframeTimes.length;
    const forcedBefore = (await info(ctx)).mixer.keyframesByRung['720p'] ?? 0;
    await sleep(3 * KEYFRAME_INTERVAL_MS);
    // The old policy sends 3 here. One is tolerated: a loaded machine can lose a packet (the
    // client's own PLI) or have the mixer replaced (a new process starts on a keyframe).
    const unasked = asks.keyframeTimes.length - before;
    assert.ok(unasked <= 1, `${unasked} unasked keyframes in ${3 * KEYFRAME_INTERVAL_MS} ms`);
    assert.ok(((await info(ctx)).mixer.keyframesByRung['720p'] ?? 0) - forcedBefore <= 1, 'forced on 720p unasked');
    // It still gets one when it asks.
    const asked = asks.keyframeTimes.length;
    asks.sendPli();
    await waitFor(() => asks.keyframeTimes.length > asked, 2000, 'the keyframe answering a PLI');

    const periodic = await startRtpSubscriber(`${ctx.server.url}/rooms/${room}/whep?level=720p&keyframes=periodic`, 'VP8');
    try {
      await waitFor(() => periodic.keyframeTimes.length > 0, 15_000, 'the join keyframe');
      const p = (await info(ctx)).subscriptions.find((x: any) => periodic.location.endsWith(`/${x.id}`));
      assert.is(p?.periodicKeyframes, true, JSON.stringify(p));
      const n = periodic.keyframeTimes.length;
      await sleep(3 * KEYFRAME_INTERVAL_MS + 500);
      const got = periodic.keyframeTimes.length - n;
      assert.ok(got >= 2 && got <= 4, `${got} keyframes in ${3 * KEYFRAME_INTERVAL_MS + 500} ms with ?keyframes=periodic`);
    } finally {
      await periodic.close();
    }
  } finally {
    await asks.close();
  }
});

test('?keyframes= anything but "periodic" is a 400 and leaves no session', async (ctx) => {
  const before = (await info(ctx)).subscriptions.length;
  const res = await fetch(`${ctx.server.url}/rooms/${room}/whep?keyframes=always`, { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: 'v=0\r\n' });
  assert.is(res.status, 400);
  assert.match(await res.text(), /keyframes/);
  assert.is((await info(ctx)).subscriptions.length, before);
});

test.run();
