// Picture sizes read from bitstream headers, where the decoder puts a picture inside its slot
// (checked against what FFmpeg 5.1 produced for these sizes), and the layout's use of it.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { av1FrameSize, h264SpsSize, vp8FrameSize, vp9FrameSize } from '../../pipeline/media/frameSize.ts';
import { decoderSpec, letterboxRect } from '../../pipeline/decoder/spec.ts';
import { specToArgv } from '../../pipeline/ffmpeg/spec.ts';
import { computeLayout } from '../../pipeline/layout/layouts.ts';

const hex = (s: string) => Buffer.from(s, 'hex');

test('VP8 keyframe header', () => {
  assert.equal(vp8FrameSize(hex('30a5029d012a3804800708c7')), { width: 1080, height: 1920 });
  assert.is(vp8FrameSize(hex('31a5029d012a3804800708c7')), null, 'inter frame');
});

test('H.264 SPS: high profile portrait, baseline with cropping (642x362 is coded as 656x368)', () => {
  assert.equal(h264SpsSize(hex('67640028acd9404403c797c044000003000400000300f03c60c658')), { width: 1080, height: 1920 });
  assert.equal(h264SpsSize(hex('6742c01ed900a42fe224c044000003000400000300f03c58b920')), { width: 642, height: 362 });
  // GStreamer's sprop-parameter-sets SPS (x264 constrained baseline)
  assert.equal(h264SpsSize(Buffer.from('Z0LAHtoCgPbAWoCGgyAAAAMAIAAAB5HixdQ=', 'base64')), { width: 640, height: 480 });
  assert.is(h264SpsSize(hex('6742')), null, 'truncated');
});

test('VP9 keyframe and AV1 sequence header', () => {
  assert.equal(vp9FrameSize(hex('8249834200281016960638241c184a1008a05fc9f7f3ff7befcbfe7fe2ff82fc9f7f3fd1f7cbf7b1f7aeff13ee4ffe87')), { width: 642, height: 362 });
  assert.equal(av1FrameSize(hex('12000a0b000000043cffbcdaf9004032fd2f10008400020820880000dd4ac9ea66ca21a9d067508948a869e9c40a5bbd')), { width: 320, height: 240 });
});

test('letterbox rect matches FFmpeg scale (decrease, divisible by 2) + pad', () => {
  const slot = { width: 640, height: 360 };
  assert.equal(letterboxRect({ width: 1080, height: 1920 }, slot), { x: 218, y: 0, width: 202, height: 360 });
  assert.equal(letterboxRect({ width: 642, height: 362 }, slot), { x: 0, y: 0, width: 638, height: 360 });
  assert.equal(letterboxRect({ width: 320, height: 240 }, slot), { x: 80, y: 0, width: 480, height: 360 });
  assert.equal(letterboxRect({ width: 1280, height: 720 }, slot), { x: 0, y: 0, width: 640, height: 360 });
  assert.equal(letterboxRect({ width: 160, height: 120 }, slot), { x: 80, y: 0, width: 480, height: 360 });
  assert.equal(letterboxRect({ width: 1920, height: 800 }, slot), { x: 0, y: 46, width: 640, height: 266 });
  const argv = specToArgv(decoderSpec('h264', slot));
  assert.ok(argv.includes('pipe:0') && argv.includes('pipe:1') && argv.includes('ivf'));
  assert.ok(argv.join(' ').includes('force_original_aspect_ratio=decrease'));
});

test('layout: fit shows only the picture, letterboxed in its tile; crop fills the tile from the picture', () => {
  const portrait = { x: 218, y: 0, width: 202, height: 360 };
  const base = {
    kind: 'grid' as const, canvas: { width: 1280, height: 720 }, source: { width: 640, height: 360 },
    participants: ['a', 'b'], recentSpeakers: [], activeSpeaker: null, pinned: null,
    content: new Map([['a', portrait]]),
  };
  const fit = computeLayout({ ...base, fit: 'fit' });
  const a = fit.tiles.find((t) => t.participantId === 'a')!;
  assert.equal(a.crop, portrait, 'the decoder bars are cut away');
  assert.is(a.video.height, a.cell.height);
  assert.ok(Math.abs(a.video.width / a.video.height - 202 / 360) < 0.02, 'the picture keeps its aspect');
  assert.is(fit.tiles.find((t) => t.participantId === 'b')!.crop, null, 'a 16:9 picture shows whole');
  const crop = computeLayout({ ...base, fit: 'crop' });
  const c = crop.tiles.find((t) => t.participantId === 'a')!;
  assert.equal(c.video, c.cell);
  assert.ok(c.crop!.x >= portrait.x && c.crop!.x + c.crop!.width <= portrait.x + portrait.width, 'inside the picture');
  assert.ok(Math.abs(c.crop!.width / c.crop!.height - c.cell.width / c.cell.height) < 0.05, 'the tile aspect');
});

test.run();
