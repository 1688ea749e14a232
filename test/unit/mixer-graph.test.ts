import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { rungById, rungFor } from '../../pipeline/ladder.ts';
import {
  buildMixerSpec,
  capacityFor,
  DEFAULT_MIXER_SETTINGS,
  specToArgv,
  VP8_MAX_INTRA_PCT,
  canvasRungIndex,
  VP8_THREADS,
} from '../../pipeline/mixer/graph.ts';
import { vp8MaxIntraFromEnv, vp8ThreadsFromEnv } from '../../workers/mixer/voiceModel.ts';
import { loadConfig } from '../../server/config.ts';
import { buildAudioMixerSpec, interleaveF32, streamingWavHeader } from '../../pipeline/mixer/audioGraph.ts';

const endpoints = (rungs = 2) => ({
  socketDir: '/tmp/mcu-x',
  rungRtpPorts: Array.from({ length: rungs }, (_, r) => 5000 + 2 * r),
});
const audioEndpoints = (c: number) => ({
  socketDir: '/tmp/mcu-x',
  fullMixRtpPort: 5002,
  mixMinusRtpPorts: Array.from({ length: c }, (_, k) => 6000 + 2 * k),
});
const RUNGS = [rungFor('720p', 'vp8')!, rungFor('360p', 'h264')!];

test('capacity tiers', () => {
  assert.is(capacityFor(1), 4);
  assert.is(capacityFor(4), 4);
  assert.is(capacityFor(5), 8);
  assert.is(capacityFor(16), 16);
});

test('inputs: trigger first, then the canvas (raw, canvas size, on stdin), the sockets listening; no audio; nothing per slot', () => {
  const spec = buildMixerSpec(DEFAULT_MIXER_SETTINGS, endpoints(), RUNGS);
  assert.is(spec.inputs.length, 1 + 1 + 1, 'canvas trigger, the canvas, a trigger per rung but the canvas rung (720p)');
  assert.is(spec.inputs[0].url, 'unix:/tmp/mcu-x/trigger.sock');
  assert.is(spec.inputs[1].url, 'pipe:0');
  assert.is(spec.inputs[2].url, 'unix:/tmp/mcu-x/t-360p-h264.sock');
  assert.ok(spec.inputs[1].options.includes('rawvideo'));
  assert.ok(spec.inputs[1].options.join(' ').includes('-video_size 1280x720 -framerate 30'));
  assert.not.match(specToArgv(spec).join(' '), /s16le|wav|libopus|:a\]/);
  for (const i of spec.inputs) {
    assert.is(i.options.join(' ').includes('-listen 1'), i.url !== 'pipe:0', i.url);
    assert.ok(i.options.join(' ').includes('-fflags nobuffer'));
  }
  // Without the posix_spawn addon the canvas goes through a unix socket instead.
  const bySocket = buildMixerSpec(DEFAULT_MIXER_SETTINGS, { ...endpoints(), canvasInput: 'socket' }, RUNGS);
  assert.is(bySocket.inputs[1].url, 'unix:/tmp/mcu-x/canvas.sock');
  assert.ok(bySocket.inputs[1].options.join(' ').includes('-listen 1'));
});

test('filter graph: the canvas copied under the trigger (blend at opacity 0: its key flag, no overlay, no commands)', () => {
  const spec = buildMixerSpec(DEFAULT_MIXER_SETTINGS, endpoints(), RUNGS);
  const g = spec.filterComplex;
  assert.match(g, /^\[0:v\]scale=1280:720:flags=neighbor,format=yuv420p\[tcomposite\];\[tcomposite\]\[1:v\]blend=all_mode=normal:all_opacity=0\[composite\]/);
  assert.not.match(g, /overlay|zmq|amerge|azmq/);
  const argv = specToArgv(spec).join(' ');
  assert.ok(argv.includes('-force_key_frames source'));
  assert.match(argv, /-map \[rung0\] -fps_mode passthrough -c:v libvpx -deadline realtime -cpu-used -8 -lag-in-frames 0 -error-resilient 1 -threads \d -max-intra-rate 900 -b:v 1500k/);
  assert.ok(argv.includes(`-error-resilient 1 -threads ${VP8_THREADS} -max-intra-rate`), 'the default libvpx threads');
  assert.match(argv, /-map \[rung1\] -fps_mode passthrough -c:v libx264 -preset veryfast -tune zerolatency -profile:v baseline .* -b:v 400k/);
  // the canvas rung (720p at the canvas's rate) is the composite, keyed by the canvas trigger;
  // any other rung: the composite scaled, under its own trigger (keyframes)
  assert.match(g, /\[vs0\]null\[rung0\]/);
  assert.not.match(g, /\[trung0\]/);
  assert.match(g, /\[2:v\]scale=640:360:flags=neighbor,format=yuv420p\[trung1\];\[trung1\]\[sc1\]blend=all_mode=normal:all_opacity=0\[rung1\]/);
  assert.match(g, /\[vs1\]scale=640:360:flags=bilinear\[sc1\]/);
  assert.match(g, /\[composite\]split=2\[vs0\]\[vs1\]/);
});

test('the canvas rung: the first rung of the canvas size and rate; none when no rung is', () => {
  const settings = DEFAULT_MIXER_SETTINGS;
  const r = (id: string) => rungById(id)!;
  assert.is(canvasRungIndex(settings, [r('360p'), r('720p')]), 1);
  assert.is(canvasRungIndex(settings, [r('720p-h264')]), 0);
  assert.is(canvasRungIndex(settings, [r('360p')]), -1);
  assert.is(canvasRungIndex({ ...settings, fps: 25 }, [r('720p')]), -1, 'a rung at another rate keeps its own trigger');
  // Only 360p: every rung has its own trigger, as before.
  const spec = buildMixerSpec(settings, endpoints(1), [r('360p')]);
  assert.is(spec.inputs.length, 1 + 1 + 1);
  assert.match(spec.filterComplex, /\[2:v\]scale=640:360:flags=neighbor,format=yuv420p\[trung0\];\[trung0\]\[sc0\]blend=all_mode=normal:all_opacity=0\[rung0\]/);
});

test('VP8 rungs: libvpx threads from the settings (MIXER_VP8_THREADS), validated', () => {
  const spec = buildMixerSpec({ ...DEFAULT_MIXER_SETTINGS, vp8Threads: 3 }, endpoints(), RUNGS);
  assert.match(specToArgv(spec).join(' '), /-map \[rung0\] [^]*-error-resilient 1 -threads 3 -max-intra-rate 900 -b:v 1500k/);
  assert.is(vp8ThreadsFromEnv({}), undefined);
  assert.is(vp8ThreadsFromEnv({ MIXER_VP8_THREADS: ' 1 ' }), 1);
  assert.throws(() => vp8ThreadsFromEnv({ MIXER_VP8_THREADS: '0' }), /MIXER_VP8_THREADS/);
  assert.throws(() => vp8ThreadsFromEnv({ MIXER_VP8_THREADS: 'two' }), /MIXER_VP8_THREADS/);
});

test('VP8 rungs: keyframes capped at VP8_MAX_INTRA_PCT of a frame\'s share (MIXER_VP8_MAX_INTRA_PCT; 0 uncapped), validated at start-up; H.264 untouched', () => {
  const argv = (pct?: number) => specToArgv(buildMixerSpec({ ...DEFAULT_MIXER_SETTINGS, vp8MaxIntraPct: pct }, endpoints(), RUNGS)).join(' ');
  assert.is(VP8_MAX_INTRA_PCT, 900);
  assert.match(argv(), /-map \[rung0\] [^]*-threads \d -max-intra-rate 900 -b:v 1500k/);
  assert.match(argv(600), /-map \[rung0\] [^]*-threads \d -max-intra-rate 600 -b:v 1500k/);
  assert.not.match(argv(0), /-max-intra-rate/);
  assert.not.match(argv().split('-map [rung1]')[1], /-max-intra-rate/, 'not on the H.264 rung');
  assert.is(vp8MaxIntraFromEnv({}), undefined);
  assert.is(vp8MaxIntraFromEnv({ MIXER_VP8_MAX_INTRA_PCT: ' 0 ' }), 0);
  assert.is(vp8MaxIntraFromEnv({ MIXER_VP8_MAX_INTRA_PCT: '300' }), 300);
  assert.throws(() => vp8MaxIntraFromEnv({ MIXER_VP8_MAX_INTRA_PCT: '-1' }), /MIXER_VP8_MAX_INTRA_PCT/);
  assert.throws(() => vp8MaxIntraFromEnv({ MIXER_VP8_MAX_INTRA_PCT: '9.5' }), /MIXER_VP8_MAX_INTRA_PCT/);
  assert.throws(() => loadConfig({ MIXER_VP8_MAX_INTRA_PCT: 'lots' }), /MIXER_VP8_MAX_INTRA_PCT/);
  assert.throws(() => loadConfig({ MIXER_VP8_THREADS: '0' }), /MIXER_VP8_THREADS/);
});

test('audio process: one WAV socket, a channel per slot, cut at 20 ms; commands on azmq; one Opus encode per distinct mix', () => {
  const spec = buildAudioMixerSpec(DEFAULT_MIXER_SETTINGS, audioEndpoints(4), 4);
  assert.is(spec.inputs.length, 1);
  assert.is(spec.inputs[0].url, 'unix:/tmp/mcu-x/audio.sock');
  assert.ok(spec.inputs[0].options.join(' ').includes('-f wav -ignore_length 1 -max_size 15360'), 'one 20 ms write (4 × 960 f32) per packet');
  assert.ok(spec.inputs[0].options.join(' ').includes('-listen 1'));
  const g = spec.filterComplex;
  assert.match(g, /^\[0:a\]azmq=b=ipc\\\\:\/\/\/tmp\/mcu-x\/acmd\.sock,asplit=4\[in0\]\[in1\]\[in2\]\[in3\];/);
  assert.match(g, /\[in2\]pan=mono\|c0=c2,highpass@hp2/);
  assert.match(g, /amerge=inputs=4/);
  // mix-minus: slot 1 hears everyone but itself
  assert.match(g, /\[m1\]pan=mono\|c0=c0\+c2\+c3,acompressor@lim1=[^;]*,asoftclip@clip1=[^;]*\[amm1\]/);
  assert.match(g, /\[mfull\]pan=mono\|c0=c0\+c1\+c2\+c3,acompressor@limfull=[^;]*,asoftclip@clipfull=[^;]*\[afull\]/);
  const argv = specToArgv(spec).join(' ');
  assert.is((argv.match(/-c:a libopus/g) ?? []).length, 5, 'one Opus encode per distinct mix');
  assert.match(argv, /-frame_duration 20 -flush_packets 1 -payload_type 97 -f rtp rtp:\/\/127\.0\.0\.1:5002\?rtcpport=5002/);
  assert.ok(argv.includes('rtp://127.0.0.1:6002?rtcpport=6002'));
  assert.not.match(argv, /libvpx|libx264|:v\]/);
  assert.throws(() => buildAudioMixerSpec(DEFAULT_MIXER_SETTINGS, audioEndpoints(3), 4), /mix-minus ports/);
  assert.throws(() => buildAudioMixerSpec(DEFAULT_MIXER_SETTINGS, audioEndpoints(1), 1), /at least 2/);
  // The level meter: one more split, no filter on it, raw PCM on the last output (after the
  // Opus outputs: ffmpeg writes them in order); none when asked (bench/voice-path's floor).
  assert.match(g, /asplit=6\[mfull\]\[meter\]\[m0\]/);
  assert.not.match(g, /astats|ametadata|asetnsamples/);
  assert.equal(spec.outputs[spec.outputs.length - 1], { url: 'unix:/tmp/mcu-x/meter.sock', options: ['-map', '[meter]', '-c:a', 'pcm_s16le', '-flush_packets', '1', '-f', 's16le'] });
  const bare = buildAudioMixerSpec({ ...DEFAULT_MIXER_SETTINGS, voiceChain: false, meter: false }, audioEndpoints(4), 4).filterComplex;
  assert.match(bare, /asplit=5\[mfull\]\[m0\]\[m1\]\[m2\]\[m3\];/);
  assert.not.match(bare, /meter|arnndn|afftdn|acompressor|asoftclip|highpass/);
});

test('streaming WAV header: float, a channel per slot, sizes open-ended; slots interleaved', () => {
  const h = streamingWavHeader(48000, 4);
  assert.is(h.length, 44);
  assert.is(h.toString('ascii', 0, 4), 'RIFF');
  assert.is(h.toString('ascii', 36, 40), 'data');
  assert.is(h.readUInt16LE(20), 3, 'IEEE float: no 64 KiB S/PDIF probe');
  assert.is(h.readUInt16LE(22), 4);
  assert.is(h.readUInt16LE(32), 16);
  const f = interleaveF32([new Int16Array([0, 16384]), new Int16Array([-32768, 8192])]);
  assert.equal([0, 4, 8, 12].map((o) => f.readFloatLE(o)), [0, -1, 0.5, 0.25]);
  assert.is(h.readUInt32LE(24), 48000);
  assert.is(h.readUInt32LE(40), 0xffffffff);
});

test('nobody watching video: no video encode at all', () => {
  const spec = buildMixerSpec(DEFAULT_MIXER_SETTINGS, endpoints(0), []);
  assert.match(spec.filterComplex, /\[composite\]null\[idle\]/);
  const argv = specToArgv(spec).join(' ');
  assert.not.match(argv, /libvpx|libx264/);
  // FFmpeg refuses to start without an output file: the composite goes to the null muxer.
  assert.match(argv, /-map \[idle\] -c:v wrapped_avframe -f null -$/);
});

test('rejects mismatched ports', () => {
  assert.throws(() => buildMixerSpec(DEFAULT_MIXER_SETTINGS, endpoints(1), RUNGS), /rung ports/);
});

test.run();
