// The Dockerfile cannot be built here (no container daemon), so its one failure-prone layer is
// checked statically: `npm ci` runs the project's install script, which needs the build scripts
// and the addons' sources, so they must be copied before it (an audit found they were not:
// "Cannot find module scripts/build-opus.mjs"). The layer's steps were replayed by hand in a
// temporary directory (docs/DEPLOY.md, "Docker and compose").

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';

const lines = fs.readFileSync('Dockerfile', 'utf8').split('\n').map((l) => l.trim());
const pkg = JSON.parse(fs.readFileSync('package.json', 'utf8'));

test('everything the install script reads is copied before npm ci', () => {
  const ci = lines.findIndex((l) => /^RUN .*npm ci\b/.test(l));
  assert.ok(ci > 0, 'a RUN npm ci layer');
  const copied = lines.slice(0, ci).filter((l) => l.startsWith('COPY ')).flatMap((l) => l.split(/\s+/).slice(1, -1));
  const covered = (file: string) => copied.some((c) => c === file || (c.endsWith('/') && file.startsWith(c)));
  const needs = [...pkg.scripts.install.matchAll(/node\s+(\S+)/g)].map((m: RegExpMatchArray) => m[1]);
  assert.ok(needs.length >= 1, pkg.scripts.install);
  for (const f of needs) {
    assert.ok(fs.existsSync(f), `${f} exists`);
    assert.ok(covered(f), `${f} is copied before npm ci (copied: ${copied.join(' ')})`);
  }
  // The builder imports scripts/lib and compiles native/<name>/.
  assert.ok(covered('scripts/lib/build-addon.mjs'), 'scripts/lib is copied before npm ci');
  for (const dir of fs.readdirSync('native')) assert.ok(covered(`native/${dir}/binding.gyp`), `native/${dir} is copied before npm ci`);
});

test('host-built addons and generated media stay out of the image context', () => {
  const ignore = fs.readFileSync('.dockerignore', 'utf8').split('\n').map((l) => l.trim());
  for (const p of ['node_modules', 'native/*/build', 'dist']) assert.ok(ignore.includes(p), `.dockerignore has ${p}`);
});

test.run();
