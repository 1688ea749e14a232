// Sends runtime commands to FFmpeg's `zmq` filter (a ZeroMQ REP socket on an ipc path).
//
// Why not FFmpeg's interactive stdin `c` command: ffmpeg reads one key per 100 ms, so a
// layout change of a dozen commands would crawl across a second of video. The zmq filter
// applies every queued command before the next frame. Rather than a native ZeroMQ binding,
// this speaks the small part of ZMTP 3.0 it needs (NULL security, DEALER socket), which
// lets all commands of one layout change go out at once without waiting for each reply.

import net from 'node:net';
import type { MixerCommand } from '../../pipeline/mixer/command.ts';

const FLAG_MORE = 0x01;
const FLAG_LONG = 0x02;
const FLAG_COMMAND = 0x04;

function greeting(): Buffer {
  const g = Buffer.alloc(64);
  g[0] = 0xff;
  g[9] = 0x7f;
  g[10] = 3; // ZMTP 3.0
  g[11] = 0;
  g.write('NULL', 12, 'ascii');
  return g;
}

function frame(body: Buffer, flags: number): Buffer {
  if (body.length > 255) {
    const head = Buffer.alloc(9);
    head[0] = flags | FLAG_LONG;
    head.writeBigUInt64BE(BigInt(body.length), 1);
    return Buffer.concat([head, body]);
  }
  return Buffer.concat([Buffer.from([flags, body.length]), body]);
}

function readyCommand(): Buffer {
  const name = Buffer.from('READY', 'ascii');
  const key = Buffer.from('Socket-Type', 'ascii');
  const value = Buffer.from('DEALER', 'ascii');
  const len = Buffer.alloc(4);
  len.writeUInt32BE(value.length);
  const body = Buffer.concat([Buffer.from([name.length]), name, Buffer.from([key.length]), key, len, value]);
  return frame(body, FLAG_COMMAND);
}

/** Largest frame accepted from the filter (replies are a line); anything bigger is garbage. */
const MAX_FRAME = 64 * 1024;

interface Request {
  line: string;
  resolve: (reply: string) => void;
}

/** The reply given to a command whose connection dropped before its reply came. */
export const DISCONNECTED_REPLY = 'E disconnected before the reply';

export class ZmqCommandClient {
  private socket: net.Socket | null = null;
  private handshaken = false;
  private inbox = Buffer.alloc(0);
  private greeted = false;
  /** Not sent yet (the filter is not reachable): sent after the next handshake. */
  private queue: Request[] = [];
  /** Sent on the current connection, in order: a REP socket answers in order. */
  private inFlight: Request[] = [];
  private retry: NodeJS.Timeout | null = null;
  private _closed = false;
  /** Replies that were not "0 Success" (kept short; for diagnostics). */
  readonly errors: string[] = [];

  constructor(private readonly path: string, private readonly retryMs = 20) {
    this.connect();
  }

  get closed(): boolean {
    return this._closed;
  }

  get connected(): boolean {
    return this.handshaken;
  }

  /** Queue commands; they are sent together as soon as the filter is reachable. */
  send(commands: readonly MixerCommand[]): Promise<string[]> {
    if (this._closed) return Promise.resolve([]);
    const replies = commands.map(
      (c) => new Promise<string>((resolve) => this.queue.push({ line: `${c.target} ${c.command} ${c.arg}`, resolve })),
    );
    this.flush();
    return Promise.all(replies);
  }

  close(): void {
    if (this._closed) return;
    this._closed = true;
    if (this.retry) clearTimeout(this.retry);
    this.socket?.destroy();
    this.socket = null;
    for (const r of [...this.inFlight, ...this.queue]) r.resolve('closed');
    this.inFlight = [];
    this.queue = [];
  }

  private connect(): void {
    if (this._closed) return;
    const socket = net.connect(this.path);
    this.socket = socket;
    this.inbox = Buffer.alloc(0);
    this.greeted = false;
    this.handshaken = false;
    socket.on('connect', () => {
      socket.write(greeting());
    });
    socket.on('data', (chunk) => this.onData(chunk));
    socket.on('error', () => {
      /* handled by close */
    });
    socket.on('close', () => {
      if (this._closed || this.socket !== socket) return;
      this.socket = null;
      this.handshaken = false;
      // Replies on the next connection answer only what is sent on it: whatever was in
      // flight here will never be answered.
      for (const r of this.inFlight) r.resolve(DISCONNECTED_REPLY);
      this.inFlight = [];
      this.retry = setTimeout(() => this.connect(), this.retryMs);
    });
  }

  private flush(): void {
    if (!this.handshaken || !this.socket) return;
    const out: Buffer[] = [];
    for (const r of this.queue) {
      out.push(frame(Buffer.alloc(0), FLAG_MORE), frame(Buffer.from(r.line, 'utf8'), 0));
      this.inFlight.push(r);
    }
    this.queue = [];
    if (out.length) this.socket.write(Buffer.concat(out));
  }

  private onData(chunk: Buffer): void {
    this.inbox = Buffer.concat([this.inbox, chunk]);
    if (!this.greeted) {
      if (this.inbox.length < 64) return;
      if (this.inbox[0] !== 0xff || this.inbox[9] !== 0x7f) {
        this.socket?.destroy();
        return;
      }
      this.inbox = this.inbox.subarray(64);
      this.greeted = true;
      this.socket?.write(readyCommand());
    }
    for (;;) {
      if (this.inbox.length < 2) return;
      const flags = this.inbox[0];
      let size: number;
      let head: number;
      if (flags & FLAG_LONG) {
        if (this.inbox.length < 9) return;
        size = Number(this.inbox.readBigUInt64BE(1));
        head = 9;
      } else {
        size = this.inbox[1];
        head = 2;
      }
      if (size > MAX_FRAME) {
        this.socket?.destroy();
        return;
      }
      if (this.inbox.length < head + size) return;
      const body = this.inbox.subarray(head, head + size);
      this.inbox = this.inbox.subarray(head + size);
      if (flags & FLAG_COMMAND) {
        // The peer's READY: the session is up.
        if (!this.handshaken && body.subarray(1, 1 + body[0]).toString('ascii') === 'READY') {
          this.handshaken = true;
          this.flush();
        }
        continue;
      }
      // Replies arrive as an empty delimiter frame followed by the reply text.
      if (size === 0 && flags & FLAG_MORE) continue;
      const reply = body.toString('utf8');
      if (!reply.startsWith('0 ')) this.errors.push(reply.slice(0, 200));
      this.inFlight.shift()?.resolve(reply);
    }
  }
}
