// A fix for werift 0.24's DTLS client, applied once to its DtlsClient class (import this module
// for its effect wherever a werift peer connection is made).
//
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

import { DtlsClient } from 'werift';

const HELLO_VERIFY_REQUEST = 3;
const FIXED = Symbol.for('mcu.werift.dtlsRepeatedHelloVerify');

interface Assembled {
  msg_type: number;
}

export function applyDtlsFix(): void {
  const proto = DtlsClient.prototype as any;
  if (proto[FIXED]) return;
  const connect = proto.connect as (this: any) => Promise<void>;
  if (typeof connect !== 'function') throw new Error('werift DtlsClient has no connect(): the DTLS fix no longer fits this werift version');
  proto.connect = function (this: any): Promise<void> {
    const handle = this.onHandleHandshakes as (assembled: Assembled[]) => Promise<void>;
    if (typeof handle === 'function' && this.dtls) {
      this.onHandleHandshakes = (assembled: Assembled[]) =>
        handle(this.dtls.flight >= 3 ? assembled.filter((h) => h.msg_type !== HELLO_VERIFY_REQUEST) : assembled);
    }
    return connect.call(this);
  };
  proto[FIXED] = true;
}

applyDtlsFix();
