// One runner child: runs the given test files (paths relative to test/) with uvu, marks what it
// does on fd 3 (marks.ts), and exits explicitly once uvu's summary is printed: what a test left
// running (a peer's native threads, a timer) must not decide when, or whether, the process ends.

import { register } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import { run } from 'uvu/run';
import { mark } from './marks.ts';

export async function runChild(names: string[]): Promise<never> {
  register('./resolve-hooks.mjs', import.meta.url);
  const suites = names.map((name) => {
    const file = path.resolve('test', name);
    if (!fs.existsSync(file)) throw new Error(`no test file test/${name}`);
    return { name, file };
  });
  (globalThis as any).__mcuTestFiles = suites.map((s) => s.name);
  await run(suites, { bail: false });
  // Node prints a warning (a listener leak) on a later turn of the loop: let it out before exit,
  // so the runner sees it.
  await new Promise((r) => setImmediate(r));
  mark({ ev: 'done', cpuMs: cpuMsWithChildren() });
  const closeLeftOpen = (globalThis as any)[Symbol.for('mcu.test.wrtcCloseLeftOpen')] as (() => Array<{ file: string; where: string }>) | undefined;
  const left = closeLeftOpen?.() ?? [];
  for (const at of left) {
    console.error(`  ⚠ a wrtc peer connection opened in ${at.where || 'the file itself'} of ${at.file} was still open at the end; closing it`);
    mark({ ev: 'left-open', file: at.file, what: 'a wrtc peer connection', where: at.where });
  }
  process.exit(process.exitCode ?? 0);
}

/**
 * This process's CPU time and that of the processes it has waited for (Linux: /proc/self/stat
 * utime, stime, cutime, cstime in clock ticks of 10 ms): what the file cost the machine, from
 * which the runner tells a file that waits from one that computes.
 */
function cpuMsWithChildren(): number | undefined {
  try {
    const stat = fs.readFileSync('/proc/self/stat', 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // After the command: state is field 3, so utime (14) … cstime (17) are f[11..14].
    return [11, 12, 13, 14].reduce((s, i) => s + Number(f[i]), 0) * 10;
  } catch {
    return undefined;
  }
}
