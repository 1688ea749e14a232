// Starts a child process for FfmpegProcess. Node's child_process.spawn forks the whole server
// on its event loop (libuv uses fork() on Linux), and a fork copies the page tables: 20-100 ms
// at 300-660 MB RSS, a stall every join (a decoder) and every mixer start puts on every room's
// ticks. Where the posix_spawn addon is built (native/posixspawn: CLONE_VM | CLONE_VFORK,
// nothing copied) it starts the child instead, and this wraps what it returns (a pid, pipe fds,
// an exit callback from its reaper thread) in the few parts of a ChildProcess FfmpegProcess
// uses. Without the addon, or with MCU_SPAWN=node, it is child_process.spawn.

import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import net from 'node:net';
import os from 'node:os';
import type { Readable, Writable } from 'node:stream';
import { optionalAddon } from '../nativeAddon.ts';

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
  /** stdout read straight into the consumer's buffers instead of emitted as chunks (needs `stdout`). */
  stdoutInto?: OutputSink;
}

/**
 * Where a child's stdout goes when read into the consumer's own memory: `buffer()` is the free
 * space the next read may fill (asked for ahead of it), `written(n)` says a read put n bytes at
 * its start. With the posix_spawn addon the pipe is read into it directly (net.Socket's
 * `onread`: no chunk allocated, no copy); child_process's pipe emits chunks, copied into it.
 */
export interface OutputSink {
  buffer(): Uint8Array;
  written(n: number): void;
}

/** Copies `chunk` into the sink, as many reads as its buffers take. */
function feed(sink: OutputSink, chunk: Buffer): void {
  for (let off = 0; off < chunk.length; ) {
    const b = sink.buffer();
    const n = Math.min(b.length, chunk.length - off);
    b.set(chunk.subarray(off, off + n));
    sink.written(n);
    off += n;
  }
}

interface PosixSpawnAddon {
  spawn(
    file: string, argv: string[], envp: string[], pipeStdin: boolean, pipeStdout: boolean,
    onExit: (code: number, signal: number) => void,
  ): { pid: number; stdin: number; stdout: number; stderr: number };
}

/** The addon, or null when it is not built, does not load, or MCU_SPAWN=node (then child_process.spawn). */
export const posixSpawnAddon = optionalAddon<PosixSpawnAddon>('posixspawn', () => process.env.MCU_SPAWN === 'node');

/** Which way children are started ('posix_spawn' or 'fork'): logged at start and by benchmarks. */
export function spawnMethod(): 'posix_spawn' | 'fork' {
  return posixSpawnAddon() ? 'posix_spawn' : 'fork';
}

export function spawnChild(file: string, args: readonly string[], opts: ChildOptions): Child {
  const lib = posixSpawnAddon();
  if (!lib) {
    const child = spawn(file, args as string[], { stdio: [opts.stdin ? 'pipe' : 'ignore', opts.stdout ? 'pipe' : 'ignore', 'pipe'], env: opts.env }) as unknown as Child;
    const sink = opts.stdoutInto;
    if (sink) child.stdout?.on('data', (chunk: Buffer) => feed(sink, chunk));
    return child;
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
    if (r.stdout >= 0) this.stdout = this.output(r.stdout, opts.stdoutInto);
    this.stderr = this.output(r.stderr);
    process.nextTick(() => this.emit('spawn'));
  }

  private output(fd: number, into?: OutputSink): net.Socket {
    const onread = into && { buffer: () => into.buffer(), callback: (n: number) => void into.written(n) };
    const s = new net.Socket({ fd, readable: true, writable: false, ...(onread ? { onread } : {}) } as net.SocketConstructorOpts);
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
