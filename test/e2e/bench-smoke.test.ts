// Each benchmark, in smoke mode: it runs to completion and produces its figures (not values).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import { spawnSync } from 'node:child_process';

test('bench:join produces MCU and direct-call figures and their ratio', () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'bench/join.ts', '--smoke'], { encoding: 'utf8', timeout: 120_000 });
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /join: MCU p50 \d+ ms, p95 \d+ ms \| direct call p50 \d+ ms/);
  const j = JSON.parse(fs.readFileSync('bench/results/join.smoke.json', 'utf8'));
  for (const v of [j.mcuMs.p50, j.mcuMs.p95, j.directMs.p50, j.directMs.p95, j.ratio.p50]) assert.ok(Number.isFinite(v) && v > 0);
});

function runBench(name: string): { stdout: string; result: any } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', `bench/${name}.ts`, '--smoke'], { encoding: 'utf8', timeout: 240_000 });
  assert.is(r.status, 0, `${name}: ${r.stderr}`);
  return { stdout: r.stdout, result: JSON.parse(fs.readFileSync(`bench/results/${name}.smoke.json`, 'utf8')) };
}
const finite = (v: unknown) => typeof v === 'number' && Number.isFinite(v);

test('bench:latency produces video and audio latency through the MCU and directly, and the difference', () => {
  const { stdout, result } = runBench('latency');
  assert.match(stdout, /video glass-to-glass: MCU p50 [\d.]+ .*\| direct p50 [\d.]+ .*\| added p50 -?[\d.]+ ms/);
  for (const k of ['videoMs', 'audioMs']) {
    const x = result[k];
    assert.ok(x.mcu.n > 0 && x.direct.n > 0, `${k}: samples on both paths`);
    for (const v of [x.mcu.p50, x.mcu.p95, x.mcu.max, x.direct.p50, x.direct.p95, x.addedP50, x.ratioP50]) assert.ok(finite(v), `${k}: ${JSON.stringify(x)}`);
  }
});

test('bench:capacity produces rooms held, CPU and memory per room, and the bare-FFmpeg floor with the ratio', () => {
  const { stdout, result } = runBench('capacity');
  assert.match(stdout, /capacity: \d+ room\(s\) held .* floor \(bare FFmpeg\) [\d.]+ cores \| ratio [\d.]+x/);
  assert.ok(result.steps.length >= 1);
  for (const v of [result.cpuPerRoomCores, result.memoryPerRoomMB, result.floor.cpuPerRoomCores, result.ratioToFloor, result.steps[0].minFps]) assert.ok(finite(v) && v > 0, JSON.stringify(result));
});

test('bench:fanout produces subscribers per core, CPU per 100 subscribers, and its floor', () => {
  const { stdout, result } = runBench('fanout');
  assert.match(stdout, /fanout: \d+ subscribers held .* per core of Node/);
  for (const v of [result.subscribersPerCore, result.cpuPer100SubscribersCores, result.floor.nodeCores, result.steps[0].worstDeliveredPercent]) assert.ok(finite(v), JSON.stringify(result));
});

test.run();
