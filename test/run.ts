// Test entry point: runs every test/**/*.test.ts with uvu, then exits. (uvu's CLI waits for
// the event loop to drain, and libwebrtc's native threads can keep it alive after the last
// peer connection closed.) `npm test -- e2e` runs only the files whose path contains "e2e".

import { parse } from 'uvu/parse';
import { run } from 'uvu/run';

const filter = process.argv[2];
const LIMIT_MS = 30 * 60 * 1000;
const watchdog = setTimeout(() => {
  console.error(`tests still running after ${LIMIT_MS / 60000} min: giving up`);
  process.exit(1);
}, LIMIT_MS);
watchdog.unref();

const ctx = await parse('test', /\.test\.ts$/, { ignore: ['helpers'], cwd: process.cwd() } as any);
const suites = filter ? ctx.suites.filter((s: { file: string }) => s.file.includes(filter)) : ctx.suites;
await run(suites, { bail: false } as any);
process.exit(process.exitCode ?? 0);
