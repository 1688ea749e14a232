// The logs of server processes a test starts (each its LOG_FILE in one temporary directory),
// printed when one of the file's tests fails: a failure across nodes is read there, and CI keeps
// only what the test printed.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Test } from 'uvu';

/** What the lines printed on a failure are about (HTTP request lines aside). */
const INTERESTING = /edge|pull|subscri|particip|mixer|keyframe|cluster|room|drain|"level":"(warn|error|fatal)"/i;

export class NodeLogs {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'node-logs-'));
  private readonly names: string[] = [];

  /** The LOG_FILE of the node named `name`. */
  file(name: string): string {
    if (!this.names.includes(name)) this.names.push(name);
    return path.join(this.dir, `${name}.log`);
  }

  /** The last `lines` interesting lines of each node's log. */
  print(lines = 80): void {
    for (const name of this.names) {
      const f = this.file(name);
      const all = fs.existsSync(f) ? fs.readFileSync(f, 'utf8').split('\n').filter((l) => INTERESTING.test(l) && !/"component":"http".*"status":[23]\d\d/.test(l)) : [];
      console.log(`--- ${name}: ${all.length} lines of its log (last ${lines})\n${all.slice(-lines).join('\n')}`);
    }
  }

  close(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** `test(name, body)` that prints the nodes' logs when the body throws. */
export function printingLogs<C>(test: Test<C>, logs: (ctx: C) => NodeLogs | undefined): (name: string, body: (ctx: C) => Promise<void>) => void {
  return (name, body) =>
    test(name, async (ctx) => {
      try {
        await body(ctx);
      } catch (err) {
        logs(ctx)?.print();
        throw err;
      }
    });
}
