import { spawnSync } from 'node:child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mallocTrimAddon, MemoryTrimmer } from '../../workers/mallocTrim.ts';
import { skip } from '../helpers/skip.ts';

const lib = mallocTrimAddon();
const ADDON_FILE = new URL('../../native/malloctrim/build/Release/malloctrim.node', import.meta.url).pathname;

test('malloc_trim gives a fragmented heap’s free pages back: RSS drops, the live memory stays', () => {
  if (!lib) return skip('native/malloctrim is not built (npm run build:malloctrim)');
  // 60 MB of 4 KB native blocks (Buffer.allocUnsafeSlow: malloc from the main heap), every 64th
  // kept alive so the heap cannot shrink from its top; freed, collected, then trimmed.
  const child = `
    const lib = require(process.argv[1]);
    const rss = () => Number(require('node:fs').readFileSync('/proc/self/statm', 'utf8').split(' ')[1]) * 4096;
    let blocks = Array.from({ length: 15000 }, () => Buffer.allocUnsafeSlow(4096).fill(1));
    const kept = blocks.filter((_, i) => i % 64 === 0);
    blocks = null;
    (async () => {
      // V8 frees collected buffers' memory on a background sweeper: wait until malloc has it back.
      for (let i = 0; i < 100 && lib.info().freeBytes < 40 * 1048576; i++) {
        globalThis.gc();
        await new Promise((r) => setTimeout(r, 20));
      }
      const before = rss(), free = lib.info().freeBytes;
      const released = lib.trim();
      const after = rss();
      const intact = kept.every((b) => b.every((x) => x === 1));
      console.log(JSON.stringify({ before, after, free, released, intact, info: lib.info() }));
    })();
  `;
  const r = spawnSync(process.execPath, ['--expose-gc', '-e', child, ADDON_FILE], { encoding: 'utf8', env: { ...process.env, MALLOC_MMAP_THRESHOLD_: '131072' } });
  assert.is(r.status, 0, r.stderr);
  const m = JSON.parse(r.stdout);
  const mb = (b: number) => (b / 1048576).toFixed(1);
  assert.ok(m.free > 40 * 1048576, `the freed blocks are free heap: ${mb(m.free)} MB`);
  assert.ok(m.released, 'malloc_trim released memory');
  assert.ok(m.intact, 'the blocks still alive keep their contents');
  assert.ok(m.before - m.after > 30 * 1048576, `RSS ${mb(m.before)} → ${mb(m.after)} MB`);
  for (const v of Object.values(m.info)) assert.ok(Number.isFinite(v) && (v as number) >= 0, JSON.stringify(m.info));
});

test('MemoryTrimmer: off at interval 0, on otherwise; close() twice is fine', () => {
  const off = new MemoryTrimmer(0);
  assert.is(off.active, false);
  off.close();
  const on = new MemoryTrimmer(60_000, { trim: () => true, info: () => ({ heapBytes: 0, freeBytes: 0, mmapBytes: 0 }) });
  assert.is(on.active, true);
  on.close();
  on.close();
  assert.is(on.active, false);
  assert.is(new MemoryTrimmer(60_000, null).active, false, 'without the addon nothing runs');
});

test.run();
