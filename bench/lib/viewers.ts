// A process of counting WHEP viewers (bench/lib/viewers-cli.ts) driven over stdin/stdout: one
// JSON answer per command. The benchmarks keep viewers in their own processes so the server's
// CPU is its own.

import { spawn, type ChildProcess } from 'node:child_process';
import readline from 'node:readline';

export interface ViewerProc {
  proc: ChildProcess;
  ask(cmd: string): Promise<any>;
}

export function startViewers(url: string): ViewerProc {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'bench/lib/viewers-cli.ts', url], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = readline.createInterface({ input: proc.stdout! })[Symbol.asyncIterator]();
  return {
    proc,
    async ask(cmd: string) {
      proc.stdin!.write(`${cmd}\n`);
      return JSON.parse((await lines.next()).value as string);
    },
  };
}
