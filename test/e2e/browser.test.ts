// Two people join one room from Chromium (fake camera and microphone): each sees the composite,
// leaves are reflected, and muting stops that person's audio in the other's mix. The pages use
// ?mode=mix (Chromium would take individual tracks by default: e2e/browser-tracks).

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startServer, type RunningServer } from '../../server/main.ts';
import { chromiumUnavailable, launchChromium } from '../helpers/browser.ts';
import { skip } from '../helpers/skip.ts';
import { docsScreenPath } from '../helpers/docsScreens.ts';
import { waitFor } from '../helpers/peers.ts';

interface Ctx {
  server: RunningServer;
  browser: Browser;
  contexts: BrowserContext[];
  a: Page;
  b: Page;
}
const room = 'browser-room';
const test = suite<Ctx>('browser');

async function openPage(ctx: Ctx, name: string): Promise<Page> {
  const context = await ctx.browser.newContext({ viewport: { width: 1400, height: 1000 } });
  ctx.contexts.push(context);
  const page = await context.newPage();
  page.on('pageerror', (e) => console.log(`  [${name}] page error: ${e.message}`));
  await page.goto(`${ctx.server.url}/rooms/${room}?mode=mix`);
  await page.fill('#name', name);
  await page.click('#join');
  return page;
}

/** Frame and pixel probes inside the page: decoded frames, and colours of the mix video. */
async function probe(page: Page, points: Array<[number, number]>) {
  return page.evaluate((pts) => {
    const v = document.getElementById('mix') as HTMLVideoElement;
    const c = document.createElement('canvas');
    c.width = v.videoWidth;
    c.height = v.videoHeight;
    const g = c.getContext('2d')!;
    g.drawImage(v, 0, 0);
    const colours = pts.map(([x, y]) => Array.from(g.getImageData(x, y, 1, 1).data.slice(0, 3)));
    return { width: v.videoWidth, height: v.videoHeight, frames: v.getVideoPlaybackQuality().totalVideoFrames, colours };
  }, points);
}

const isBackground = (c: number[]) => Math.abs(c[0] - 32) + Math.abs(c[1] - 32) + Math.abs(c[2] - 32) < 30;

/** Starts measuring the loudness of the received mix in the page (max RMS per window). */
async function startLevelMeter(page: Page) {
  await page.evaluate(() => {
    const v = document.getElementById('mix') as HTMLVideoElement;
    const ac = new AudioContext();
    const src = ac.createMediaStreamSource(v.srcObject as MediaStream);
    const an = ac.createAnalyser();
    an.fftSize = 2048;
    src.connect(an);
    const buf = new Float32Array(an.fftSize);
    (window as any).__levels = [];
    setInterval(() => {
      an.getFloatTimeDomainData(buf);
      let s = 0;
      for (const x of buf) s += x * x;
      (window as any).__levels.push(Math.sqrt(s / buf.length));
    }, 50);
  });
}
const maxLevel = (page: Page, lastN: number) =>
  page.evaluate((n) => Math.max(0, ...((window as any).__levels as number[]).slice(-n)), lastN);

test.before(async (ctx) => {
  if (chromiumUnavailable()) return skip(chromiumUnavailable()!);
  ctx.server = await startServer({ port: 0, host: '127.0.0.1' });
  ctx.browser = await launchChromium(['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', '--autoplay-policy=no-user-gesture-required']);
  ctx.contexts = [];
  ctx.a = await openPage(ctx, 'Alice');
  ctx.b = await openPage(ctx, 'Bob');
});

test.after(async (ctx) => {
  for (const c of ctx.contexts ?? []) await c.close().catch(() => {});
  await ctx.browser?.close();
  await ctx.server?.close();
});

test('both pages play the 1280x720 composite, frames keep coming, two tiles', async (ctx) => {
  for (const page of [ctx.a, ctx.b]) {
    await page.waitForFunction(() => document.body.dataset.status === 'live', undefined, { timeout: 20_000 });
    await page.waitForFunction(() => (document.getElementById('mix') as HTMLVideoElement).videoWidth === 1280, undefined, { timeout: 15_000 });
  }
  const first = await probe(ctx.a, []);
  await new Promise((r) => setTimeout(r, 1500));
  const later = await probe(ctx.a, []);
  assert.is(later.width, 1280);
  assert.is(later.height, 720);
  assert.ok(later.frames - first.frames > 20, `frames decoded keep increasing (${first.frames} → ${later.frames})`);
  // Two tiles side by side, letterboxed: background above them, pictures at their centres.
  await waitFor(async () => {
    const p = await probe(ctx.a, [[320, 360], [960, 360], [640, 60]]);
    return !isBackground(p.colours[0]) && !isBackground(p.colours[1]) && isBackground(p.colours[2]);
  }, 8000, 'two tiles in the composite');
  const shot = docsScreenPath('room-page.png');
  if (shot) await ctx.a.screenshot({ path: shot });
  const people = await ctx.a.textContent('#people');
  assert.match(people ?? '', /Alice \(you\)/);
  assert.match(people ?? '', /Bob/);
});

test('muting stops that participant\'s audio in the other\'s mix', async (ctx) => {
  await startLevelMeter(ctx.a);
  await new Promise((r) => setTimeout(r, 3000));
  const before = await maxLevel(ctx.a, 50);
  await ctx.b.click('#mute');
  await new Promise((r) => setTimeout(r, 1500));
  await new Promise((r) => setTimeout(r, 2500));
  const after = await maxLevel(ctx.a, 50);
  console.log(`  Alice hears Bob at ${before.toFixed(4)} RMS, after Bob mutes ${after.toFixed(4)}`);
  assert.ok(before > 0.01, `Bob's fake microphone is audible in Alice's mix (${before})`);
  assert.ok(after < before / 10, `after muting: ${after}`);
  await ctx.b.click('#mute');
});

test('Bob leaves: Alice\'s composite shows one tile', async (ctx) => {
  await ctx.b.click('#leave');
  await waitFor(async () => {
    const p = await probe(ctx.a, [[640, 60], [640, 360]]);
    return !isBackground(p.colours[0]) && !isBackground(p.colours[1]);
  }, 8000, 'one tile filling the composite').catch(async (err: Error) => {
    const p = await probe(ctx.a, [[640, 60], [640, 360], [320, 360], [960, 360]]);
    const d = (await (await fetch(`${ctx.server.url}/rooms/${room}`)).json()) as any;
    throw new Error(`${err.message}; colours at (640,60) (640,360) (320,360) (960,360): ${JSON.stringify(p.colours)}; the layout: ${JSON.stringify(d.layout).slice(0, 600)}; participants: ${JSON.stringify(d.participants).slice(0, 2500)}; mixer: ${JSON.stringify(d.mixer).slice(0, 1500)}`);
  });
  const people = await ctx.a.textContent('#people');
  assert.not.match(people ?? '', /Bob/);
});

test('watch only, an invalid room name and a denied camera say what is happening', async (ctx) => {
  const context = await ctx.browser.newContext();
  ctx.contexts.push(context);
  const viewer = await context.newPage();
  await viewer.goto(`${ctx.server.url}/rooms/${room}?mode=mix`);
  await viewer.click('#watch');
  await viewer.waitForFunction(() => (document.getElementById('mix') as HTMLVideoElement).videoWidth === 1280, undefined, { timeout: 15_000 });
  const bad = await context.newPage();
  await bad.goto(`${ctx.server.url}/rooms/no%20spaces`);
  assert.match((await bad.textContent('#status')) ?? '', /invalid room name/);
  // A browser that denies the camera.
  const denied = await ctx.browser.newContext({ permissions: [] });
  ctx.contexts.push(denied);
  const page = await denied.newPage();
  await page.addInitScript(() => {
    navigator.mediaDevices.getUserMedia = () => Promise.reject(new DOMException('denied', 'NotAllowedError'));
  });
  await page.goto(`${ctx.server.url}/rooms/${room}`);
  await page.click('#join');
  await page.waitForFunction(() => /permission was denied/.test(document.getElementById('status')!.textContent ?? ''), undefined, { timeout: 5000 });
});

test.run();
