// Rules for the test files themselves: a test that cannot run here says so with skip(reason)
// (counted as skipped, never as passed), and no test run writes into the tree (the pictures in
// docs/ come from `npm run docs:screens` through test/helpers/docsScreens.ts).

import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const ROOT = path.resolve(import.meta.dirname, '..', '..');

function testFiles(): string[] {
  const out: string[] = [];
  for (const dir of ['test/e2e', 'test/interop', 'test/unit']) {
    for (const name of fs.readdirSync(path.join(ROOT, dir))) if (name.endsWith('.test.ts')) out.push(path.join(dir, name));
  }
  return out;
}

/** A test or before hook whose first statement is a bare `if (…) return;`. */
const EARLY_RETURN = /(?:\btest\(\s*(?:'[^'\n]*'|"[^"\n]*"|`[^`\n]*`)\s*,|\.before\()\s*async\s*\([^)]*\)\s*=>\s*\{\s*\n\s*if \(([^\n]*)\) return;/g;

test('the early-return finder finds a silent return and accepts a skip', () => {
  const silent = "test('x', async (ctx) => {\n  if (!ctx.tool) return;\n  run();\n});\ntest.before(async (ctx) => {\n  if (missing) return;\n});";
  assert.equal([...silent.matchAll(EARLY_RETURN)].map((m) => m[1]), ['!ctx.tool', 'missing']);
  const told = "test('x', async (ctx) => {\n  if (!ctx.tool) return skip('no tool');\n});";
  assert.equal([...told.matchAll(EARLY_RETURN)], []);
});

test('a test that cannot run calls skip(reason) instead of returning as a pass', () => {
  const silent: string[] = [];
  for (const file of testFiles()) {
    for (const m of fs.readFileSync(path.join(ROOT, file), 'utf8').matchAll(EARLY_RETURN)) silent.push(`${file}: if (${m[1]}) return;`);
  }
  assert.equal(silent, []);
});

test('no test names a picture in docs/: they go through docsScreenPath()', () => {
  const writers: string[] = [];
  for (const file of testFiles()) {
    if (file === path.join('test', 'unit', 'test-hygiene.test.ts')) continue;
    const text = fs.readFileSync(path.join(ROOT, file), 'utf8');
    for (const m of text.matchAll(/['"`]docs\/[^'"`]*\.(?:png|jpe?g|svg|webp)['"`]/g)) writers.push(`${file}: ${m[0]}`);
  }
  assert.equal(writers, []);
});

test.run();
