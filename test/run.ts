// Test entry point. Each test file runs in a process of its own (uvu inside), so one suite's
// peers, FFmpeg processes and heap cannot disturb the timing of the next, and a process that
// libwebrtc's native threads keep alive is ended once its suite is done.
//   npm test                 every test/**/*.test.ts
//   npm test -- e2e          only files whose path contains "e2e"

import { spawn } from 'node:child_process';
import { parse } from 'uvu/parse';
import { run } from 'uvu/run';

const SUITE_LIMIT_MS = 10 * 60 * 1000;

if (process.argv[2] === '--one') {
  const file = process.argv[3];
  const ctx = await parse('test', /\.test\.ts$/, { ignore: ['helpers'], cwd: process.cwd() } as any);
  await run(ctx.suites.filter((s: { file: string }) => s.file.endsWith(file)), { bail: false } as any);
  process.exit(process.exitCode ?? 0);
}

const filter = process.argv[2];
const ctx = await parse('test', /\.test\.ts$/, { ignore: ['helpers'], cwd: process.cwd() } as any);
const files: string[] = ctx.suites.map((s: { name: string }) => s.name).filter((n: string) => !filter || n.includes(filter));
let passed = 0;
let failed = 0;
const failedFiles: string[] = [];
for (const name of files) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/run.ts', '--one', name], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d;
    process.stdout.write(d);
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), SUITE_LIMIT_MS);
  const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  clearTimeout(timer);
  const plain = out.replace(/\x1b\[[0-9;]*m/g, '');
  const total = Number(/Total:\s+(\d+)/.exec(plain)?.[1] ?? 0);
  const ok = Number(/Passed:\s+(\d+)/.exec(plain)?.[1] ?? 0);
  passed += ok;
  const bad = code === 0 ? total - ok : Math.max(1, total - ok);
  failed += bad;
  if (bad) failedFiles.push(name);
}
console.log(`\n${files.length} files${failedFiles.length ? `; failing: ${failedFiles.join(', ')}` : ''}`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
