// Runs a benchmark in smoke mode and returns what it printed and its result file.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import * as assert from 'uvu/assert';

/** `args`: more options; `resultName`: the result file's name when the options change it. */
export function runBench(name: string, args: string[] = [], resultName = name): { stdout: string; result: any } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', `bench/${name}.ts`, '--smoke', ...args], { encoding: 'utf8', timeout: 240_000 });
  assert.is(r.status, 0, `${name}: ${r.stderr}`);
  return { stdout: r.stdout, result: JSON.parse(fs.readFileSync(`bench/results/${resultName}.smoke.json`, 'utf8')) };
}
export const finite = (v: unknown) => typeof v === 'number' && Number.isFinite(v);

