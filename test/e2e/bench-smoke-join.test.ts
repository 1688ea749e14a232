// bench:join, bench:browser, bench/room-profile, bench/ssim, bench:keyframes and bench:spawn in smoke mode: they run to completion
// and produce their figures (not values). The other benchmarks are in bench-smoke.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import { finite, runBench } from '../helpers/bench-smoke.ts';
import { chromiumUnavailable } from '../helpers/browser.ts';
import { skip } from '../helpers/skip.ts';
import { posixSpawnAddon } from '../../workers/ffmpeg/spawnChild.ts';

test('bench:join produces MCU and direct-call figures and their ratio', () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'bench/join.ts', '--smoke'], { encoding: 'utf8', timeout: 120_000 });
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /join: MCU p50 \d+ ms, p95 \d+ ms \| direct call p50 \d+ ms/);
  const j = JSON.parse(fs.readFileSync('bench/results/join.smoke.json', 'utf8'));
  for (const v of [j.mcuMs.p50, j.mcuMs.p95, j.directMs.p50, j.directMs.p95, j.ratio.p50]) assert.ok(Number.isFinite(v) && v > 0);
});

test('bench:browser produces glass-to-glass through the MCU and a direct Chromium call, and join times', () => {
  const why = chromiumUnavailable();
  if (why) return skip(why);
  const { stdout, result } = runBench('browser');
  assert.match(stdout, /video glass-to-glass: MCU p50 [\d.]+ ms.*\| direct p50 [\d.]+ ms.*\| added p50 -?[\d.]+ ms/);
  for (const path of ['mcu', 'direct']) {
    const x = result[path];
    assert.ok(x.video.n > 0 && finite(x.video.p50) && finite(x.video.p95), `${path} video: ${JSON.stringify(x.video)}`);
    assert.ok(x.receiver.video && x.receiver.audio, `${path}: receiver stats`);
    assert.ok(finite(x.cpu.chromiumCores), `${path}: CPU`);
  }
  assert.ok(finite(result.added.videoP50Ms), JSON.stringify(result.added));
  const watch = result.join.watch;
  assert.ok(watch.clickToFirstFrameMs.n > 0 && finite(watch.clickToFirstFrameMs.p50) && finite(watch.postToFirstFrameMs.p50), JSON.stringify(watch));
  // The server runs in its own process: its side of the join and the mix's timing come over HTTP.
  assert.ok(watch.answerToConnectedMs.n > 0 && finite(watch.connectedToFirstPacketMs.p50), JSON.stringify(watch));
  assert.ok(result.mcu.mixer.timing.videoWriteToPacketMs.n > 0 && finite(result.mcu.mixer.timing.audioWriteToPacketMs.p50), JSON.stringify(result.mcu.mixer));
  assert.ok(finite(result.mcu.cpu.serverNodeCores) && result.mcu.cpu.serverNodeCores > 0, `the server's own Node CPU: ${JSON.stringify(result.mcu.cpu)}`);
});

test('bench/room-profile and bench/ssim produce a stage cost, and a tile SSIM with its CPU per encoder setting', () => {
  const prof = runBench('room-profile');
  assert.match(prof.stdout, /1 at once: 4 decodes \+ composite .*: [\d.]+ core per copy/);
  assert.ok(prof.result.rows.length >= 1 && finite(prof.result.rows[0].coresPerCopy) && prof.result.rows[0].coresPerCopy > 0, JSON.stringify(prof.result));
  const ssim = runBench('ssim');
  assert.match(ssim.stdout, /ssim: current \(-threads \d\): [\d.]+ \(0 below current\)/);
  assert.ok(ssim.result.results.length >= 2, JSON.stringify(ssim.result));
  for (const r of ssim.result.results) assert.ok(r.ssimTile > 0.5 && r.ssimTile <= 1 && finite(r.cpuCoresPerCopy) && r.cpuCoresPerCopy > 0, JSON.stringify(r));
});

test('bench:keyframes produces keyframe sizes and SSIM per keyframe cap, the current cap smaller than uncapped', () => {
  const { stdout, result } = runBench('keyframes');
  assert.match(stdout, /keyframes: -max-intra-rate \d+ \(current\): largest keyframe [\d.]+x uncapped's, SSIM -?[\d.]+ below uncapped/);
  for (const r of result.rows) assert.ok(r.keyframes >= 2 && r.firstKeyframeBytes > 0 && r.ssim > 0.5 && r.ssim <= 1 && finite(r.ssimAfterKeyframe), JSON.stringify(r));
  const current = result.rows.find((r: { variant: string }) => r.variant.endsWith('(current)'));
  const uncapped = result.rows.find((r: { maxIntraPct: number }) => r.maxIntraPct === 0);
  // The start's keyframe is where the cap bites (libvpx's buffer is full then): 266 KB → 64 KB on the photograph.
  assert.ok(current.firstKeyframeBytes < uncapped.firstKeyframeBytes, JSON.stringify(result.rows));
});

test('bench:spawn produces the event-loop cost of a spawn, fork against posix_spawn, at two sizes', () => {
  if (!posixSpawnAddon()) return skip('native/posixspawn is not built (npm run build:posixspawn), or MCU_SPAWN=node');
  const { stdout, result } = runBench('spawn');
  assert.match(stdout, /spawn at \d+ MB RSS: fork p50 [\d.]+ .*\| fork \/ posix_spawn [\d.]+x/);
  for (const v of [result.floor.fork.p50Ms, result.floor.posixSpawn.p50Ms, result.big.fork.p50Ms, result.big.posixSpawn.p50Ms, result.forkOverPosixSpawnP50]) assert.ok(finite(v) && v > 0, JSON.stringify(result));
});

test.run();
