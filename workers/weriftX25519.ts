// werift 0.24's DTLS does its X25519 key exchange (the curve every browser and werift itself
// offer first) with tweetnacl, in JavaScript on the event loop: ~1.2 ms per scalar
// multiplication once optimised, 25-40 ms for the first ones in a fresh process (not yet
// compiled), two per handshake side. Each join's handshake held the server's event loop, and so
// the mixer's ticks, for that long (a V8 profile of e2e/inputs: 67 ms of tweetnacl inside one
// 516 ms stall at a join). Here tweetnacl's two entry points werift calls, `box.keyPair()` and
// `scalarMult(n, p)`, are replaced process-wide by Node's native X25519 (OpenSSL: ~0.45 ms a
// handshake side with the raw-key conversions, ~1.5 ms for the first), with the same inputs
// and outputs (32-byte raw keys; the scalar is clamped by both). Should OpenSSL refuse a peer's
// key (a low-order point gives an all-zero secret, which it rejects), the original answers.

import crypto from 'node:crypto';
import { createRequire } from 'node:module';

// DER wrappers of a raw X25519 key (RFC 8410): PKCS#8 for a private key, SPKI for a public one.
const PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');
const PATCHED = Symbol.for('mcu.werift.nativeX25519');

interface Nacl {
  scalarMult: (n: Uint8Array, p: Uint8Array) => Uint8Array;
  box: { keyPair: () => { publicKey: Uint8Array; secretKey: Uint8Array } };
}

/** The shared secret of private scalar `n` and public point `p` (both 32 bytes raw). */
export function x25519(n: Uint8Array, p: Uint8Array): Uint8Array {
  const privateKey = crypto.createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, n]), format: 'der', type: 'pkcs8' });
  const publicKey = crypto.createPublicKey({ key: Buffer.concat([SPKI_PREFIX, p]), format: 'der', type: 'spki' });
  return new Uint8Array(crypto.diffieHellman({ privateKey, publicKey }));
}

/** A new X25519 key pair as raw 32-byte keys (tweetnacl's box.keyPair() shape). */
export function x25519KeyPair(): { publicKey: Uint8Array; secretKey: Uint8Array } {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('x25519');
  const der = (k: crypto.KeyObject, type: 'pkcs8' | 'spki') => k.export({ format: 'der', type }) as Buffer;
  return { secretKey: new Uint8Array(der(privateKey, 'pkcs8').subarray(-32)), publicKey: new Uint8Array(der(publicKey, 'spki').subarray(-32)) };
}

/** Replaces tweetnacl's X25519 (the module werift imports) with Node's; idempotent. */
export function applyNativeX25519(): void {
  const nacl = createRequire(import.meta.url)('tweetnacl') as Nacl & { [PATCHED]?: boolean };
  if (nacl[PATCHED]) return;
  const scalarMult = nacl.scalarMult;
  const keyPair = nacl.box.keyPair;
  // tweetnacl's scalarMult also carries scalarMult.base and its length constants: keep them.
  const native = Object.assign((n: Uint8Array, p: Uint8Array) => {
    if (n?.length !== 32 || p?.length !== 32) return scalarMult(n, p); // tweetnacl throws its own error
    try {
      return x25519(n, p);
    } catch {
      return scalarMult(n, p);
    }
  }, scalarMult);
  nacl.scalarMult = native;
  nacl.box.keyPair = Object.assign(() => {
    try {
      return x25519KeyPair();
    } catch {
      return keyPair();
    }
  }, keyPair);
  nacl[PATCHED] = true;
}

applyNativeX25519();
