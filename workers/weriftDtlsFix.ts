// Fixes for werift 0.24's DTLS client, applied once to its classes (import this module for
// its effect wherever a werift peer connection is made).
//
// 1. A repeated HelloVerifyRequest.
// The DTLS client retransmits its ClientHello when the server's HelloVerifyRequest has not come
// within 500 ms, and the server answers each copy with a HelloVerifyRequest (same cookie:
// werift's server keeps one per session). werift's client takes the first and moves on to flight
// 3; the second then throws in Flight3.exec ("if (this.dtls.flight === 3) throw new Error()"),
// which fails the handshake and the peer connection: ICE connected, DTLS failed, within a second.
// A loaded host (a busy event loop on either side) delays the first answer past 500 ms; it was
// the cause of edge viewers and publishers that failed to connect when many started at once.
// RFC 6347 4.2.1 expects a client to cope with more than one HelloVerifyRequest; its flight-3
// retransmissions already cover a lost ClientHello, so a HelloVerifyRequest after flight 1 is
// dropped here (what pion/dtls and OpenSSL do with a repeated one with the same cookie).

// 2. A ClientHello 100 ms late. RTCDtlsTransport.start() (the answerer's side: WHIP ingest, WHEP
// egress, so every subscriber's and every recording's start) waits 100 ms after ICE connects
// before DtlsClient.connect(), in case the remote's DTLS server is not yet listening (a
// datagram before then is dropped, and the client's retransmission comes only after 500 ms).
// Here the ClientHello goes at once, and werift's own connect() 100 ms later sends the same
// datagram again if nothing has answered yet (flight 1 still): a hello that came too early costs
// what werift's wait costs, one that came in time saves the 100 ms. A server answering both
// sends two HelloVerifyRequests, which fix 1 makes harmless.

// 3. X25519 in JavaScript: workers/weriftX25519.ts, imported here for its effect, so every
// module that makes a werift peer connection gets Node's native key exchange too.

import { DtlsClient, RTCDtlsTransport } from 'werift';
import './weriftX25519.ts';

const HELLO_VERIFY_REQUEST = 3;
const FIXED = Symbol.for('mcu.werift.dtlsRepeatedHelloVerify');
const EARLY_FIXED = Symbol.for('mcu.werift.dtlsEarlyClientHello');
const CONNECTING = Symbol('connecting');
const HELLO = Symbol('clientHello');

interface Assembled {
  msg_type: number;
}

export function applyDtlsFix(): void {
  const proto = DtlsClient.prototype as any;
  if (proto[FIXED]) return;
  const connect = proto.connect as (this: any) => Promise<void>;
  if (typeof connect !== 'function') throw new Error('werift DtlsClient has no connect(): the DTLS fix no longer fits this werift version');
  proto.connect = function (this: any): Promise<void> {
    // A second call (fix 2: werift's own, after its wait): the ClientHello again if unanswered.
    if (this[CONNECTING]) {
      if (this.dtls?.flight === 1 && this[HELLO]) void Promise.resolve(this.transport.send(this[HELLO])).catch(() => {});
      return this[CONNECTING];
    }
    const handle = this.onHandleHandshakes as (assembled: Assembled[]) => Promise<void>;
    if (typeof handle === 'function' && this.dtls) {
      this.onHandleHandshakes = (assembled: Assembled[]) =>
        handle(this.dtls.flight >= 3 ? assembled.filter((h) => h.msg_type !== HELLO_VERIFY_REQUEST) : assembled);
    }
    // Flight 1 sends its ClientHello synchronously: kept, to send again.
    const transport = this.transport;
    const send = transport?.send;
    if (typeof send === 'function') {
      transport.send = (buf: Buffer) => {
        this[HELLO] ??= buf;
        return send.call(transport, buf);
      };
    }
    try {
      this[CONNECTING] = connect.call(this);
    } finally {
      if (typeof send === 'function') transport.send = send;
    }
    return this[CONNECTING];
  };
  proto[FIXED] = true;
}

export function applyDtlsEarlyStart(): void {
  const proto = RTCDtlsTransport.prototype as any;
  if (proto[EARLY_FIXED]) return;
  const start = proto.start as (this: any) => Promise<void>;
  if (typeof start !== 'function') throw new Error('werift RTCDtlsTransport has no start(): the DTLS fix no longer fits this werift version');
  proto.start = function (this: any): Promise<void> {
    const started = start.call(this);
    // start() has made its DtlsClient and is waiting its 100 ms: the handshake begins now. A
    // failure reaches start() through its own connect() call, which gets this same promise.
    if (this.dtls instanceof DtlsClient) (this.dtls as any).connect().catch(() => {});
    return started;
  };
  proto[EARLY_FIXED] = true;
}

applyDtlsFix();
applyDtlsEarlyStart();
