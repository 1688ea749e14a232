// The fast WHEP send path (native/srtpfan, server/rtc/FastSend.ts): a libwebrtc subscriber
// whose RTP the addon protects and sends decodes the composite (colour of the publisher's
// tile), and a packet the server drops on purpose comes back when the subscriber NACKs it.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startServer, type RunningServer } from '../../server/main.ts';
import { fastSendAddon, fastSendUnavailable } from '../../server/rtc/FastSend.ts';
import { SyntheticPublisher } from '../../workers/clients/webrtc.ts';
import { startSubscriber, waitFor, type Publisher, type Subscriber } from '../helpers/peers.ts';
import { colorAt, colorDistance, type Rgb } from '../helpers/media.ts';
import { skip } from '../helpers/skip.ts';

const RED: Rgb = [220, 30, 30];
const room = 'fast-egress';

interface Ctx {
  server: RunningServer;
  pub: Publisher;
  sub: Subscriber;
}
const test = suite<Ctx>('fast-egress');

test.before(async (ctx) => {
  if (!fastSendAddon()) return skip(`the fast send path is off: ${fastSendUnavailable}`);
  ctx.server = await startServer({
    port: 0,
    host: '127.0.0.1',
    roomIdleMs: 500,
    demo: false,
    limits: { maxRooms: 4, maxParticipantsPerRoom: 4, maxSubscribersPerRoom: 10, sessionsPerSecPerClient: 100, sessionBurstPerClient: 100 },
  });
  ctx.pub = await SyntheticPublisher.start({ whipUrl: `${ctx.server.url}/rooms/${room}/whip?name=red`, color: RED, toneHz: 440 });
});

test.after(async (ctx) => {
  await ctx.sub?.close();
  await ctx.pub?.close();
  await ctx.server?.close();
});

const egress = (ctx: Ctx) => [...(ctx.server.rooms.get(room)?.subscriptions.values() ?? [])][0]?.egress;

/** The colour at the centre of the publisher's tile in the subscriber's latest frame. */
async function tileColour(ctx: Ctx): Promise<Rgb | null> {
  const frame = ctx.sub.lastFrame();
  if (!frame) return null;
  const d = (await (await fetch(`${ctx.server.url}/rooms/${room}`)).json()) as any;
  const t = d.layout.tiles[0]?.video;
  if (!t) return null;
  return colorAt(frame, ((t.x + t.width / 2) * frame.width) / 1280, ((t.y + t.height / 2) * frame.height) / 720, 6);
}

test('a subscriber on the fast path decodes the composite', async (ctx) => {
  ctx.sub = await startSubscriber({ baseUrl: ctx.server.url, room });
  const e = await waitFor(() => (egress(ctx)?.sendPath === 'fast' ? egress(ctx) : null), 20_000, 'the subscriber on the fast path');
  await waitFor(() => ctx.sub.frameCount() > 30, 30_000, '30 decoded frames');
  const colour = await waitFor(async () => {
    const c = await tileColour(ctx);
    return c && colorDistance(c, RED) < 60 ? c : null;
  }, 15_000, 'the red tile in the decoded composite').catch(async (err: Error) => {
    // What the room saw (a placeholder-coloured tile once showed here for 20 s on a loaded run).
    const d = (await (await fetch(`${ctx.server.url}/rooms/${room}`)).json()) as any;
    const seen = { colour: await tileColour(ctx), participants: d.participants?.map((p: any) => ({ decode: p.decode, video: p.video })), mixer: d.mixer };
    throw new Error(`${err.message}; the room: ${JSON.stringify(seen).slice(0, 3000)}`);
  });
  assert.ok(colorDistance(colour, RED) < 60, `tile colour ${colour}`);
  assert.ok(e.video!.packets > 30, 'video packets forwarded');
  assert.is(e.video!.fast!.stats().protectErrors, 0);
  assert.ok(e.video!.fast!.stats().sent > 30, 'packets sent by the addon');
});

test('a packet dropped on the fast path is resent when the subscriber NACKs it', async (ctx) => {
  const v = egress(ctx)!.video!;
  // Drop one packet in the middle of the stream (not the first of a burst: a NACK needs a later one).
  await waitFor(() => v.packets > 100, 10_000, '100 packets');
  v.dropForTest = 1;
  await waitFor(() => v.droppedForTest.length > 0, 5000, 'a dropped packet');
  const seq = v.droppedForTest[0];
  await waitFor(() => v.retransmittedSeqs.includes(seq), 10_000, `a NACK for ${seq} and its retransmission`);
  const framesBefore = ctx.sub.frameCount();
  await waitFor(() => ctx.sub.frameCount() > framesBefore + 30, 15_000, 'decoding carries on');
  const colour = await tileColour(ctx);
  assert.ok(colour && colorDistance(colour, RED) < 60, `tile colour after the drop ${colour}`);
});

test.run();
