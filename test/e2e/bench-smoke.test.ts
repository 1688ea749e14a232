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

test.run();
