// A test that cannot run here says so and is counted as skipped by the runner (never as a pass):
//   if (!netnsAvailable()) return skip('needs root and ip netns');
// Called in a suite's `before` hook, it skips every test of that suite (its `after` hook still
// runs, so let it cope with what `before` did not set up).

import fs from 'node:fs';
import path from 'node:path';

export function skip(reason: string): void {
  console.log(`  (skipped: ${reason})`);
  (globalThis as any)[Symbol.for('mcu.test.skip')]?.(reason);
}

/** Whether `name` (a command on PATH, or a path) is an executable file here. */
export function hasBinary(name: string): boolean {
  const dirs = name.includes('/') ? [''] : (process.env.PATH ?? '').split(path.delimiter).filter(Boolean);
  return dirs.some((d) => {
    try {
      fs.accessSync(path.join(d, name), fs.constants.X_OK);
      return fs.statSync(path.join(d, name)).isFile();
    } catch {
      return false;
    }
  });
}
