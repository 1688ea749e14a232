// The production path: `npm run build` writes plain JavaScript bundles that import only
// runtime dependencies (what `npm ci --omit=dev` installs), and the built server starts,
// answers and stops cleanly.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, spawn } from 'node:child_process';
import { builtinModules } from 'node:module';
import fs from 'node:fs';
import readline from 'node:readline';

const pkg = JSON.parse(fs.readFileSync('package.json', 'utf8'));

test('npm run build → bundles that import only runtime dependencies', () => {
  execFileSync(process.execPath, ['scripts/build.mjs'], { stdio: 'pipe' });
  for (const bundle of ['dist/server.mjs', 'dist/recorder.mjs', 'dist/token.mjs']) {
    const code = fs.readFileSync(bundle, 'utf8');
    const specifiers = new Set<string>();
    for (const m of code.matchAll(/(?:^|\n)\s*import\s[^;]*?from\s*["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g)) specifiers.add(m[1] ?? m[2]);
    assert.ok(specifiers.size > 0, `${bundle}: imports found`);
    for (const s of specifiers) {
      if (s.startsWith('node:') || builtinModules.includes(s)) continue;
      assert.not.ok(s.startsWith('.') || s.startsWith('/'), `${bundle} imports a file of the project (${s}) instead of bundling it`);
      const name = s.startsWith('@') ? s.split('/').slice(0, 2).join('/') : s.split('/')[0];
      assert.ok(pkg.dependencies[name], `${bundle} imports "${s}", which is not a runtime dependency (devDependencies are absent in production)`);
    }
  }
});

test('the built server starts, answers /healthz and stops on SIGTERM', async () => {
  const child = spawn(process.execPath, ['dist/server.mjs'], { env: { ...process.env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', LOG_FILE: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the built server did not say it was listening within 20 s')), 20_000);
      readline.createInterface({ input: child.stdout! }).on('line', (line) => {
        try {
          const j = JSON.parse(line);
          if (j.port) {
            clearTimeout(timer);
            resolve(j.port);
          }
        } catch {
          /* not a log line */
        }
      });
      child.once('exit', (code) => reject(new Error(`the built server exited (${code}) before listening`)));
    });
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    assert.is(health.status, 200);
    const page = await fetch(`http://127.0.0.1:${port}/`);
    assert.is(page.status, 200);
  } finally {
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    assert.is(code, 0, 'SIGTERM ends the built server cleanly');
  }
});

test.run();
