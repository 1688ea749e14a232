// workers/weriftX25519.ts: Node's native X25519 in place of tweetnacl's, checked against RFC 7748's
// test vector and tweetnacl's reference implementation (nacl.js, a separate file from the
// nacl-fast.js werift loads), and through a werift DTLS handshake that must use it.

import crypto from 'node:crypto';
import { createRequire } from 'node:module';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { NamedCurveAlgorithm } from 'werift';
import { applyNativeX25519, x25519, x25519KeyPair } from '../../workers/weriftX25519.ts';
import { dtlsHandshake as handshake } from '../helpers/dtls-handshake.ts';

const require = createRequire(import.meta.url);
const nacl = require('tweetnacl');
const reference = require('tweetnacl/nacl.js');
const hex = (u: Uint8Array) => Buffer.from(u).toString('hex');
const raw = (h: string) => new Uint8Array(Buffer.from(h, 'hex'));

test('RFC 7748 6.1: both sides reach the same shared secret, natively and through tweetnacl\'s entry point', () => {
  applyNativeX25519();
  const alice = raw('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a');
  const alicePub = raw('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a');
  const bob = raw('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb');
  const bobPub = raw('de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f');
  const shared = '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742';
  assert.is(hex(x25519(alice, bobPub)), shared);
  assert.is(hex(x25519(bob, alicePub)), shared);
  assert.is(hex(nacl.scalarMult(alice, bobPub)), shared);
});

test('key pairs and secrets agree with tweetnacl\'s reference implementation (unclamped random scalars too)', () => {
  for (let i = 0; i < 20; i++) {
    const a = nacl.box.keyPair();
    const b = x25519KeyPair();
    assert.is(a.secretKey.length, 32);
    assert.is(hex(a.publicKey), hex(reference.scalarMult.base(a.secretKey)), 'a public key is its secret times the base point');
    assert.is(hex(b.publicKey), hex(reference.scalarMult.base(b.secretKey)));
    const expected = hex(reference.scalarMult(a.secretKey, b.publicKey));
    assert.is(hex(nacl.scalarMult(a.secretKey, b.publicKey)), expected);
    assert.is(hex(nacl.scalarMult(b.secretKey, a.publicKey)), expected);
  }
  // tweetnacl clamps any 32 bytes it is given; so must the replacement.
  const scalar = new Uint8Array(32).fill(0xff);
  const point = x25519KeyPair().publicKey;
  assert.is(hex(nacl.scalarMult(scalar, point)), hex(reference.scalarMult(scalar, point)));
});

test('a low-order peer key (OpenSSL refuses its all-zero secret) gets tweetnacl\'s answer, not an exception', () => {
  const zero = new Uint8Array(32);
  const secret = x25519KeyPair().secretKey;
  assert.throws(() => x25519(secret, zero));
  assert.is(hex(nacl.scalarMult(secret, zero)), hex(reference.scalarMult(secret, zero)));
  // Wrong lengths stay tweetnacl's errors.
  assert.throws(() => nacl.scalarMult(new Uint8Array(31), zero));
});

test('a werift DTLS handshake (X25519 offered first) connects through the native key exchange', async () => {
  // Counted where only the native path goes: Node's Diffie-Hellman (tweetnacl never calls it).
  const calls = { n: 0 };
  const diffieHellman = crypto.diffieHellman;
  crypto.diffieHellman = ((o: any) => (calls.n++, diffieHellman(o))) as typeof crypto.diffieHellman;
  try {
    const { result, curve } = await handshake(1, 1);
    assert.is(result, 'connected');
    assert.ok(calls.n >= 2, `the key exchange was Node's (${calls.n} native Diffie-Hellman calls; one per side)`);
    assert.is(curve, NamedCurveAlgorithm.x25519_29, 'the curve negotiated');
  } finally {
    crypto.diffieHellman = diffieHellman;
  }
});

test.run();
