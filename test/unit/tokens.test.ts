import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHmac } from 'node:crypto';
import { iceServerLinks, roomAllowed, signToken, turnCredentials, verifyToken } from '../../pipeline/auth/tokens.ts';

const secret = 'test-secret';
const now = 1_800_000_000;

test('sign and verify a token', () => {
  const t = signToken({ room: 'r1', role: 'publisher', name: 'Ada', exp: now + 60 }, secret);
  assert.equal(verifyToken(t, secret, now), { room: 'r1', role: 'publisher', name: 'Ada', exp: now + 60 });
});

test('expired, tampered, wrong-secret, malformed and alg=none tokens are rejected', () => {
  const t = signToken({ room: 'r1', role: 'publisher', exp: now + 60 }, secret);
  assert.throws(() => verifyToken(t, secret, now + 61), /expired/);
  assert.throws(() => verifyToken(t, 'other', now), /signature/);
  const [h, p, s] = t.split('.');
  const forged = Buffer.from(JSON.stringify({ room: '*', role: 'admin', exp: now + 60 })).toString('base64url');
  assert.throws(() => verifyToken(`${h}.${forged}.${s}`, secret, now), /signature/);
  assert.throws(() => verifyToken('abc', secret, now), /malformed/);
  const none = Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url');
  assert.throws(() => verifyToken(`${none}.${p}.`, secret, now), /HS256/);
  assert.throws(() => verifyToken(signToken({ room: 'r1', role: 'root' as any, exp: now + 60 }, secret), secret, now), /role/);
  assert.throws(() => verifyToken(signToken({ room: '../x', role: 'admin', exp: now + 60 }, secret), secret, now), /room/);
});

test('room scoping', () => {
  assert.ok(roomAllowed({ room: '*', role: 'admin', exp: 0 }, 'b'));
  assert.ok(roomAllowed({ room: 'a', role: 'publisher', exp: 0 }, 'a'));
  assert.not.ok(roomAllowed({ room: 'a', role: 'publisher', exp: 0 }, 'b'));
});

test('TURN REST credentials match what coturn computes', () => {
  const c = turnCredentials('s3cret', 'alice', now, 600);
  assert.is(c.username, `${now + 600}:alice`);
  assert.is(c.credential, createHmac('sha1', 's3cret').update(c.username).digest('base64'));
  const links = iceServerLinks(['turn:127.0.0.1:3478?transport=udp', 'stun:127.0.0.1:3478'], c);
  assert.match(links[0], /^<turn:127\.0\.0\.1:3478\?transport=udp>; rel="ice-server"; username="\d+:alice"; credential="[^"]+"; credential-type="password"$/);
  assert.is(links[1], '<stun:127.0.0.1:3478>; rel="ice-server"');
});

test.run();
