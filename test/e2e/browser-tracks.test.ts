// The room page in Chromium watches a room of three publishers (pre-encoded VP8, a colour each).
// By default (a browser that can take them) it uses individual tracks: one tile per occupied
// slot, each tile's video showing the colour of the participant the server's tracks-changed
// events put in it, the audio mix on its own element. With ?mode=mix it plays the one composite
// and shows no tiles. A page that joins with its (fake) camera gets everyone's tiles but its own.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startServer, type RunningServer } from '../../server/main.ts';
import { chromiumUnavailable, launchChromium } from '../helpers/browser.ts';
import { skip } from '../helpers/skip.ts';
import { docsScreenPath } from '../helpers/docsScreens.ts';
import { colorDistance, type Rgb } from '../helpers/media.ts';
import { videoFixture } from '../../bench/lib/fixtures.ts';
import { RtpPublisher } from '../../bench/lib/RtpPublisher.ts';

interface Ctx {
  server: RunningServer;
  browser: Browser;
  contexts: BrowserContext[];
  pubs: RtpPublisher[];
  /** Participant id → its colour. */
  colours: Map<string, Rgb>;
}
const room = 'browser-tracks';
const test = suite<Ctx>('browser-tracks');
const COLOURS: Array<[string, Rgb]> = [
  ['Red', [220, 40, 40]],
  ['Green', [40, 180, 40]],
  ['Blue', [40, 40, 220]],
];

async function openPage(ctx: Ctx, query: string, join: 'watch' | 'join', name = 'Viewer'): Promise<Page> {
  const context = await ctx.browser.newContext({ viewport: { width: 1400, height: 1000 } });
  ctx.contexts.push(context);
  const page = await context.newPage();
  page.on('pageerror', (e) => console.log(`  [${name}] page error: ${e.message}`));
  await page.goto(`${ctx.server.url}/rooms/${room}${query}`);
  await page.fill('#name', name);
  await page.click(`#${join}`);
  await page.waitForFunction(() => document.body.dataset.status === 'live', undefined, { timeout: 20_000 });
  return page;
}

/** The page's visible tiles: participant, caption, decoded size and frames, the colour at the picture's centre. */
function tilesOf(page: Page) {
  return page.evaluate(() =>
    [...document.querySelectorAll<HTMLElement>('#tiles figure.tile')]
      .filter((f) => !f.hidden)
      .map((f) => {
        const v = f.querySelector('video')!;
        let colour: number[] | null = null;
        if (v.videoWidth) {
          const c = document.createElement('canvas');
          c.width = v.videoWidth;
          c.height = v.videoHeight;
          const g = c.getContext('2d')!;
          g.drawImage(v, 0, 0);
          colour = Array.from(g.getImageData(Math.floor(v.videoWidth / 2), Math.floor(v.videoHeight * 0.6), 1, 1).data.slice(0, 3));
        }
        return { participant: f.dataset.participant!, caption: f.querySelector('figcaption')!.textContent, width: v.videoWidth, frames: v.getVideoPlaybackQuality().totalVideoFrames, colour };
      }),
  );
}

/** Waits until the page shows one tile per expected participant, each in that participant's colour. */
async function waitForTiles(ctx: Ctx, page: Page, expected: string[]) {
  const deadline = Date.now() + 20_000;
  let last: Awaited<ReturnType<typeof tilesOf>> = [];
  for (;;) {
    last = await tilesOf(page);
    const ok =
      last.length === expected.length &&
      expected.every((id) => {
        const t = last.find((x) => x.participant === id);
        return t?.colour && colorDistance(t.colour as Rgb, ctx.colours.get(id)!) < 60;
      });
    if (ok) return last;
    if (Date.now() > deadline) throw new Error(`tiles not as expected: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

test.before(async (ctx) => {
  if (chromiumUnavailable()) return skip(chromiumUnavailable()!);
  ctx.server = await startServer({ port: 0, host: '127.0.0.1', demo: false });
  ctx.contexts = [];
  ctx.pubs = [];
  ctx.colours = new Map();
  for (const [name, colour] of COLOURS) {
    const p = await RtpPublisher.whip(`${ctx.server.url}/rooms/${room}/whip?name=${name}`, await videoFixture(colour), null);
    ctx.pubs.push(p);
    ctx.colours.set(p.location.split('/').pop()!, colour);
  }
  ctx.browser = await launchChromium(['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', '--autoplay-policy=no-user-gesture-required']);
});

test.after(async (ctx) => {
  for (const c of ctx.contexts ?? []) await c.close().catch(() => {});
  await ctx.browser?.close();
  for (const p of ctx.pubs ?? []) await p.close();
  await ctx.server?.close();
});

test('by default the page takes individual tracks: a tile per participant, in their colours', async (ctx) => {
  const page = await openPage(ctx, '', 'watch');
  assert.is(await page.evaluate(() => document.body.dataset.mode), 'tracks');
  const ids = [...ctx.colours.keys()];
  const tiles = await waitForTiles(ctx, page, ids);
  await new Promise((r) => setTimeout(r, 1000));
  const later = await tilesOf(page);
  console.log(`  tiles: ${later.map((t) => `${t.caption} ${t.width}px rgb(${t.colour}) ${t.frames} frames`).join('; ')}`);
  for (const t of tiles) {
    const l = later.find((x) => x.participant === t.participant)!;
    assert.is(t.width, 640, 'each tile plays its publisher\'s own 640x360 video, not the composite');
    assert.ok(l.frames - t.frames >= 15, `${t.caption}: frames keep coming (${t.frames} → ${l.frames} in 1 s)`);
    assert.is(t.caption, COLOURS[ids.indexOf(t.participant)][0], 'the caption names the tile\'s participant');
  }
  assert.ok(await page.evaluate(() => !!document.getElementById('mix')!.hidden), 'no composite in tracks mode');
  const audio = await page.evaluate(() => ((document.getElementById('mix-audio') as HTMLAudioElement).srcObject as MediaStream | null)?.getAudioTracks().length ?? 0);
  assert.is(audio, 1, 'the audio mix plays on its own element');
  const shot = docsScreenPath('room-tracks.png');
  if (shot) await page.screenshot({ path: shot });
});

test('?mode=mix: one composite and no tiles', async (ctx) => {
  const page = await openPage(ctx, '?mode=mix', 'watch');
  assert.is(await page.evaluate(() => document.body.dataset.mode), 'mix');
  await page.waitForFunction(() => (document.getElementById('mix') as HTMLVideoElement).videoWidth === 1280, undefined, { timeout: 15_000 });
  const state = await page.evaluate(() => ({
    videos: [...document.querySelectorAll('video')].filter((v) => v.id !== 'self' && !v.closest('[hidden]')).length,
    tiles: document.querySelectorAll('#tiles figure').length,
  }));
  assert.equal(state, { videos: 1, tiles: 0 }, 'one composite video');
  const subs = ((await (await fetch(`${ctx.server.url}/rooms/${room}`)).json()) as any).subscriptions as any[];
  assert.ok(subs.some((s) => s.video === 'composite') && subs.some((s) => s.video === 'tracks'), 'a composite and a tracks subscription in the room');
});

test('a participant\'s page shows everyone else in tiles, not itself', async (ctx) => {
  const page = await openPage(ctx, '', 'join', 'Ada');
  const me = await page.evaluate(() => document.body.dataset.participant!);
  assert.ok(me, 'joined as a participant');
  assert.is(await page.evaluate(() => document.body.dataset.mode), 'tracks');
  await waitForTiles(ctx, page, [...ctx.colours.keys()]);
  const tiles = await tilesOf(page);
  assert.not.ok(tiles.some((t) => t.participant === me), 'its own video is not among its tiles');
});

test.run();
