// Inputs change: audio-only and video-only publishers, a resolution change mid-call, a
// publisher that stops sending. The composite never stops, and follows within a second.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startServer, type RunningServer } from '../../server/main.ts';
import { denoiseOff, startPublisher, startSubscriber, waitFor, type Publisher, type Subscriber } from '../helpers/peers.ts';
import { colorAt, colorDistance, type Rgb } from '../helpers/media.ts';

const RED: Rgb = [220, 30, 30];
const GREEN: Rgb = [30, 200, 30];
const room = 'e2e-inputs';

interface Ctx {
  server: RunningServer;
  sub: Subscriber;
  pubs: Publisher[];
  startedAt: number;
  /** What each test did when, for naming what a long gap followed. */
  marks: Array<{ what: string; at: number }>;
}
const test = suite<Ctx>('changing inputs');

test.before.each((ctx) => {
  ctx.marks?.push({ what: (ctx as any).__test__ ?? 'a test', at: performance.now() });
});

async function layout(ctx: Ctx) {
  return ((await (await fetch(`${ctx.server.url}/rooms/${room}`)).json()) as any).layout;
}

async function colourOf(ctx: Ctx, participantId: string): Promise<Rgb> {
  const tile = (await layout(ctx)).tiles.find((t: any) => t.participantId === participantId);
  assert.ok(tile, `a tile for ${participantId}`);
  return colorAt(ctx.sub.lastFrame()!, tile.video.x + tile.video.width / 2, tile.video.y + tile.video.height / 2, 6);
}

/** Gaps between decoded frames after `from`: the longest, and each over 100 ms with when it ended. */
function frameGaps(times: number[], from: number): { longest: number; over100: Array<{ ms: number; endedAt: number }> } {
  const w = times.filter((t) => t >= from);
  let longest = 0;
  const over100: Array<{ ms: number; endedAt: number }> = [];
  for (let i = 1; i < w.length; i++) {
    const g = w[i] - w[i - 1];
    longest = Math.max(longest, g);
    if (g > 100) over100.push({ ms: g, endedAt: w[i] });
  }
  return { longest, over100 };
}

test.before(async (ctx) => {
  ctx.server = await startServer({ port: 0, host: '127.0.0.1', roomIdleMs: 500 });
  ctx.pubs = [await startPublisher({ baseUrl: ctx.server.url, room, name: 'Red', color: RED, toneHz: 500 })];
  await denoiseOff(ctx.server.url, room);
  ctx.sub = await startSubscriber({ baseUrl: ctx.server.url, room });
  await ctx.sub.waitForFrames(15, 10_000);
  ctx.startedAt = performance.now();
  ctx.marks = [];
});

test.after(async (ctx) => {
  await ctx.sub?.close();
  for (const p of ctx.pubs ?? []) await p.close();
  await ctx.server?.close();
});

test('a new subscriber decodes its first frame within 1 s of its POST', async (ctx) => {
  const t0 = performance.now();
  const late = await startSubscriber({ baseUrl: ctx.server.url, room });
  try {
    await late.waitForFrames(1, 3000);
    const first = late.frameTimes[0] - t0;
    assert.ok(first < 1000, `first frame after ${first.toFixed(0)} ms`);
  } finally {
    await late.close();
  }
});

test('an audio-only publisher gets a tile (not black, not frozen) and is heard', async (ctx) => {
  const voice = await startPublisher({ baseUrl: ctx.server.url, room, name: 'Voice', color: null, toneHz: 800 });
  ctx.pubs.push(voice);
  await waitFor(async () => (await layout(ctx)).tiles.length === 2, 1000, 'two tiles');
  // Until the placeholder is drawn and the tone mixed in; the checks below say which did not.
  await waitFor(
    async () => colorDistance(await colourOf(ctx, voice.participantId), [0, 0, 0]) > 20 && ctx.sub.toneDb(800, 800) > -40,
    5000,
    'the placeholder tile and the tone',
  ).catch(() => {});
  const tile = await colourOf(ctx, voice.participantId);
  assert.ok(colorDistance(tile, [0, 0, 0]) > 20, `placeholder tile is not black: ${tile}`);
  assert.ok(colorDistance(await colourOf(ctx, ctx.pubs[0].participantId), RED) < 60, 'red still there');
  assert.ok(ctx.sub.toneDb(800, 800) > -40, 'the audio-only publisher is in the mix');
  const info = (await (await fetch(`${ctx.server.url}/rooms/${room}`)).json()) as any;
  const p = info.participants.find((x: any) => x.id === voice.participantId);
  assert.equal([p.audio, p.video], [true, false]);
});

test('a video-only publisher appears in its tile', async (ctx) => {
  const cam = await startPublisher({ baseUrl: ctx.server.url, room, name: 'Cam', color: GREEN, toneHz: null });
  ctx.pubs.push(cam);
  await waitFor(async () => colorDistance(await colourOf(ctx, cam.participantId), GREEN) < 60, 3000, 'green in its tile');
});

test('a resolution change mid-call keeps the picture in its tile, not stretched', async (ctx) => {
  const red = ctx.pubs[0];
  red.setResolution(320, 240);
  // Until the new size is decoded and drawn pillarboxed (the checks below say which is not).
  await waitFor(async () => {
    const j = (await (await fetch(`${ctx.server.url}/rooms/${room}`)).json()) as any;
    const p = j.participants.find((x: any) => x.id === red.participantId);
    const t = j.layout.tiles.find((x: any) => x.participantId === red.participantId);
    const edge = colorAt(ctx.sub.lastFrame()!, (t.cell.x + t.video.x) / 2, t.video.y + t.video.height / 2, 2);
    return p?.videoSize?.width === 320 && t.video.x - t.cell.x > 8 && colorDistance(edge, RED) > 100 && colorDistance(await colourOf(ctx, red.participantId), RED) < 60;
  }, 5000, 'the new size decoded and drawn pillarboxed').catch(() => {});
  const info = (await (await fetch(`${ctx.server.url}/rooms/${room}`)).json()) as any;
  const p = info.participants.find((x: any) => x.id === red.participantId);
  assert.equal(p.videoSize, { width: 320, height: 240 }, 'the server decodes the new size');
  assert.ok(colorDistance(await colourOf(ctx, red.participantId), RED) < 60, 'still red after the change');
  // 4:3 in a 16:9 cell is pillarboxed: the picture keeps its aspect, the cell's sides are background.
  const tile = (await layout(ctx)).tiles.find((t: any) => t.participantId === red.participantId);
  assert.ok(Math.abs(tile.video.width / tile.video.height - 4 / 3) < 0.03, `the picture is 4:3: ${JSON.stringify(tile.video)}`);
  assert.ok(tile.video.x - tile.cell.x > 8, 'room for bars beside it');
  const edge = colorAt(ctx.sub.lastFrame()!, (tile.cell.x + tile.video.x) / 2, tile.video.y + tile.video.height / 2, 2);
  assert.ok(colorDistance(edge, RED) > 100, `pillarbox at the edge: ${edge}`);
});

test('a publisher that stops sending keeps its last picture (sample-and-hold)', async (ctx) => {
  const cam = ctx.pubs[2];
  cam.pauseVideo();
  await new Promise((r) => setTimeout(r, 2000)); // not a wait for a condition: the picture must hold this long
  const held = await colourOf(ctx, cam.participantId);
  if (colorDistance(held, GREEN) >= 60) {
    // Say what the tile showed and what the server knew of the publisher then.
    const j = (await (await fetch(`${ctx.server.url}/rooms/${room}`)).json()) as any;
    const p = j.participants.find((x: any) => x.id === cam.participantId);
    const t = j.layout.tiles.find((x: any) => x.participantId === cam.participantId);
    assert.unreachable(`the paused tile shows ${held}, not green: participant ${JSON.stringify(p)}, tile ${JSON.stringify(t)}, mixer ${JSON.stringify(j.mixer)}, subscriber's last frame ${(performance.now() - ctx.sub.frameTimes.at(-1)!).toFixed(0)} ms ago`);
  }
  cam.resumeVideo();
});

// What this checks: the composite never stops (a mixer restart or a rebuilt pipeline costs a
// second or more). The longest gap comes at the video-only publisher's join (each long gap is
// printed with the test it ended in): the join starts the joiner's decoder FFmpeg, and Node's
// spawn forks the server's process on its event loop, 20-100 ms at 300-660 MB RSS on this VM
// (2026-11-27), while the publishers and this subscriber, in the same process, hold that loop
// 40-100 ms more at a time. A 200 ms bound failed 10 of 15 runs that day (202-371 ms). The
// frame gap at joins as a participant sees it (subscriber and publishers in their own
// processes) is e2e/frame-gap's and bench:frame-gap's, and the spawn stall is #15's open item.
test('through all of it the composite never stopped: no gap over 500 ms', async (ctx) => {
  const { longest, over100 } = frameGaps(ctx.sub.frameTimes, ctx.startedAt);
  // Each long gap with the test that was running when it ended (a join, a resolution change…).
  const during = (at: number) => [...ctx.marks].reverse().find((m) => m.at <= at)?.what ?? 'before the first test';
  const named = over100.map((g) => `${g.ms.toFixed(0)} ms at +${((g.endedAt - ctx.startedAt) / 1000).toFixed(1)} s (during "${during(g.endedAt)}")`);
  console.log(`  longest gap ${longest.toFixed(0)} ms; over 100 ms: ${named.join(', ') || 'none'}`);
  assert.ok(longest <= 500, `longest gap ${longest.toFixed(0)} ms; over 100 ms: ${named.join(', ')}`);
});

test.run();
