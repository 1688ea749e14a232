// The child's side of the runner's protocol: one JSON object a line on a file descriptor of its
// own (fd 3), written synchronously, so the last line before a crash is always on record and
// uvu's own output (and anything a test prints) stays as it is.

import fs from 'node:fs';

/** What the child reports; the parent (test/helpers/runner/file-run.ts) reads these. */
export type Mark =
  | { ev: 'hook'; file: string; suite: string; hook: string; test: string }
  | { ev: 'start'; file: string; suite: string; test: string }
  | { ev: 'pass'; file: string; suite: string; test: string; hook?: string }
  /** `error`: the first lines of what was thrown, repeated at the end of a run (CI shows its tail). */
  | { ev: 'fail'; file: string; suite: string; test: string; hook?: string; error?: string }
  | { ev: 'skip'; file: string; suite: string; test: string; reason: string }
  | { ev: 'suite'; file: string; suite: string; tests: number }
  | { ev: 'left-open'; file: string; what: string; where: string }
  /** `cpuMs`: CPU time of the child and of every process it has reaped (its FFmpegs, servers, peers). */
  | { ev: 'done'; cpuMs?: number };

export const MARKS_FD_ENV = 'MCU_TEST_MARKS_FD';

/** Where the child is: the file and the test or hook running (set by uvu-marked.ts). */
export const current = { file: '', where: '' };

const fd = Number(process.env[MARKS_FD_ENV]) || null;
// Not inherited by what the tests spawn: their fd 3 is something else.
delete process.env[MARKS_FD_ENV];

export function mark(m: Mark): void {
  if (fd === null) return;
  try {
    fs.writeSync(fd, JSON.stringify(m) + '\n');
  } catch {
    /* the runner is gone; the test goes on */
  }
}
