// One UDP socket a mixer FFmpeg sends an RTP stream to. Only that FFmpeg's own RTP is taken:
// from loopback, from a port the process holds (checked in /proc on the first packet, then
// the socket is connected to it so the kernel drops everything else), and well-formed.
// Anything else is counted and dropped; RTCP (same port) is dropped silently.

import dgram from 'node:dgram';
import { EventEmitter } from 'node:events';
import { isRtcpPacket, isWellFormedRtp } from '../../pipeline/rtp/Continuity.ts';
import { udpPortsOf } from '../proc.ts';
import type { MixStreamKey } from '../../pipeline/mixer/streamKey.ts';

export class RtpSocket extends EventEmitter<{ rtp: [MixStreamKey, Buffer] }> {
  dropped = 0;
  private closed = false;

  /** Binds one loopback socket per key; all or none. */
  static async bindAll(keys: readonly MixStreamKey[]): Promise<RtpSocket[]> {
    const out: RtpSocket[] = [];
    try {
      for (const key of keys) {
        const s = dgram.createSocket('udp4');
        out.push(new RtpSocket(key, s));
        await new Promise<void>((resolve, reject) => {
          s.once('error', reject);
          s.bind(0, '127.0.0.1', () => {
            s.off('error', reject);
            resolve();
          });
        });
      }
    } catch (err) {
      for (const s of out) s.close();
      throw err;
    }
    return out;
  }

  private constructor(readonly key: MixStreamKey, readonly socket: dgram.Socket) {
    super();
    socket.on('error', () => {});
  }

  get port(): number {
    return this.socket.address().port;
  }

  /** Starts taking packets from the process `pid()` names. */
  accept(pid: () => number | undefined): void {
    let source = 0;
    this.socket.on('message', (msg, rinfo) => {
      try {
        if (rinfo.address !== '127.0.0.1' || isRtcpPacket(msg)) {
          if (!isRtcpPacket(msg)) this.dropped++;
          return;
        }
        if (source !== rinfo.port) {
          const p = pid();
          if (source !== 0 || !p || !udpPortsOf(p).has(rinfo.port)) {
            this.dropped++;
            return;
          }
          source = rinfo.port;
          this.socket.connect(rinfo.port, '127.0.0.1', () => {});
        }
        if (!isWellFormedRtp(msg)) {
          this.dropped++;
          return;
        }
        this.emit('rtp', this.key, msg);
      } catch {
        this.dropped++;
      }
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.removeAllListeners('message');
    try {
      this.socket.close();
    } catch {
      /* already closed */
    }
    this.removeAllListeners();
  }
}
