// Starts a child process for FfmpegProcess. Node's child_process.spawn forks the whole server
// on its event loop (libuv uses fork() on Linux), and a fork copies the page tables: 20-100 ms
// at 300-660 MB RSS, a stall every join (a decoder) and every mixer start puts on every room's
// ticks. Where the posix_spawn addon is built (native/posixspawn: CLONE_VM | CLONE_VFORK,
// nothing copied) it starts the child instead, and this wraps what it returns (a pid, pipe fds,
// an exit callback from its reaper thread) in the few parts of a ChildProcess FfmpegProcess
// uses. Without the addon, or with MCU_SPAWN=node, it is child_process.spawn.

import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import type { Readable, Writable } from 'node:stream';
import { projectPath } from '../paths.ts';

export interface ChildEvents {
  /** The child runs (its pid is known). */
  spawn: [];
  /** It could not be started (no 'spawn' then). */
  error: [Error];
  /** It exited and its output pipes have closed. */
  close: [number | null, NodeJS.Signals | null];
}

/** The parts of a ChildProcess FfmpegProcess uses. */
export interface Child extends EventEmitter<ChildEvents> {
  readonly pid: number | undefined;
  readonly stdin: Writable | null;
  readonly stdout: Readable | null;
  readonly stderr: Readable | null;
  kill(signal?: NodeJS.Signals): boolean;
}

export interface ChildOptions {
  stdin: boolean;
  stdout: boolean;
  env: NodeJS.ProcessEnv;
}

interface PosixSpawnAddon {
  spawn(
    file: string, argv: string[], envp: string[], pipeStdin: boolean, pipeStdout: boolean,
    onExit: (code: number, signal: number) => void,
  ): { pid: number; stdin: number; stdout: number; stderr: number };
}

const FILE = projectPath('native', 'posixspawn', 'build', 'Release', 'posixspawn.node');
let addon: PosixSpawnAddon | null | undefined;

/** The addon, or null when it is not built, does not load, or MCU_SPAWN=node. */
export function posixSpawnAddon(): PosixSpawnAddon | null {
  if (addon !== undefined) return addon;
  addon = null;
  if (process.env.MCU_SPAWN === 'node' || !fs.existsSync(FILE)) return null;
  try {
    addon = createRequire(import.meta.url)(FILE) as PosixSpawnAddon;
  } catch {
    /* stays null: child_process.spawn */
  }
  return addon;
}

/** Which way children are started ('posix_spawn' or 'fork'): logged at start and by benchmarks. */
export function spawnMethod(): 'posix_spawn' | 'fork' {
  return posixSpawnAddon() ? 'posix_spawn' : 'fork';
}

export function spawnChild(file: string, args: readonly string[], opts: ChildOptions): Child {
  const lib = posixSpawnAddon();
  if (!lib) {
    return spawn(file, args as string[], { stdio: [opts.stdin ? 'pipe' : 'ignore', opts.stdout ? 'pipe' : 'ignore', 'pipe'], env: opts.env }) as unknown as Child;
  }
  return new PosixChild(lib, file, args, opts);
}

const SIGNAL_NAMES = new Map(Object.entries(os.constants.signals).map(([name, n]) => [n, name as NodeJS.Signals]));

class PosixChild extends EventEmitter<ChildEvents> implements Child {
  readonly pid: number | undefined;
  readonly stdin: net.Socket | null = null;
  readonly stdout: net.Socket | null = null;
  readonly stderr: net.Socket | null = null;
  private exit: [number | null, NodeJS.Signals | null] | null = null;
  /** Output pipes not yet closed ('close' waits for them, as Node's does). */
  private open = 0;
  private closed = false;

  constructor(lib: PosixSpawnAddon, file: string, args: readonly string[], opts: ChildOptions) {
    super();
    const envp = Object.entries(opts.env).flatMap(([k, v]) => (v === undefined ? [] : [`${k}=${v}`]));
    let r: ReturnType<PosixSpawnAddon['spawn']>;
    try {
      r = lib.spawn(file, [file, ...args], envp, opts.stdin, opts.stdout, (code, signal) => this.exited(code, signal));
    } catch (err) {
      process.nextTick(() => this.emit('error', err as Error));
      return;
    }
    this.pid = r.pid;
    if (r.stdin >= 0) this.stdin = new net.Socket({ fd: r.stdin, readable: false, writable: true });
    if (r.stdout >= 0) this.stdout = this.output(r.stdout);
    this.stderr = this.output(r.stderr);
    process.nextTick(() => this.emit('spawn'));
  }

  private output(fd: number): net.Socket {
    const s = new net.Socket({ fd, readable: true, writable: false });
    this.open++;
    s.once('close', () => {
      this.open--;
      this.maybeClose();
    });
    return s;
  }

  private exited(code: number, signal: number): void {
    this.exit = [signal ? null : code, signal ? (SIGNAL_NAMES.get(signal) ?? null) : null];
    // Nobody reads what it was sent any more (Node's ChildProcess does the same at exit).
    this.stdin?.destroy();
    this.maybeClose();
  }

  private maybeClose(): void {
    if (!this.exit || this.open > 0 || this.closed) return;
    this.closed = true;
    this.emit('close', ...this.exit);
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): boolean {
    if (this.pid === undefined || this.exit) return false;
    try {
      process.kill(this.pid, signal);
      return true;
    } catch {
      return false;
    }
  }
}
