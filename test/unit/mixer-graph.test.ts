import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { rungFor } from '../../pipeline/ladder.ts';
import {
  buildMixerSpec,
  capacityFor,
  DEFAULT_MIXER_SETTINGS,
  placementCommands,
  specToArgv,
  type SlotPlacement,
} from '../../pipeline/mixer/graph.ts';

const endpoints = (c: number, rungs = 2) => ({
  socketDir: '/tmp/mcu-x',
  rungRtpPorts: Array.from({ length: rungs }, (_, r) => 5000 + 2 * r),
  fullMixRtpPort: 5002,
  mixMinusRtpPorts: Array.from({ length: c }, (_, k) => 6000 + 2 * k),
});
const RUNGS = [rungFor('720p', 'vp8')!, rungFor('360p', 'h264')!];
const hidden: SlotPlacement = { visible: false, rect: { x: 0, y: 0, width: 16, height: 16 } };
const shown = (x: number, y: number, w = 640, h = 360): SlotPlacement => ({ visible: true, rect: { x, y, width: w, height: h } });

test('capacity tiers', () => {
  assert.is(capacityFor(1), 4);
  assert.is(capacityFor(4), 4);
  assert.is(capacityFor(5), 8);
  assert.is(capacityFor(16), 16);
});

test('inputs: trigger first, then one video and one audio socket per slot, all listening', () => {
  const spec = buildMixerSpec(DEFAULT_MIXER_SETTINGS, endpoints(4), [shown(0, 0), hidden, hidden, hidden], RUNGS);
  assert.is(spec.inputs.length, 1 + 4 + 4 + 2, 'canvas trigger, 4 video, 4 audio, a trigger per rung');
  assert.is(spec.inputs[9].url, 'unix:/tmp/mcu-x/t-720p.sock');
  assert.is(spec.inputs[0].url, 'unix:/tmp/mcu-x/trigger.sock');
  assert.ok(spec.inputs[1].options.includes('rawvideo'));
  assert.ok(spec.inputs[1].options.join(' ').includes('-video_size 640x360 -framerate 30'));
  assert.ok(spec.inputs[5].options.join(' ').includes('-f s16le -ar 48000 -ac 1'));
  for (const i of spec.inputs) {
    assert.ok(i.options.join(' ').includes('-listen 1'));
    assert.ok(i.options.join(' ').includes('-fflags nobuffer'));
  }
});

test('filter graph: commandable scale and overlay per slot, keyframes from the trigger', () => {
  const spec = buildMixerSpec(DEFAULT_MIXER_SETTINGS, endpoints(4), [shown(0, 0), shown(640, 0), hidden, hidden], RUNGS);
  const g = spec.filterComplex;
  assert.match(g, /\[0:v\]zmq=b=ipc\\\\:\/\/\/tmp\/mcu-x\/cmd\.sock/);
  assert.match(g, /scale@s0=w=640:h=360/);
  assert.match(g, /overlay@o1=x=640:y=0:eval=frame/);
  assert.match(g, /overlay@o2=x=0:y=0:[^;]*enable=0/);
  assert.match(g, /amerge=inputs=4/);
  // mix-minus: slot 1 hears everyone but itself
  assert.match(g, /\[m1\]pan=mono\|c0=c0\+c2\+c3\[amm1\]/);
  assert.match(g, /\[mfull\]pan=mono\|c0=c0\+c1\+c2\+c3\[afull\]/);
  const argv = specToArgv(spec).join(' ');
  assert.ok(argv.includes('-force_key_frames source'));
  assert.match(argv, /-map \[rung0\] -fps_mode passthrough -c:v libvpx -deadline realtime -cpu-used 8 -lag-in-frames 0 -error-resilient 1 -threads 2 -b:v 1500k/);
  assert.match(argv, /-map \[rung1\] -fps_mode passthrough -c:v libx264 -preset veryfast -tune zerolatency -profile:v baseline .* -b:v 400k/);
  // each rung: its own trigger (keyframes) with the composite scaled over it
  assert.match(g, /\[10:v\]scale=640:360:flags=neighbor,format=yuv420p\[rt1\]/);
  assert.match(g, /\[vs1\]scale=640:360:flags=bilinear\[sc1\]/);
  assert.match(g, /\[composite\]split=2\[vs0\]\[vs1\]/);
  assert.is((argv.match(/-c:a libopus/g) ?? []).length, 5, 'one Opus encode per distinct mix');
  assert.ok(argv.includes('rtp://127.0.0.1:6002?rtcpport=6002'));
});

test('nobody watching video: no video encode at all', () => {
  const spec = buildMixerSpec(DEFAULT_MIXER_SETTINGS, endpoints(4, 0), [hidden, hidden, hidden, hidden], []);
  assert.match(spec.filterComplex, /\[composite\]nullsink/);
  assert.not.match(specToArgv(spec).join(' '), /libvpx|libx264/);
});

test('rejects mismatched ports and too few slots', () => {
  assert.throws(() => buildMixerSpec(DEFAULT_MIXER_SETTINGS, endpoints(3), [hidden, hidden, hidden, hidden], RUNGS), /mix-minus ports/);
  assert.throws(() => buildMixerSpec(DEFAULT_MIXER_SETTINGS, endpoints(4, 1), [hidden, hidden, hidden, hidden], RUNGS), /rung ports/);
  assert.throws(() => buildMixerSpec(DEFAULT_MIXER_SETTINGS, endpoints(1), [hidden], RUNGS), /at least 2/);
});

test('placement commands: only what changed, shown slots placed before enabled', () => {
  const prev = [shown(0, 0), shown(640, 0), hidden, hidden];
  const next = [shown(0, 180), hidden, shown(640, 180), hidden];
  const cmds = placementCommands(prev, next).map((c) => `${c.target} ${c.command} ${c.arg}`);
  assert.equal(cmds, [
    'overlay@o0 y 180',
    'overlay@o1 enable 0',
    'scale@s1 w 16',
    'scale@s1 h 16',
    'overlay@o1 x 0',
    'scale@s2 w 640',
    'scale@s2 h 360',
    'overlay@o2 x 640',
    'overlay@o2 y 180',
    'overlay@o2 enable 1',
  ]);
  assert.equal(placementCommands(next, next), []);
});

test.run();
