// docs/DEPLOY.md lists every environment variable the server, logger and recording worker read
// (a new setting without documentation fails here).

import fs from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const root = new URL('../../', import.meta.url);
const read = (p: string) => fs.readFileSync(new URL(p, root), 'utf8');
const SOURCES = ['server/config.ts', 'server/rooms/Room.ts', 'workers/log.ts', 'workers/recorder/main.ts', 'workers/ffmpeg/FfmpegProcess.ts'];
const NOT_SETTINGS = new Set(['PATH', 'NODE_ENV', 'HOME']);

function variablesRead(src: string): string[] {
  const names = new Set<string>();
  for (const m of src.matchAll(/\benv\.([A-Z][A-Z0-9_]{2,})\b/g)) names.add(m[1]);
  // envInt(env, 'NAME', …) and config.ts's int('NAME', …)
  for (const m of src.matchAll(/\b(?:envInt\(\s*\w+,|int\()\s*'([A-Z][A-Z0-9_]{2,})'/g)) names.add(m[1]);
  return [...names].filter((n) => !NOT_SETTINGS.has(n));
}

test('every variable read is in docs/DEPLOY.md', () => {
  const doc = read('docs/DEPLOY.md');
  const all = new Set(SOURCES.flatMap((f) => variablesRead(read(f))));
  for (const n of ['ICE_ANNOUNCED_IP', 'ICE_UDP_PORT_MIN', 'PORT', 'LOG_LEVEL', 'RECORDER_CONCURRENCY']) assert.ok(all.has(n), `the scan finds ${n}`);
  const missing = [...all].filter((n) => !doc.includes(`\`${n}\``));
  assert.equal(missing, [], `not documented in docs/DEPLOY.md: ${missing.join(', ')}`);
});

test.run();
