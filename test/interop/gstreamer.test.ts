// GStreamer webrtcbin (Debian gstreamer1.0-plugins-bad, driven from Python; the script does the
// WHIP/WHEP HTTP itself) with its max-bundle SDP (`port 0` + `a=bundle-only` sections):
//   - publishes blue 640x480 VP8 + a 700 Hz Opus tone,
//   - publishes green 640x480 H.264 constrained baseline (x264enc) + a 900 Hz Opus tone, with
//     webrtcbin's default sendrecv transceivers,
//   - publishes yellow 640x480 H.264 high (x264enc) + an 1100 Hz Opus tone,
//   - subscribes over WHEP (recvonly VP8 + Opus, decodebin).
// Every picture must be in its tile in what webrtcbin decodes, every tone in its audio.

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

const BLUE: Rgb = [30, 60, 220];
const GREEN: Rgb = [30, 200, 30];
const YELLOW: Rgb = [230, 220, 40];
const room = 'interop-gst';
const CLIENT = new URL('./clients/gst_client.py', import.meta.url).pathname;
const missing = pythonMissing(
  "import gi; gi.require_version('Gst','1.0'); gi.require_version('GstWebRTC','1.0'); gi.require_version('GstSdp','1.0'); gi.require_version('GstApp','1.0');" +
    "from gi.repository import Gst, GstWebRTC, GstSdp, GstApp; Gst.init(None);" +
    "m=[e for e in ['webrtcbin','nicesrc','vp8enc','vp8dec','x264enc','opusenc','opusdec','rtph264pay','videotestsrc'] if not Gst.ElementFactory.find(e)];" +
    "assert not m, 'missing GStreamer elements: '+' '.join(m)",
);

interface Ctx {
  server: RunningServer;
  vp8: ExternalClient;
  h264: ExternalClient;
  high: ExternalClient;
  sub: ExternalClient;
  dir: string;
  ids: { vp8: string; h264: string; high: string };
}
const test = suite<Ctx>('gstreamer');

const frame = (ctx: Ctx) => readI420(path.join(ctx.dir, 'frame.yuv'), 1280, 720);

test.before(async (ctx) => {
  if (missing) return skip(`GStreamer webrtcbin cannot run: ${missing}`);
  ctx.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'interop-gst-'));
  ctx.server = await startServer({ port: 0, host: '127.0.0.1', demo: false, roomIdleMs: 60_000 });
  // The clients' voices are tones, which the room's speech denoiser takes for noise: off here
  // (e2e/voice covers the denoiser with speech). The room waits a minute for its clients.
  await ctx.server.rooms.getOrCreate(room, { audio: { denoise: false } });
  const base = `${ctx.server.url}/rooms/${room}`;
  const pub = (name: string, codec: string, colour: Rgb, tone: number, extra: string[]) =>
    new ExternalClient(PYTHON, [CLIENT, '--whip', `${base}/whip?name=${name}`, '--codec', codec, '--color', colour.join(','), '--tone', String(tone), '--seconds', '90', ...extra], name);
  // VP8: video linked first (audio is the bundle-only section), sendonly as simple-whip-client.
  // H.264: audio first, webrtcbin's default sendrecv transceivers (a naive pipeline's offer).
  ctx.vp8 = pub('gst-vp8', 'vp8', BLUE, 700, []);
  ctx.h264 = pub('gst-h264', 'h264', GREEN, 900, ['--audio-first', '--sendrecv']);
  ctx.high = pub('gst-h264-high', 'h264', YELLOW, 1100, ['--audio-first', '--profile', 'high']);
  ctx.ids = {
    vp8: sessionId((await ctx.vp8.waitEvent('whip', 20_000)).location),
    h264: sessionId((await ctx.h264.waitEvent('whip', 20_000)).location),
    high: sessionId((await ctx.high.waitEvent('whip', 20_000)).location),
  };
  ctx.sub = new ExternalClient(PYTHON, [CLIENT, '--whep', `${base}/whep`, '--out', ctx.dir, '--seconds', '90'], 'gst-whep');
  await ctx.sub.waitEvent('whep', 20_000);
});

test.after(async (ctx) => {
  for (const c of [ctx.sub, ctx.vp8, ctx.h264, ctx.high]) await c?.close();
  await ctx.server?.close();
  if (ctx.dir) fs.rmSync(ctx.dir, { recursive: true, force: true });
});

test('webrtcbin\'s offers are bundle-only shaped and answered with media', async (ctx) => {
  if (missing) return skip(`GStreamer webrtcbin cannot run: ${missing}`);
  for (const c of [ctx.vp8, ctx.h264, ctx.high]) {
    const e = c.last('whip')!;
    assert.match(e.offer, /a=bundle-only/, `${c.name} offer has a bundle-only section`);
    assert.not.match(e.answer, /^m=(audio|video) 0 /m, `${c.name}: no section rejected`);
  }
  assert.match(ctx.h264.last('whip')!.offer, /H264\/90000/);
  assert.match(ctx.h264.last('whip')!.answer, /H264\/90000/);
  assert.match(ctx.sub.last('whep')!.offer, /a=bundle-only/, 'the WHEP offer too');
  // The unit tests' fixtures still show what webrtcbin sends.
  assert.equal(shapeDrift('gstreamer-vp8-opus-video-first', ctx.vp8.last('whip')!.offer), []);
  assert.equal(shapeDrift('gstreamer-h264-baseline-opus-sendrecv', ctx.h264.last('whip')!.offer), []);
  assert.equal(shapeDrift('gstreamer-h264-high-opus', ctx.high.last('whip')!.offer), []);
  assert.match(ctx.high.last('whip')!.offer, /profile-level-id=64/);
  assert.equal(shapeDrift('gstreamer-whep-vp8-opus', ctx.sub.last('whep')!.offer), []);
});

test('the server decodes all three: VP8, H.264 baseline and high at 640x480, with audio', async (ctx) => {
  if (missing) return skip(`GStreamer webrtcbin cannot run: ${missing}`);
  for (const id of [ctx.ids.vp8, ctx.ids.h264, ctx.ids.high]) {
    const p = await waitFor(async () => {
      const me = (await roomInfo(ctx.server.url, room)).participants.find((x: any) => x.id === id);
      return me?.video && me.audio && me.videoSize?.width === 640 ? me : null;
    }, 15_000, `participant ${id} with 640x480 video and audio`);
    assert.equal(p.videoSize, { width: 640, height: 480 });
  }
});

test('webrtcbin\'s WHEP frames show blue (VP8), green (H.264 baseline) and yellow (H.264 high) in their tiles', async (ctx) => {
  if (missing) return skip(`GStreamer webrtcbin cannot run: ${missing}`);
  await ctx.sub.waitEvent('stats', 20_000, (e) => e.videoFrames >= 30 && e.width === 1280);
  for (const [id, colour, name] of [[ctx.ids.vp8, BLUE, 'VP8'], [ctx.ids.h264, GREEN, 'H.264 baseline'], [ctx.ids.high, YELLOW, 'H.264 high']] as const) {
    const tile = (await tileOf(ctx.server.url, room, id))!;
    assert.ok(tile, `a tile for ${name}`);
    let last: Rgb = [0, 0, 0];
    await waitFor(() => {
      const f = frame(ctx);
      if (!f) return false;
      last = tileColour(f, tile);
      return colorDistance(last, colour) < 60;
    }, 10_000, `${name}: ${colour} in its tile (last ${last})`);
    const f = frame(ctx)!;
    for (const [fx, fy] of [[0.2, 0.2], [0.8, 0.8], [0.25, 0.75]]) {
      const c = colorAt(f, tile.video.x + tile.video.width * fx, tile.video.y + tile.video.height * fy, 3);
      assert.ok(colorDistance(c, colour) < 70, `${name} across the picture at ${fx},${fy}: ${c}`);
    }
    console.log(`  ${name} tile ${last}`);
  }
});

test('webrtcbin\'s WHEP audio carries every publisher\'s tone', async (ctx) => {
  if (missing) return skip(`GStreamer webrtcbin cannot run: ${missing}`);
  const levels = await waitFor(() => {
    try {
      const buf = fs.readFileSync(path.join(ctx.dir, 'audio.raw'));
      const pcm = new Int16Array(buf.buffer, buf.byteOffset, buf.length >> 1);
      if (pcm.length < 24_000) return null;
      const l = [700, 900, 1100].map((hz) => toneLevelDb(pcm, 48_000, hz));
      return l.every((x) => x > -40) ? l : null;
    } catch {
      return null;
    }
  }, 10_000, '700, 900 and 1100 Hz in the WHEP audio');
  console.log(`  700 Hz ${levels[0].toFixed(1)}, 900 Hz ${levels[1].toFixed(1)}, 1100 Hz ${levels[2].toFixed(1)} dBFS`);
});

test.run();
