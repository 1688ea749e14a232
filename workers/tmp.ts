// Temporary files of this process (unix sockets, SDP files, segment directories) live in
// directories named after the pid that owns them, so that whatever a killed process left
// behind is found and removed by the next start of a server or worker on this machine.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const OWNED = /^mcu-p(\d+)-/;

/** A fresh directory for `kind` (letters, digits, "-", "_"), owned by this process. */
export function makeTempDir(kind: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `mcu-p${process.pid}-${kind.replace(/[^A-Za-z0-9_-]/g, '_')}-`));
}

/** The same, async. */
export function makeTempDirAsync(kind: string): Promise<string> {
  return fs.promises.mkdtemp(path.join(os.tmpdir(), `mcu-p${process.pid}-${kind.replace(/[^A-Za-z0-9_-]/g, '_')}-`));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes temp entries whose owning process is gone; returns how many. */
export function sweepStaleTempDirs(dir = os.tmpdir()): number {
  let removed = 0;
  let entries: string[] = [];
  try {
    entries = fs.readdirSync(dir);
  } catch {
    return 0;
  }
  for (const name of entries) {
    const m = OWNED.exec(name);
    if (!m || Number(m[1]) === process.pid || alive(Number(m[1]))) continue;
    try {
      fs.rmSync(path.join(dir, name), { recursive: true, force: true });
      removed++;
    } catch {
      /* another sweeper got it */
    }
  }
  return removed;
}
