// A child started ahead of its turn (the runner starts the next file's process while one runs
// alone): it loads what its test file imports, the part of a start that costs (~1.1 s of the
// ~1.5 s: the server's ~160 modules through tsx), then waits until the runner says go. Only the
// file's static imports, in the file's order, are loaded: their modules are evaluated in the
// order the file's own import would evaluate them, and nothing of the file itself runs early
// (its body, its dynamic imports, what it sets in process.env before one).

import { pathToFileURL } from 'node:url';

export const WARM_ENV = 'MCU_TEST_WARM';

/** The specifiers of a module's static value imports, in order (`import type` left out). */
export function staticImports(source: string): string[] {
  const out: string[] = [];
  const re = /^import\s+(?!type\s)(?:[\w*${}\s,]+?\s+from\s+)?(['"])([^'"\n]+)\1/gm;
  for (const m of source.matchAll(re)) out.push(m[2]);
  return out;
}

/** Loads `file`'s static imports (uvu's deferred mode on first, as uvu/run sets it). */
export async function warmImports(file: string, source: string): Promise<void> {
  (globalThis as { UVU_DEFER?: number }).UVU_DEFER = 1;
  const base = pathToFileURL(file);
  for (const spec of staticImports(source)) {
    try {
      await import(spec.startsWith('.') ? new URL(spec, base).href : spec);
    } catch {
      // The file's own import fails the same way, and is reported as a failure to load it.
      return;
    }
  }
}

/** Resolves when the runner ends this process's stdin: its turn has come. */
export function untilGo(): Promise<void> {
  return new Promise((resolve) => {
    process.stdin.on('data', () => {});
    process.stdin.once('end', () => resolve());
    process.stdin.once('error', () => resolve());
    process.stdin.resume();
  });
}
