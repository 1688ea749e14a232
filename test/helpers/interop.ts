// Clients the project did not write, run as child processes (Python: aiortc, GStreamer), and
// what the interop tests check with them: the colour at a participant's tile in a composite.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { colorAt, type I420Frame, type Rgb } from './media.ts';

/** Debian's Python (the one python3-aiortc / python3-gi are installed for), not a pyenv shim. */
export const PYTHON = process.env.INTEROP_PYTHON || '/usr/bin/python3';

/** Why `code` cannot run here (a missing binary or module), or null when it can. */
export function pythonMissing(code: string): string | null {
  if (!fs.existsSync(PYTHON)) return `${PYTHON} not found`;
  const r = spawnSync(PYTHON, ['-c', code], { encoding: 'utf8', timeout: 20_000 });
  if (r.status === 0) return null;
  return (r.stderr || r.error?.message || `exit ${r.status}`).trim().split('\n').pop()!;
}

export interface ClientEvent {
  event: string;
  [k: string]: any;
}

/** A client process printing JSON lines; it stops when its stdin closes. */
export class ExternalClient {
  readonly events: ClientEvent[] = [];
  private readonly child: ChildProcess;
  private stderr = '';
  private exited: Promise<number | null>;

  constructor(cmd: string, args: string[], readonly name: string) {
    this.child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let buf = '';
    this.child.stdout!.on('data', (d: Buffer) => {
      buf += d;
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        try {
          this.events.push(JSON.parse(line));
        } catch {
          /* a stray print */
        }
      }
    });
    this.child.stderr!.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d).slice(-8000);
    });
    this.exited = new Promise((r) => this.child.once('exit', (c) => r(c)));
  }

  last(event: string): ClientEvent | undefined {
    for (let i = this.events.length - 1; i >= 0; i--) if (this.events[i].event === event) return this.events[i];
    return undefined;
  }

  async waitEvent(event: string, timeoutMs: number, pred: (e: ClientEvent) => boolean = () => true): Promise<ClientEvent> {
    const until = performance.now() + timeoutMs;
    for (;;) {
      const e = this.events.find((x) => x.event === event && pred(x));
      if (e) return e;
      if (this.child.exitCode !== null || performance.now() > until) {
        throw new Error(`${this.name}: no "${event}" event (exit ${this.child.exitCode}); stderr: ${this.stderr.slice(-1500)}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Closes stdin (the client DELETEs its sessions), then SIGTERM, then SIGKILL. Idempotent. */
  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.stdin!.end();
    const waitMs = (ms: number) => Promise.race([this.exited, new Promise((r) => setTimeout(r, ms))]);
    await waitMs(5000);
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGTERM');
      await waitMs(2000);
    }
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
  }
}

export function readI420(path: string, width: number, height: number): I420Frame | null {
  try {
    const data = fs.readFileSync(path);
    if (data.length !== width * height * 1.5) return null;
    return { width, height, data };
  } catch {
    return null;
  }
}

export interface Tile {
  participantId: string;
  cell: { x: number; y: number; width: number; height: number };
  video: { x: number; y: number; width: number; height: number };
}

export async function roomInfo(baseUrl: string, room: string): Promise<any> {
  const res = await fetch(`${baseUrl}/rooms/${room}`);
  return res.json();
}

export async function tileOf(baseUrl: string, room: string, participantId: string): Promise<Tile | undefined> {
  return ((await roomInfo(baseUrl, room)).layout?.tiles ?? []).find((t: Tile) => t.participantId === participantId);
}

/** Colour at the centre of a tile's picture. */
export function tileColour(frame: I420Frame, tile: Tile, radius = 6): Rgb {
  return colorAt(frame, tile.video.x + tile.video.width / 2, tile.video.y + tile.video.height / 2, radius);
}

/** The participant id a WHIP Location ends with. */
export const sessionId = (location: string) => new URL(location).pathname.split('/').pop()!;
