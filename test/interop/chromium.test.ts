// Headless Chromium (Debian's) on ANOTHER ORIGIN (a page served from a second HTTP server on
// another port) publishing its fake camera through the npm `whip-whep` library's WHIPClient
// (trickle ICE by PATCH, CORS), at 640x480 and at 1280x720, and playing the mix through its
// WHEPClient. The fake cameras play solid-colour y4m files made with FFmpeg, so each
// publisher's colour is checked at its tile in what the WHEP player shows.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Browser, Page } from 'playwright-core';
import { startServer, type RunningServer } from '../../server/main.ts';
import { CHROMIUM, launchChromium } from '../helpers/browser.ts';
import { waitFor } from '../helpers/peers.ts';
import { colorDistance, type Rgb } from '../helpers/media.ts';
import { shapeDrift } from '../helpers/sdpShape.ts';
import { roomInfo, sessionId, tileOf, type Tile } from '../helpers/interop.ts';
import { skip } from '../helpers/skip.ts';

const ORANGE: Rgb = [230, 140, 20];
const PURPLE: Rgb = [150, 40, 200];
const room = 'interop-chromium';
const LIB = path.resolve('node_modules/whip-whep');
const missing = !fs.existsSync(CHROMIUM) ? `${CHROMIUM} not found` : !fs.existsSync(`${LIB}/whip.js`) ? 'npm whip-whep is not installed' : null;

// The page: only the third-party library and the browser's own APIs.
const APP = `
import { WHIPClient } from '/whip.js';
import { WHEPClient } from '/whep.js';
window.offers = {};
window.publish = async (url, width, height) => {
  const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: { exact: width }, height: { exact: height } } });
  const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle' });
  for (const t of stream.getTracks()) pc.addTransceiver(t, { direction: 'sendonly', streams: [stream] });
  // As a broadcaster's page would: keep the camera's size, let the frame rate give (a 2-core
  // test machine otherwise makes libwebrtc scale the picture down for CPU).
  const vs = pc.getSenders().find((x) => x.track?.kind === 'video');
  const params = vs.getParameters();
  params.degradationPreference = 'maintain-resolution';
  await vs.setParameters(params).catch(() => {});
  const client = new WHIPClient();
  client.onOffer = (sdp) => (window.offers.whip = sdp);
  await client.publish(pc, url);
  window.whip = { pc, client };
  const s = stream.getVideoTracks()[0].getSettings();
  return { location: client.resourceURL.href, width: s.width, height: s.height };
};
window.view = async (url) => {
  const pc = new RTCPeerConnection();
  pc.addTransceiver('audio', { direction: 'recvonly' });
  pc.addTransceiver('video', { direction: 'recvonly' });
  const v = document.getElementById('mix');
  const ms = new MediaStream();
  window.audioPeak = 0;
  pc.ontrack = (e) => {
    ms.addTrack(e.track);
    v.srcObject = ms;
    if (e.track.kind !== 'audio') return;
    // The decoded audio, measured (the element is muted; WebAudio still gets the samples).
    const ac = new AudioContext();
    const an = ac.createAnalyser();
    ac.createMediaStreamSource(new MediaStream([e.track])).connect(an);
    const buf = new Float32Array(an.fftSize);
    setInterval(() => {
      an.getFloatTimeDomainData(buf);
      window.audioPeak = Math.max(window.audioPeak, ...buf.map(Math.abs));
    }, 50);
  };
  const client = new WHEPClient();
  client.onOffer = (sdp) => (window.offers.whep = sdp);
  await client.view(pc, url);
  window.whep = { pc, client };
  return client.resourceURL.href;
};
window.probe = async (points) => {
  const v = document.getElementById('mix');
  const c = document.createElement('canvas');
  c.width = v.videoWidth; c.height = v.videoHeight;
  const g = c.getContext('2d');
  if (c.width) g.drawImage(v, 0, 0);
  const colours = points.map(([x, y, r]) => {
    const d = g.getImageData(Math.round(x - r), Math.round(y - r), 2 * r + 1, 2 * r + 1).data;
    const s = [0, 0, 0];
    for (let i = 0; i < d.length; i += 4) { s[0] += d[i]; s[1] += d[i + 1]; s[2] += d[i + 2]; }
    return s.map((x) => Math.round(x / (d.length / 4)));
  });
  const stats = { video: null, audio: null };
  if (window.whep) (await window.whep.pc.getStats()).forEach((r) => {
    if (r.type === 'inbound-rtp') stats[r.kind] = r;
  });
  return {
    width: v.videoWidth, height: v.videoHeight, colours,
    framesDecoded: stats.video?.framesDecoded ?? 0,
    audioSamples: stats.audio?.totalSamplesReceived ?? 0,
    audioPeak: window.audioPeak,
  };
};
`;
const HTML = `<!doctype html><meta charset="utf-8"><title>third-party WHIP/WHEP page</title>
<video id="mix" autoplay playsinline muted></video><script type="module" src="/app.js"></script>`;

interface Ctx {
  server: RunningServer;
  pageServer: http.Server;
  origin: string;
  dir: string;
  browsers: Browser[];
  viewer: Page;
  small: Page;
  large: Page;
  ids: { small: string; large: string };
  /** Uncaught errors in the pages (whip-whep throws from its trickle PATCH on a non-2xx). */
  pageErrors: string[];
}
const test = suite<Ctx>('chromium whip-whep');

function y4m(dir: string, rgb: Rgb, w: number, h: number): string {
  const file = path.join(dir, `${w}x${h}.y4m`);
  const hex = rgb.map((x) => x.toString(16).padStart(2, '0')).join('');
  const r = spawnSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', `color=c=0x${hex}:s=${w}x${h}:r=30`, '-t', '1', '-pix_fmt', 'yuv420p', file]);
  if (r.status !== 0) throw new Error(`ffmpeg y4m: ${r.stderr}`);
  return file;
}

async function pageIn(ctx: Ctx, camera: string): Promise<Page> {
  const browser = await launchChromium([
    '--use-fake-device-for-media-stream',
    '--use-fake-ui-for-media-stream',
    `--use-file-for-fake-video-capture=${camera}`,
    '--autoplay-policy=no-user-gesture-required',
  ]);
  ctx.browsers.push(browser);
  const page = await (await browser.newContext()).newPage();
  await page.addInitScript('globalThis.__name = (f) => f;');
  page.on('pageerror', (e) => {
    console.log(`  page error: ${e.message}`);
    ctx.pageErrors.push(e.message);
  });
  await page.goto(`${ctx.origin}/`);
  await page.waitForFunction('typeof window.publish === "function"');
  return page;
}

const probe = (page: Page, points: Array<[number, number, number]>) => page.evaluate('window.probe(' + JSON.stringify(points) + ')') as Promise<any>;
const centre = (t: Tile, fx = 0.5, fy = 0.5): [number, number, number] => [t.video.x + t.video.width * fx, t.video.y + t.video.height * fy, 3];

test.before(async (ctx) => {
  if (missing) return skip(missing);
  ctx.browsers = [];
  ctx.pageErrors = [];
  ctx.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'interop-chromium-'));
  ctx.server = await startServer({ port: 0, host: '127.0.0.1', demo: false, roomIdleMs: 60_000 });
  // The clients' voices are tones, which the room's speech denoiser takes for noise: off here
  // (e2e/voice covers the denoiser with speech). The room waits a minute for its clients.
  await ctx.server.rooms.getOrCreate(room, { audio: { denoise: false } });
  // The other origin: same host, another port.
  ctx.pageServer = http.createServer((req, res) => {
    const files: Record<string, [string, string]> = {
      '/': ['text/html', HTML],
      '/app.js': ['text/javascript', APP],
      '/whip.js': ['text/javascript', fs.readFileSync(`${LIB}/whip.js`, 'utf8')],
      '/whep.js': ['text/javascript', fs.readFileSync(`${LIB}/whep.js`, 'utf8')],
    };
    const f = files[new URL(req.url ?? '/', 'http://x').pathname];
    res.writeHead(f ? 200 : 404, { 'Content-Type': f?.[0] ?? 'text/plain' }).end(f?.[1] ?? 'not found');
  });
  await new Promise<void>((r) => ctx.pageServer.listen(0, '127.0.0.1', r));
  ctx.origin = `http://127.0.0.1:${(ctx.pageServer.address() as AddressInfo).port}`;
  assert.is.not(ctx.origin, ctx.server.url);
  ctx.small = await pageIn(ctx, y4m(ctx.dir, ORANGE, 640, 480));
  ctx.large = await pageIn(ctx, y4m(ctx.dir, PURPLE, 1280, 720));
  ctx.viewer = ctx.small;
});

test.after(async (ctx) => {
  for (const b of ctx.browsers ?? []) await b.close().catch(() => {});
  await new Promise((r) => (ctx.pageServer ? ctx.pageServer.close(r) : r(null)));
  await ctx.server?.close();
  if (ctx.dir) fs.rmSync(ctx.dir, { recursive: true, force: true });
});

test('WHIPClient publishes 640x480 and 1280x720 from another origin (CORS, trickle by PATCH)', async (ctx) => {
  if (missing) return skip(missing);
  const whip = `${ctx.server.url}/rooms/${room}/whip`;
  const small = (await ctx.small.evaluate(`window.publish(${JSON.stringify(whip + '?name=cam640')}, 640, 480)`)) as any;
  const large = (await ctx.large.evaluate(`window.publish(${JSON.stringify(whip + '?name=cam720')}, 1280, 720)`)) as any;
  assert.equal([small.width, small.height, large.width, large.height], [640, 480, 1280, 720], 'the cameras run at the asked sizes');
  ctx.ids = { small: sessionId(small.location), large: sessionId(large.location) };
  for (const [id, w, h] of [[ctx.ids.small, 640, 480], [ctx.ids.large, 1280, 720]] as const) {
    let seen: unknown = null;
    await waitFor(async () => {
      const p = (await roomInfo(ctx.server.url, room)).participants.find((x: any) => x.id === id);
      seen = p && { video: p.video, audio: p.audio, size: p.videoSize };
      return p?.video && p.audio && p.videoSize?.width === w && p.videoSize?.height === h;
    }, 30_000, `the server decodes ${w}x${h} video and audio`).catch((e) => {
      throw new Error(`${e.message}: ${JSON.stringify(seen)}`);
    });
  }
});

test('WHEPClient plays the 1280x720 mix; each camera\'s colour is in its tile', async (ctx) => {
  if (missing) return skip(missing);
  await ctx.viewer.evaluate(`window.view(${JSON.stringify(`${ctx.server.url}/rooms/${room}/whep`)})`);
  await ctx.viewer.waitForFunction('document.getElementById("mix").videoWidth === 1280', undefined, { timeout: 20_000 });
  const small = (await tileOf(ctx.server.url, room, ctx.ids.small))!;
  const large = (await tileOf(ctx.server.url, room, ctx.ids.large))!;
  assert.ok(small && large, 'two tiles');
  const points = [centre(small), centre(small, 0.2, 0.2), centre(small, 0.8, 0.8), centre(large), centre(large, 0.2, 0.8), centre(large, 0.8, 0.2)];
  let last: any = null;
  await waitFor(async () => {
    last = await probe(ctx.viewer, points);
    const c = last.colours as Rgb[];
    return c.slice(0, 3).every((x) => colorDistance(x, ORANGE) < 70) && c.slice(3).every((x) => colorDistance(x, PURPLE) < 70);
  }, 15_000, 'orange and purple in their tiles').catch((e) => {
    throw new Error(`${e.message}: ${JSON.stringify(last?.colours)}`);
  });
  console.log(`  tiles: 640x480 ${JSON.stringify(last.colours[0])} (want ${ORANGE}), 1280x720 ${JSON.stringify(last.colours[3])} (want ${PURPLE})`);
});

test('the WHEP player keeps decoding frames and receives audio', async (ctx) => {
  if (missing) return skip(missing);
  const a = await probe(ctx.viewer, []);
  await new Promise((r) => setTimeout(r, 3000));
  const b = await probe(ctx.viewer, []);
  console.log(`  3 s: ${b.framesDecoded - a.framesDecoded} frames decoded, ${b.audioSamples - a.audioSamples} audio samples, peak ${b.audioPeak.toFixed(3)}`);
  // Correctness, not speed: two Chromiums, FFmpeg and the server share 2 cores here.
  assert.ok(b.framesDecoded - a.framesDecoded > 15, `frames decoded ${a.framesDecoded} → ${b.framesDecoded}`);
  assert.ok(b.audioSamples - a.audioSamples > 96_000, `audio samples ${a.audioSamples} → ${b.audioSamples}`);
  assert.ok(b.audioPeak > 0.05, `the fake microphones' beeps are in the mix (peak ${b.audioPeak})`);
});

test('its offers have the recorded shapes; stop() (DELETE from another origin) removes the publishers', async (ctx) => {
  if (missing) return skip(missing);
  const offers = (await ctx.viewer.evaluate('window.offers')) as { whip: string; whep: string };
  assert.equal(shapeDrift('chromium156-whip-whep-whip', offers.whip), []);
  assert.equal(shapeDrift('chromium156-whip-whep-whep', offers.whep), []);
  // Every trickle PATCH was taken (the WHEPClient sends no If-Match: it used to get 428).
  assert.equal(ctx.pageErrors, [], 'no uncaught errors in the pages');
  for (const page of [ctx.small, ctx.large]) await page.evaluate('window.whip.client.stop()');
  await waitFor(async () => (await roomInfo(ctx.server.url, room)).participants.length === 0, 5000, 'no participants');
});

test.run();
