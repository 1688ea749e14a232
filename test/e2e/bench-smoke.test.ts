// Each benchmark, in smoke mode: it runs to completion and produces its figures (not values).
// latency, capacity (and --simulcast) and fanout (with --tracks 3) here; join, browser,
// room-profile and ssim in bench-smoke-join (the two files share the two cores: 51 and 199 s in
// a full run with room-profile and ssim here; 2026-11-27 with #23's two cases: 173 and 81 s).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { finite, runBench } from '../helpers/bench-smoke.ts';

test('bench:latency produces video and audio latency through the MCU and directly, and the difference', () => {
  const { stdout, result } = runBench('latency');
  assert.match(stdout, /video glass-to-glass: MCU p50 [\d.]+ .*\| direct p50 [\d.]+ .*\| added p50 -?[\d.]+ ms/);
  for (const k of ['videoMs', 'audioMs']) {
    const x = result[k];
    assert.ok(x.mcu.n > 0 && x.direct.n > 0, `${k}: samples on both paths`);
    for (const v of [x.mcu.p50, x.mcu.p95, x.mcu.max, x.direct.p50, x.direct.p95, x.addedP50, x.ratioP50]) assert.ok(finite(v), `${k}: ${JSON.stringify(x)}`);
  }
  // The browser case first: one subscriber taking audio and video together.
  assert.match(stdout, /audio\+video subscriber, video glass-to-glass: MCU p50 [\d.]+/);
  for (const k of ['videoMs', 'audioMs']) {
    const x = result.both[k];
    assert.ok(x.mcu.n > 0 && x.direct.n > 0, `both.${k}: samples on both paths`);
    for (const v of [x.mcu.p50, x.mcu.p95, x.direct.p50, x.direct.p95]) assert.ok(finite(v), `both.${k}: ${JSON.stringify(x)}`);
  }
  assert.ok(finite(result.both.skewVideoMinusAudioP50Ms.mcu) && finite(result.both.jitterBufferMs.mcu.audio), JSON.stringify(result.both));
});

test('bench:capacity produces rooms held (A+V p95), CPU per room against the bare-FFmpeg floor, and voice processing on vs off', () => {
  const { stdout, result } = runBench('capacity');
  assert.match(stdout, /capacity: \d+ room\(s\) held .*load generator [\d.]+ cores per room .* floor \(bare FFmpeg\) [\d.]+ cores \| ratio [\d.]+x/);
  assert.match(stdout, /voice processing at \d+ room\(s\): per room [\d.]+ cores on, [\d.]+ off \| ratio on\/off [\d.]+x/);
  assert.ok(result.steps.length >= 1 && result.stepsVoiceOff.length >= 1);
  const s = result.steps[0];
  for (const v of [result.cpuPerRoomCores, result.memoryPerRoomMB, result.floor.cpuPerRoomCores, result.ratioToFloor, s.minFps, s.loadGeneratorCores]) assert.ok(finite(v) && v > 0, JSON.stringify(result));
  // The browser case: one subscriber per room taking audio + video, both measured.
  assert.ok(s.perRoom[0].videoN > 0 && s.perRoom[0].audioN > 0 && finite(s.videoP95Ms) && finite(s.audioP95Ms), JSON.stringify(s));
  for (const v of [result.voice.cpuPerRoomOnCores, result.voice.cpuPerRoomOffCores, result.voice.ratioOnToOff]) assert.ok(finite(v) && v > 0, JSON.stringify(result.voice));
});

test('bench:capacity --simulcast produces decode work and CPU per room, simulcast against single-layer, and the floor', () => {
  const { stdout, result } = runBench('capacity', ['--simulcast'], 'capacity-simulcast');
  assert.match(stdout, /capacity simulcast: decode [\d.]+ vs [\d.]+ Mpixel\/s per room single-layer \| ratio [\d.]+x \| CPU per room [\d.]+ vs [\d.]+ cores \| ratio [\d.]+x/);
  for (const v of [result.decodeWorkRatio, result.cpuPerRoomRatio, result.floor.cpuPerRoomCores, result.ratioToFloorSimulcast, result.simulcast.decodedMpixelsPerSecPerRoom, result.single.decodedMpixelsPerSecPerRoom]) assert.ok(finite(v) && v > 0, JSON.stringify(result));
  assert.ok(result.simulcast.minFps > 0 && result.single.minFps > 0, JSON.stringify(result));
});

// With --tracks 3 (the mix ramp as without it, then viewers taking ?tracks=3): one run for both.
test('bench:fanout produces subscribers per core, CPU per 100 subscribers, and its floor; --tracks 3 the same for tracks viewers against the mix', () => {
  const { stdout, result } = runBench('fanout', ['--tracks', '3'], 'fanout-tracks');
  assert.match(stdout, /fanout: \d+ subscribers held .* per core of Node/);
  for (const v of [result.subscribersPerCore, result.cpuPer100SubscribersCores, result.floor.nodeCores, result.steps[0].worstDeliveredPercent]) assert.ok(finite(v), JSON.stringify(result));
  assert.match(stdout, /fanout tracks=3: \d+ tracks subscribers held .* per core of Node .* against the mix: [\d.]+x per core/);
  const t = result.tracks;
  for (const v of [t.subscribersPerCore, t.ratioToMixPerCore, t.ratioToFloor, t.floor.nodeCores, t.steps[0].worstDeliveredPercent]) assert.ok(finite(v), JSON.stringify(t));
});

test.run();
