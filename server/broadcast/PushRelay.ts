// The local end of an RTMP push: FFmpeg connects to this loopback listener (its command line
// names only 127.0.0.1:<port>), and the relay connects to the target's pinned address, with
// TLS (verified against the host name) for rtmps. One connection per relay; bytes are copied
// both ways untouched. It knows how the connection went, so the push can say so without
// FFmpeg's error text (which told an open port from a closed one).

import { EventEmitter } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import { isIpLiteral } from '../../pipeline/net/addresses.ts';

export interface RelayTarget {
  address: string;
  port: number;
  /** For rtmps: the host name the certificate must carry (and SNI). */
  tlsServername: string | null;
}

export type RelayOutcome = 'waiting' | 'connecting' | 'connected' | 'failed' | 'closed';

const CONNECT_TIMEOUT_MS = 10_000;
const IDLE_TIMEOUT_MS = 30_000;

export interface PushRelayEvents {
  /** The target answered (TCP, or TLS handshake done). */
  connected: [];
  /** Could not connect; `reason` is for the server log only. */
  failed: [reason: string];
  /** The connection ended after it was made. */
  closed: [];
}

export class PushRelay extends EventEmitter<PushRelayEvents> {
  outcome: RelayOutcome = 'waiting';
  bytesOut = 0;
  private readonly server = net.createServer();
  private local: net.Socket | null = null;
  private remote: net.Socket | null = null;
  private closed = false;

  private constructor(private readonly target: RelayTarget) {
    super();
    this.server.on('connection', (s) => this.accept(s));
    this.server.on('error', () => {});
  }

  static async listen(target: RelayTarget): Promise<PushRelay> {
    const relay = new PushRelay(target);
    await new Promise<void>((resolve, reject) => {
      relay.server.once('error', reject);
      relay.server.listen(0, '127.0.0.1', () => resolve());
    });
    return relay;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  private accept(local: net.Socket): void {
    if (this.local || this.closed) {
      local.destroy(); // one connection per relay: the FFmpeg it was made for
      return;
    }
    this.local = local;
    this.server.close(); // no further connections
    this.outcome = 'connecting';
    local.pause();
    local.on('error', () => {});
    const t = this.target;
    const remote = t.tlsServername !== null
      ? tls.connect({ host: t.address, port: t.port, servername: isIpLiteral(t.tlsServername) ? undefined : t.tlsServername, checkServerIdentity: (_h, cert) => tls.checkServerIdentity(t.tlsServername!, cert) })
      : net.connect({ host: t.address, port: t.port });
    this.remote = remote;
    remote.setNoDelay(true);
    const timer = setTimeout(() => remote.destroy(new Error('connect timeout')), CONNECT_TIMEOUT_MS);
    remote.once(t.tlsServername !== null ? 'secureConnect' : 'connect', () => {
      clearTimeout(timer);
      if (this.closed) return;
      this.outcome = 'connected';
      this.emit('connected');
      remote.setTimeout(IDLE_TIMEOUT_MS, () => remote.destroy(new Error('idle')));
      local.on('data', (d: Buffer) => {
        this.bytesOut += d.length;
      });
      local.pipe(remote);
      remote.pipe(local);
      local.resume();
    });
    remote.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (this.outcome === 'connecting') {
        this.outcome = 'failed';
        this.emit('failed', err.code ?? err.message);
      }
    });
    remote.once('close', () => {
      clearTimeout(timer);
      if (this.outcome === 'connecting') {
        this.outcome = 'failed';
        this.emit('failed', 'closed');
      } else if (this.outcome === 'connected') {
        this.outcome = 'closed';
        this.emit('closed');
      }
      local.destroy();
    });
    local.once('close', () => remote.destroy());
  }

  /** Closes the listener and both connections. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.server.close();
    this.local?.destroy();
    this.remote?.destroy();
  }
}
