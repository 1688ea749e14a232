// Drives bench/lib/avProbe-cli.ts (the browser-case probe in its own process): started with a
// readiness timeout, its events handed over in this process's performance.now() time, and an
// idempotent close() that escalates (close on stdin, SIGTERM, SIGKILL) and waits for the exit.

import { spawn, type ChildProcess } from 'node:child_process';
import readline from 'node:readline';
import type { Rect } from './stamp.ts';

export interface AvProbeEvents {
  /** A decoded composite with a new stamp `n`, shown at `at` (this process's performance.now()). */
  onFrame(n: number, at: number): void;
  /** A beep's onset in the played audio, at `at`. */
  onOnset(at: number): void;
}

export class AvProbe {
  private closing: Promise<void> | null = null;
  private readonly exited: Promise<void>;

  private constructor(readonly proc: ChildProcess) {
    this.exited = new Promise((resolve) => (proc.exitCode !== null || proc.signalCode !== null ? resolve() : proc.once('exit', () => resolve())));
  }

  static async start(url: string, rect: Rect, on: AvProbeEvents, readyTimeoutMs = 20_000): Promise<AvProbe> {
    const proc = spawn(process.execPath, ['--import', 'tsx', 'bench/lib/avProbe-cli.ts', url, JSON.stringify(rect)], { stdio: ['pipe', 'pipe', 'inherit'] });
    const probe = new AvProbe(proc);
    const local = (epochMs: number) => epochMs - performance.timeOrigin;
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`A+V probe not ready within ${readyTimeoutMs} ms`)), readyTimeoutMs);
        proc.once('exit', (code, signal) => reject(new Error(`A+V probe exited before ready (${code ?? signal})`)));
        readline.createInterface({ input: proc.stdout! }).on('line', (line) => {
          let m: { ready?: true; frame?: number; at?: number; onset?: number; error?: string };
          try {
            m = JSON.parse(line);
          } catch {
            return; // not one of ours (a library's own output)
          }
          if (m.ready) clearTimeout(timer), resolve();
          else if (m.error) clearTimeout(timer), reject(new Error(`A+V probe: ${m.error}`));
          else if (m.frame !== undefined) on.onFrame(m.frame, local(m.at!));
          else if (m.onset !== undefined) on.onOnset(local(m.onset));
        });
      });
    } catch (err) {
      await probe.close();
      throw err;
    }
    return probe;
  }

  get pid(): number {
    return this.proc.pid ?? 0;
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      const escalate = async (ms: number) => Promise.race([this.exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms).unref())]);
      if (!this.proc.stdin?.destroyed) this.proc.stdin?.end('close\n');
      if (await escalate(5000)) return;
      this.proc.kill('SIGTERM');
      if (await escalate(2000)) return;
      this.proc.kill('SIGKILL');
      await this.exited;
    })();
    return this.closing;
  }
}
