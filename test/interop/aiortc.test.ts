// aiortc (Debian python3-aiortc, a WebRTC stack the project did not write) publishes a red
// 640x480 picture and a 600 Hz tone over WHIP, and subscribes over WHEP with its default
// audio + video offer (per-section ICE credentials in one BUNDLE). Its own WHEP frames must
// show red in its tile, pillarboxed (4:3 in a 16:9 tile), and its WHEP audio must carry the tone.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServer, type RunningServer } from '../../server/main.ts';
import { waitFor } from '../helpers/peers.ts';
import { colorAt, colorDistance, toneLevelDb, type Rgb } from '../helpers/media.ts';
import { shapeDrift } from '../helpers/sdpShape.ts';
import { ExternalClient, PYTHON, pythonMissing, readI420, roomInfo, sessionId, tileColour, tileOf } from '../helpers/interop.ts';
import { skip } from '../helpers/skip.ts';

const RED: Rgb = [220, 30, 30];
const room = 'interop-aiortc';
const CLIENT = new URL('./clients/aiortc_client.py', import.meta.url).pathname;
const missing = pythonMissing('import aiortc, numpy');

interface Ctx {
  server: RunningServer;
  client: ExternalClient;
  dir: string;
  id: string;
}
const test = suite<Ctx>('aiortc');

const frame = (ctx: Ctx) => readI420(path.join(ctx.dir, 'frame.yuv'), 1280, 720);

test.before(async (ctx) => {
  if (missing) return skip(`aiortc cannot run: ${missing}`);
  ctx.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'interop-aiortc-'));
  ctx.server = await startServer({ port: 0, host: '127.0.0.1', demo: false, roomIdleMs: 60_000 });
  // The clients' voices are tones, which the room's speech denoiser takes for noise: off here
  // (e2e/voice covers the denoiser with speech). The room waits a minute for its clients.
  await ctx.server.rooms.getOrCreate(room, { audio: { denoise: false } });
  const base = `${ctx.server.url}/rooms/${room}`;
  ctx.client = new ExternalClient(PYTHON, [CLIENT, '--whip', `${base}/whip?name=aiortc`, '--whep', `${base}/whep`, '--width', '640', '--height', '480', '--color', RED.join(','), '--tone', '600', '--out', ctx.dir, '--seconds', '90'], 'aiortc');
  ctx.id = sessionId((await ctx.client.waitEvent('whip', 20_000)).location);
  await ctx.client.waitEvent('whep', 20_000);
});

test.after(async (ctx) => {
  await ctx.client?.close();
  await ctx.server?.close();
  if (ctx.dir) fs.rmSync(ctx.dir, { recursive: true, force: true });
});

test('WHIP: the server decodes aiortc\'s 640x480 video and its audio', async (ctx) => {
  if (missing) return skip(`aiortc cannot run: ${missing}`);
  const p = await waitFor(async () => {
    const info = await roomInfo(ctx.server.url, room);
    const me = info.participants.find((x: any) => x.id === ctx.id);
    return me?.video && me.videoSize?.width === 640 ? me : null;
  }, 15_000, 'the aiortc participant with 640x480 video');
  assert.equal(p.videoSize, { width: 640, height: 480 });
  assert.ok(p.audio, 'audio');
});

test('WHEP: aiortc decodes the 1280x720 mix and its red picture is in its tile, pillarboxed', async (ctx) => {
  if (missing) return skip(`aiortc cannot run: ${missing}`);
  await ctx.client.waitEvent('stats', 20_000, (e) => e.videoFrames >= 30 && e.width === 1280);
  const tile = (await tileOf(ctx.server.url, room, ctx.id))!;
  assert.ok(tile, 'a tile');
  let last: Rgb = [0, 0, 0];
  await waitFor(() => {
    const f = frame(ctx);
    if (!f) return false;
    last = tileColour(f, tile);
    return colorDistance(last, RED) < 60;
  }, 10_000, `red in the tile (last ${last})`);
  const f = frame(ctx)!;
  // Stripes or a tripled picture (the bug this suite was written for) would break these.
  for (const [fx, fy] of [[0.2, 0.2], [0.8, 0.3], [0.5, 0.85], [0.15, 0.7]]) {
    const c = colorAt(f, tile.video.x + tile.video.width * fx, tile.video.y + tile.video.height * fy, 3);
    assert.ok(colorDistance(c, RED) < 70, `red across the picture at ${fx},${fy}: ${c}`);
  }
  assert.ok(Math.abs(tile.video.width / tile.video.height - 4 / 3) < 0.03, `4:3 picture: ${JSON.stringify(tile.video)}`);
  if (tile.video.x - tile.cell.x > 8) {
    const bar = colorAt(f, (tile.cell.x + tile.video.x) / 2, tile.video.y + tile.video.height / 2, 2);
    assert.ok(colorDistance(bar, RED) > 100, `pillarbox beside the picture: ${bar}`);
  }
  const s = ctx.client.last('stats')!;
  console.log(`  aiortc WHEP: ${s.videoFrames} frames ${s.width}x${s.height}, ${s.audioSamples} audio samples; tile ${last}`);
});

test('WHEP: aiortc receives the mix\'s audio with its 600 Hz tone', async (ctx) => {
  if (missing) return skip(`aiortc cannot run: ${missing}`);
  const level = await waitFor(() => {
    try {
      const buf = fs.readFileSync(path.join(ctx.dir, 'audio.raw'));
      const pcm = new Int16Array(buf.buffer, buf.byteOffset, buf.length >> 1);
      const db = pcm.length >= 24_000 ? toneLevelDb(pcm, 48_000, 600) : -120;
      return db > -40 ? db : null;
    } catch {
      return null;
    }
  }, 10_000, 'the 600 Hz tone in aiortc\'s WHEP audio');
  console.log(`  600 Hz at ${level.toFixed(1)} dBFS`);
});

test('its offers have the recorded shapes; closing the client (DELETE) removes the participant', async (ctx) => {
  if (missing) return skip(`aiortc cannot run: ${missing}`);
  // The unit tests' fixtures still show what aiortc sends (per-section ICE credentials).
  assert.equal(shapeDrift('aiortc-whip', ctx.client.last('whip')!.offer), []);
  assert.equal(shapeDrift('aiortc-whep', ctx.client.last('whep')!.offer), []);
  await ctx.client.close();
  await waitFor(async () => !(await roomInfo(ctx.server.url, room)).participants?.some((x: any) => x.id === ctx.id), 5000, 'participant gone');
});

test.run();
