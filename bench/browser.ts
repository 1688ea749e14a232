// Glass-to-glass through the MCU in a real browser, against a direct Chromium-to-Chromium call
// with the same media in the same run. Headless Chromium plays a stamped video file and a
// beeping audio file as its fake camera and microphone.
//   npm run bench:browser [-- --seconds 20 --joins 5]      (--smoke: a few seconds)
//
// Floor: one page calls itself (two RTCPeerConnections, camera + mic in one stream, so lip
// sync on), no server. MCU: one page publishes through the room page (Join), a second page
// watches (Watch only). Video: each page reads the frame counter stamped into the picture
// (requestVideoFrameCallback + canvas): the camera's frames give each counter's capture time,
// the received picture the time it is shown. Audio: beep onsets found by WebAudio on the
// microphone track and in the received stream. Also: lip-sync skew (audio − video), the
// receivers' getStats (jitter buffers, decode, drops) and the sender's encoder, the CPU of the
// server (Node, FFmpeg) and of Chromium, and join times (click → first rendered frame, and
// the WHEP POST → first rendered frame). Writes bench/results/browser.json.

import { parseArgs } from 'node:util';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { startServerProc, type ServerProc } from './lib/server-proc.ts';
import { FfmpegProcess } from '../workers/ffmpeg/FfmpegProcess.ts';
import { launchChromium } from '../test/helpers/browser.ts';
import { stampFilter } from './lib/stamp.ts';
import { machine, summary, writeResult } from './lib/stats.ts';
import {
  capturePeers, clearProbes, cpuMeter, inboundKey, inboundWindow, instrument, matchOnsets, matchStamps, NAME_SHIM,
  outboundVideoWindow, snapshotStats, takeProbe,
} from './lib/browserProbe.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '20' },
    joins: { type: 'string', default: '5' },
    smoke: { type: 'boolean', default: false },
  },
});
const seconds = values.smoke ? 5 : Number(values.seconds);
const joins = values.smoke ? 1 : Number(values.joins);
const SETTLE_MS = values.smoke ? 2000 : 3000;
const FRAMES = 300; // a 10 s loop at 30 fps; counters repeat after that
/** Busier than this (the whole machine, over the MCU run), the run's latency is the box's, not the product's. */
const SATURATED = 0.85;
const room = `bench-browser-${process.pid}`;

/** The camera and microphone files Chromium plays: a stamped 640x360 y4m and beeps in a wav. */
async function makeMedia(dir: string): Promise<{ y4m: string; wav: string }> {
  const y4m = path.join(dir, 'camera.y4m');
  const wav = path.join(dir, 'mic.wav');
  const run = async (name: string, spec: ConstructorParameters<typeof FfmpegProcess>[1]) => {
    const exit = await new FfmpegProcess(name, spec).exited;
    if (exit.code !== 0) throw new Error(`${name}: ${exit.stderrTail.join(' | ')}`);
  };
  await run('bench-y4m', {
    globalOptions: ['-hide_banner', '-loglevel', 'error', '-y'],
    inputs: [{ url: `color=c=0x3060c0:s=640x360:r=30:d=${FRAMES / 30}`, options: ['-f', 'lavfi'] }],
    filterComplex: `[0:v]format=yuv420p,${stampFilter([86, 177, 92], FRAMES)}[v]`,
    outputs: [{ url: y4m, options: ['-map', '[v]', '-pix_fmt', 'yuv420p', '-f', 'yuv4mpegpipe'] }],
  });
  // A 1 kHz beep of 100 ms at the start of every second (10 s loop, like the video).
  await run('bench-wav', {
    globalOptions: ['-hide_banner', '-loglevel', 'error', '-y'],
    inputs: [{ url: `aevalsrc='if(lt(mod(t,1),0.1),0.5*sin(2*PI*1000*t),0)':s=48000:d=10`, options: ['-f', 'lavfi'] }],
    filterComplex: '',
    outputs: [{ url: wav, options: ['-ac', '1', '-c:a', 'pcm_s16le'] }],
  });
  return { y4m, wav };
}

/**
 * The pages' window. Headless Chromium composites in software, so a 1280x720 window spent a
 * quarter of a core drawing the two 720p videos; the pages here are the load generator, and on
 * a real client that work is the GPU's. Small: it reads the same frames.
 */
const VIEWPORT = { width: 480, height: 360 };

async function newPage(browser: Browser): Promise<Page> {
  const page = await (await browser.newContext({ viewport: VIEWPORT })).newPage();
  await page.addInitScript(NAME_SHIM);
  await page.addInitScript(capturePeers);
  return page;
}

/** Latency figures of one window: sender page/key (the camera) against receiver page/key. */
async function figures(sender: Page, sKey: string, receiver: Page, rKey: string) {
  const sent = await takeProbe(sender, sKey);
  const got = await takeProbe(receiver, rKey);
  const video = summary(matchStamps(sent.stamps, got.stamps));
  const audio = summary(matchOnsets(sent.onsets, got.onsets));
  return {
    video,
    audio,
    lipSyncAudioMinusVideoMs: Number.isFinite(audio.p50 - video.p50) ? Math.round(audio.p50 - video.p50) : null,
    receiveToDisplayMs: summary(got.receiveToDisplay),
    samples: { sentStamps: sent.stamps.length, shownStamps: got.stamps.length, sentOnsets: sent.onsets.length, heardOnsets: got.onsets.length, heardPeakRms: Math.round(got.peakRms * 1000) / 1000, readers: { sent: sent.readers, shown: got.readers } },
  };
}

/** Measures a window of `seconds` on receiver (and sender): latency, getStats, CPU (the server's: `serverPid`). */
async function measure(sender: Page, sKey: string, receiver: Page, rKey: string, serverPid: number) {
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  await clearProbes(sender);
  await clearProbes(receiver);
  const rx0 = await snapshotStats(receiver);
  const tx0 = await snapshotStats(sender);
  const cpu = cpuMeter(serverPid);
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const rx1 = await snapshotStats(receiver);
  const tx1 = await snapshotStats(sender);
  return {
    ...(await figures(sender, sKey, receiver, rKey)),
    receiver: { video: inboundWindow(rx0, rx1, inboundKey(rx1, 'video')), audio: inboundWindow(rx0, rx1, inboundKey(rx1, 'audio')) },
    sender: outboundVideoWindow(tx0, tx1),
    cpu: cpu(),
  };
}

/** The floor: one page calls itself, camera + mic in one stream (lip sync on), no server. */
async function directCall(browser: Browser, server: ServerProc) {
  const page = await newPage(browser);
  await page.goto(`${server.url}/healthz`); // a secure (localhost) origin for getUserMedia
  const joinMs = await page.evaluate(async () => {
    document.body.innerHTML = '<video id="self" muted autoplay playsinline></video><video id="remote" autoplay playsinline></video>';
    const self = document.getElementById('self') as HTMLVideoElement;
    const remote = document.getElementById('remote') as HTMLVideoElement;
    const media = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 640, height: 360 } });
    self.srcObject = media;
    void self.play();
    const first = new Promise<number>((r) => remote.requestVideoFrameCallback((_n, m) => r(m.expectedDisplayTime)));
    const t0 = performance.now();
    const a = new RTCPeerConnection();
    const b = new RTCPeerConnection();
    a.onicecandidate = (e) => e.candidate && void b.addIceCandidate(e.candidate);
    b.onicecandidate = (e) => e.candidate && void a.addIceCandidate(e.candidate);
    const stream = new MediaStream();
    b.ontrack = (e) => {
      stream.addTrack(e.track);
      remote.srcObject = stream;
      void remote.play().catch(() => {});
    };
    for (const t of media.getTracks()) a.addTrack(t, media);
    await a.setLocalDescription();
    await b.setRemoteDescription(a.localDescription!);
    await b.setLocalDescription();
    await a.setRemoteDescription(b.localDescription!);
    return (await first) - t0;
  });
  await instrument(page, 'self', 'camera', 'full');
  await instrument(page, 'remote', 'remote', 'full');
  const m = await measure(page, 'camera', page, 'remote', server.pid);
  await page.context().close();
  return { ...m, offerToFirstFrameMs: Math.round(joinMs) };
}

/** Clicks a room page's Join/Watch button; times to its first rendered frame of the mix. */
async function clickAndTime(page: Page, button: 'join' | 'watch') {
  await page.evaluate((button) => {
    const w = window as any;
    w.__join = { click: performance.now(), firstFrame: 0 };
    const v = document.getElementById('mix') as HTMLVideoElement;
    v.requestVideoFrameCallback((_n, m) => (w.__join.firstFrame = m.expectedDisplayTime));
    (document.getElementById(button) as HTMLButtonElement).click();
  }, button);
  await page.waitForFunction(() => (window as any).__join.firstFrame > 0, null, { timeout: 20_000 });
  return page.evaluate(() => {
    const j = (window as any).__join;
    const post = (performance.getEntriesByType('resource') as PerformanceResourceTiming[]).filter((e) => e.name.includes('/whep') && e.initiatorType === 'fetch').pop();
    return {
      clickToFirstFrameMs: Math.round(j.firstFrame - j.click),
      clickToPostMs: post ? Math.round(post.startTime - j.click) : null,
      postMs: post ? Math.round(post.responseEnd - post.startTime) : null,
      postToFirstFrameMs: post ? Math.round(j.firstFrame - post.startTime) : null,
      /**
       * Wall-clock (Date.now()) instants, to line up with the server's (one machine, one clock).
       * timeOrigin + a performance time drifts from Date.now() over a page's life: corrected.
       */
      postAtEpochMs: post ? Date.now() - (performance.now() - post.startTime) : null,
      firstFrameAtEpochMs: Date.now() - (performance.now() - (j.firstFrame as number)),
    };
  });
}

/** GET /rooms/{room} (the server runs in a process of its own, as in production). */
async function describeRoom(server: ServerProc): Promise<any> {
  return (await fetch(`${server.url}/rooms/${room}`)).json();
}

/**
 * Where a watcher's POST → first frame went, from the server's side of its newest subscription
 * (GET /rooms/{room}): POST → answer sent, answer → ICE and DTLS up (`connectedAt`), → first video
 * packet sent, → the page's first rendered frame (jitter buffer, decode, render). Wall clocks
 * (Date.now()) on both sides.
 */
async function serverJoinSplit(server: ServerProc, page: { postAtEpochMs: number | null; postMs: number | null; firstFrameAtEpochMs: number }) {
  const subs = ((await describeRoom(server)).subscriptions ?? []) as Array<{ createdAt: string; connectedAt: string | null; firstVideoPacketAt: string | null }>;
  const s = subs.sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt))[0];
  if (!s || page.postAtEpochMs === null || page.postMs === null) return null;
  const answered = page.postAtEpochMs + page.postMs;
  const connected = s.connectedAt ? Date.parse(s.connectedAt) : null;
  const firstPacket = s.firstVideoPacketAt ? Date.parse(s.firstVideoPacketAt) : null;
  const r = (x: number) => Math.round(x);
  return {
    answerToConnectedMs: connected !== null ? r(connected - answered) : null,
    connectedToFirstPacketMs: connected !== null && firstPacket !== null ? r(firstPacket - connected) : null,
    firstPacketToFirstFrameMs: firstPacket !== null ? r(page.firstFrameAtEpochMs - firstPacket) : null,
  };
}

async function throughMcu(browser: Browser, server: ServerProc) {
  const pub = await newPage(browser);
  await pub.goto(`${server.url}/rooms/${room}?mode=mix`); // the composite path (the page would take tracks)
  await pub.fill('#name', 'Stamp');
  const publisherJoin = await clickAndTime(pub, 'join');
  await instrument(pub, 'self', 'camera', 'full');

  const watcherJoins: Array<Awaited<ReturnType<typeof clickAndTime>> & { server: Awaited<ReturnType<typeof serverJoinSplit>> }> = [];
  let watcher: Page | null = null;
  for (let j = 0; j < joins; j++) {
    await watcher?.context().close();
    watcher = await newPage(browser);
    await watcher.goto(`${server.url}/rooms/${room}?mode=mix`);
    const join = await clickAndTime(watcher, 'watch');
    watcherJoins.push({ ...join, server: await serverJoinSplit(server, join) });
  }
  const desc = await describeRoom(server);
  await watcher!.evaluate((t) => ((window as any).__tile = t), desc.layout.tiles[0]?.video);
  await instrument(watcher!, 'mix', 'mix', 'tile');
  const { timing: _, ...mixerBefore } = desc.mixer ?? {};
  const m = await measure(pub, 'camera', watcher!, 'mix', server.pid);
  // The mixer's epoch and restarts before and after: a process swap inside the window shows here.
  // Its `timing` (the window's last ~10 s): the clocks' lateness and each FFmpeg's write → packet.
  const { timing, ...after } = (await describeRoom(server)).mixer ?? {};
  const mixer = { before: mixerBefore, after, timing };
  // What Chromium's own sender reports say of its audio against its video (null: not believed).
  const stats = await (await fetch(`${server.url}/stats`)).text();
  const publisherAudioLagMs = [...stats.matchAll(/"lagOverVideoMs":(null|-?[\d.]+)/g)].map((x) => (x[1] === 'null' ? null : Number(x[1])));
  return { ...m, publisherJoin, watcherJoins, mixer, publisherAudioLagMs };
}

const joinSummary = (js: Array<Record<string, unknown>>, k: string) => summary(js.map((j) => j[k]).filter((x): x is number => typeof x === 'number'));

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcu-bench-browser-'));
  // The server in a process of its own, as in production: in this one, Playwright's heap kept V8
  // in back-to-back mark-compacts whose helper threads took both cores every ~0.5 s.
  const server = await startServerProc();
  try {
    await run(dir, server);
  } finally {
    // A child process: stopped on every way out (it would outlive this one otherwise).
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function run(dir: string, server: ServerProc) {
  const { y4m, wav } = await makeMedia(dir);
  // The beep is a steady tone, which RNNoise takes for noise (and blurs its onset): the room is
  // created with the denoiser off, as bench/latency does; its fixed 10 ms is in docs/ARCHITECTURE.
  const put = await fetch(`${server.url}/rooms/${room}`, { method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: '{"audio":{"denoise":false}}' });
  if (put.status !== 201) throw new Error(`PUT /rooms/${room}: ${put.status} ${await put.text()}`);
  const browser = await launchChromium([
    '--use-fake-ui-for-media-stream',
    '--use-fake-device-for-media-stream',
    `--use-file-for-fake-video-capture=${y4m}`,
    `--use-file-for-fake-audio-capture=${wav}`,
    '--autoplay-policy=no-user-gesture-required',
  ]);
  try {
    const direct = await directCall(browser, server);
    const mcu = await throughMcu(browser, server);
    const d = (a: number, b: number) => Math.round((a - b) * 10) / 10;
    const x = (a: number, b: number) => Math.round((a / b) * 100) / 100;
    const watch = {
      clickToFirstFrameMs: joinSummary(mcu.watcherJoins, 'clickToFirstFrameMs'),
      postToFirstFrameMs: joinSummary(mcu.watcherJoins, 'postToFirstFrameMs'),
      clickToPostMs: joinSummary(mcu.watcherJoins, 'clickToPostMs'),
      postMs: joinSummary(mcu.watcherJoins, 'postMs'),
      answerToConnectedMs: summary(mcu.watcherJoins.map((j) => j.server?.answerToConnectedMs).filter((x): x is number => typeof x === 'number')),
      connectedToFirstPacketMs: summary(mcu.watcherJoins.map((j) => j.server?.connectedToFirstPacketMs).filter((x): x is number => typeof x === 'number')),
      firstPacketToFirstFrameMs: summary(mcu.watcherJoins.map((j) => j.server?.firstPacketToFirstFrameMs).filter((x): x is number => typeof x === 'number')),
    };
    const result = {
      machine: machine(),
      at: new Date().toISOString(),
      seconds,
      mcu,
      direct,
      added: {
        videoP50Ms: d(mcu.video.p50, direct.video.p50),
        videoP95Ms: d(mcu.video.p95, direct.video.p95),
        audioP50Ms: d(mcu.audio.p50, direct.audio.p50),
        audioP95Ms: d(mcu.audio.p95, direct.audio.p95),
        videoRatioP50: x(mcu.video.p50, direct.video.p50),
        audioRatioP50: x(mcu.audio.p50, direct.audio.p50),
      },
      join: { watch, publisher: mcu.publisherJoin, directOfferToFirstFrameMs: direct.offerToFirstFrameMs },
    };
    const jb = (r: typeof mcu.receiver) => `audio ${r.audio?.jitterBufferMs} ms (target ${r.audio?.jitterBufferTargetMs}), video ${r.video?.jitterBufferMs} ms`;
    const skewOk = (s: number | null) => (s !== null && s >= -45 && s <= 125 ? 'within' : 'outside');
    console.log(`video glass-to-glass: MCU p50 ${mcu.video.p50} ms, p95 ${mcu.video.p95} ms (n ${mcu.video.n}) | direct p50 ${direct.video.p50} ms, p95 ${direct.video.p95} ms | added p50 ${result.added.videoP50Ms} ms, p95 ${result.added.videoP95Ms} ms (${result.added.videoRatioP50}x)`);
    console.log(`audio mouth-to-ear: MCU p50 ${mcu.audio.p50} ms, p95 ${mcu.audio.p95} ms (n ${mcu.audio.n}) | direct p50 ${direct.audio.p50} ms, p95 ${direct.audio.p95} ms | added p50 ${result.added.audioP50Ms} ms, p95 ${result.added.audioP95Ms} ms`);
    console.log(`lip sync (audio − video, p50): MCU ${mcu.lipSyncAudioMinusVideoMs} ms (${skewOk(mcu.lipSyncAudioMinusVideoMs)} BT.1359 −45 … +125), direct ${direct.lipSyncAudioMinusVideoMs} ms`);
    console.log(`publisher's audio lag over its video, from its sender reports: ${JSON.stringify(mcu.publisherAudioLagMs)} ms`);
    console.log(`receiver jitter buffers: MCU ${jb(mcu.receiver)} | direct ${jb(direct.receiver)}; receive → display p50 MCU ${mcu.receiveToDisplayMs.p50} ms, direct ${direct.receiveToDisplayMs.p50} ms`);
    console.log(`receiver video: MCU ${JSON.stringify(mcu.receiver.video)} | direct ${JSON.stringify(direct.receiver.video)}`);
    console.log(`the mix's timing on the server (the window's last ~10 s; ms): ${JSON.stringify(mcu.mixer.timing)}`);
    console.log(`sender video: MCU ${JSON.stringify(mcu.sender)} | direct ${JSON.stringify(direct.sender)}`);
    console.log(`CPU (cores): MCU ${JSON.stringify(mcu.cpu)} | direct ${JSON.stringify(direct.cpu)}`);
    if (mcu.cpu.boxBusy > SATURATED) {
      console.log(`warning: the machine was ${Math.round(mcu.cpu.boxBusy * 100)} % busy during the MCU run (> ${SATURATED * 100} %): its latency figures are the box's saturation, not the product's`);
    }
    console.log(`join, watch only: click → first frame p50 ${watch.clickToFirstFrameMs.p50} ms, p95 ${watch.clickToFirstFrameMs.p95} ms; WHEP POST → first frame p50 ${watch.postToFirstFrameMs.p50} ms, p95 ${watch.postToFirstFrameMs.p95} ms (click → POST p50 ${watch.clickToPostMs.p50} ms, POST p50 ${watch.postMs.p50} ms; answer → ICE + DTLS up p50 ${watch.answerToConnectedMs.p50} / p95 ${watch.answerToConnectedMs.p95} ms, → first video packet sent p50 ${watch.connectedToFirstPacketMs.p50} / p95 ${watch.connectedToFirstPacketMs.p95} ms, → first frame shown p50 ${watch.firstPacketToFirstFrameMs.p50} / p95 ${watch.firstPacketToFirstFrameMs.p95} ms)`);
    console.log(`join, publisher: ${JSON.stringify(mcu.publisherJoin)}; direct call offer → first frame ${direct.offerToFirstFrameMs} ms`);
    console.log(`→ ${writeResult('browser', values.smoke, result)}`);
  } finally {
    await browser.close();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
