import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHmac } from 'node:crypto';
import {
  checkClaims,
  iceServerLinks,
  isGlobalAdmin,
  mintRefusal,
  parseTtl,
  roomAllowed,
  signToken,
  splitToken,
  turnCredentials,
  type TokenPolicy,
} from '../../pipeline/auth/tokens.ts';

const secret = 'test-secret';
const now = 1_800_000_000;
const policy: TokenPolicy = { maxTtlSec: 3600, leewaySec: 30 };
const payloadOf = (t: string) => JSON.parse(Buffer.from(t.split('.')[1], 'base64url').toString());

test('signToken always mints a jti: identical claims give different tokens', () => {
  const claims = { room: 'r1', role: 'publisher' as const, exp: now + 60 };
  const a = signToken(claims, secret);
  const b = signToken(claims, secret);
  assert.is.not(a, b);
  assert.type(payloadOf(a).jti, 'string');
  assert.is.not(payloadOf(a).jti, payloadOf(b).jti);
  assert.is(payloadOf(signToken({ ...claims, jti: 'given' }, secret)).jti, 'given');
});

test('splitToken: strict base64url, three parts, a JSON header', () => {
  const t = signToken({ room: 'r1', role: 'publisher', exp: now + 60 }, secret);
  assert.is(splitToken(t).header.alg, 'HS256');
  const [h, p, s] = t.split('.');
  const std = Buffer.from(s, 'base64url').toString('base64'); // standard alphabet + padding
  assert.throws(() => splitToken(`${h}.${p}.${std}`), /base64url/);
  assert.throws(() => splitToken(`${h}.${p}.${s}=`), /base64url/, 'padding');
  assert.throws(() => splitToken(`${h}.${p}.${s.replace(/-/g, '+').replace(/_/g, '/')}+`), /base64url/);
  assert.throws(() => splitToken(`${h}.${p}`), /three/);
  assert.throws(() => splitToken(`${h}.${p}.`), /three/, 'an empty signature (alg none) is not a token');
  assert.throws(() => splitToken('abc'), /malformed/);
  assert.throws(() => splitToken(`${Buffer.from('nope').toString('base64url')}.${p}.${s}`), /header/);
  assert.throws(() => splitToken(`${h}.${p}.${'A'.repeat(5000)}`), /4096/);
});

test('checkClaims: exp required, bounded by the maximum lifetime; nbf/iat with leeway; jti required', () => {
  const ok = { room: 'r1', role: 'publisher', exp: now + 60, jti: 'j1' };
  assert.equal(checkClaims(ok, now, policy), ok);
  assert.throws(() => checkClaims({ ...ok, exp: undefined }, now, policy), /no expiry/);
  assert.throws(() => checkClaims({ ...ok, exp: '9999999999' }, now, policy), /exp must be/);
  assert.throws(() => checkClaims({ ...ok, exp: now }, now, policy), /expired/);
  assert.throws(() => checkClaims({ ...ok, exp: now - 5 }, now, policy), /expired/, 'no leeway on exp');
  assert.throws(() => checkClaims({ ...ok, exp: 253_402_300_799 }, now, policy), /TOKEN_MAX_TTL_SEC/, 'year 9999');
  assert.throws(() => checkClaims({ ...ok, exp: now + 3600 + 31 }, now, policy), /TOKEN_MAX_TTL_SEC/);
  assert.ok(checkClaims({ ...ok, exp: now + 3600 }, now, policy));
  assert.throws(() => checkClaims({ ...ok, iat: now - 4000, exp: now + 60 }, now, policy), /TOKEN_MAX_TTL_SEC/, 'exp − iat too');
  assert.ok(checkClaims({ ...ok, iat: now + 20 }, now, policy), 'iat a little ahead (clock skew)');
  assert.throws(() => checkClaims({ ...ok, iat: now + 31 }, now, policy), /future/);
  assert.ok(checkClaims({ ...ok, nbf: now + 30 }, now, policy), 'nbf within the leeway');
  assert.throws(() => checkClaims({ ...ok, nbf: now + 31 }, now, policy), /not valid yet/);
  assert.throws(() => checkClaims({ ...ok, jti: undefined }, now, policy), /jti/);
  assert.throws(() => checkClaims({ ...ok, jti: '' }, now, policy), /jti/);
  assert.throws(() => checkClaims({ ...ok, role: 'root' }, now, policy), /role/);
  assert.throws(() => checkClaims({ ...ok, room: '../x' }, now, policy), /room/);
  assert.throws(() => checkClaims({ ...ok, name: 5 }, now, policy), /name/);
  assert.throws(() => checkClaims([1], now, policy), /object/);
});

test('room scoping and global admins', () => {
  assert.ok(roomAllowed({ room: '*' }, 'b'));
  assert.ok(roomAllowed({ room: 'a' }, 'a'));
  assert.not.ok(roomAllowed({ room: 'a' }, 'b'));
  assert.ok(isGlobalAdmin({ room: '*', role: 'admin' }));
  assert.not.ok(isGlobalAdmin({ room: 'a', role: 'admin' }));
  assert.not.ok(isGlobalAdmin({ room: '*', role: 'host' }));
});

test('mintRefusal: own rooms, roles at or below, expiry no later (global admin excepted)', () => {
  const roomAdmin = { room: 'a', role: 'admin' as const, exp: now + 600 };
  assert.match(mintRefusal(roomAdmin, { room: '*', role: 'admin', exp: now + 60 })!, /only mint tokens for room "a"/);
  assert.match(mintRefusal(roomAdmin, { room: 'b', role: 'subscriber', exp: now + 60 })!, /room "a"/);
  assert.is(mintRefusal(roomAdmin, { room: 'a', role: 'admin', exp: now + 600 }), null);
  assert.match(mintRefusal(roomAdmin, { room: 'a', role: 'publisher', exp: now + 601 })!, /outlive/);
  const host = { room: 'a', role: 'host' as const, exp: now + 30 };
  assert.match(mintRefusal(host, { room: 'a', role: 'admin', exp: now + 10 })!, /host token may not mint a admin/);
  assert.is(mintRefusal(host, { room: 'a', role: 'host', exp: now + 30 }), null);
  assert.match(mintRefusal(host, { room: 'a', role: 'host', exp: now + 12 * 3600 })!, /outlive/);
  const sub = { room: 'a', role: 'subscriber' as const, exp: now + 30 };
  assert.match(mintRefusal(sub, { room: 'a', role: 'publisher', exp: now + 10 })!, /roles at or below/);
  const global = { room: '*', role: 'admin' as const, exp: now + 30 };
  assert.is(mintRefusal(global, { room: '*', role: 'admin', exp: now + 3600 }), null, 'a global admin is not bound by its expiry');
});

test('parseTtl: whole seconds from 1 to the maximum; absent → default (capped)', () => {
  assert.is(parseTtl(undefined, 3600, 86_400), 3600);
  assert.is(parseTtl(undefined, 3600, 600), 600);
  assert.is(parseTtl(1, 3600, 86_400), 1);
  assert.is(parseTtl(86_400, 3600, 86_400), 86_400);
  for (const bad of [-5, 0, 0.4, 1.5, 86_401, 1e12, '60', null, Number.NaN, Infinity, true, {}]) {
    const r = parseTtl(bad, 3600, 86_400);
    assert.type(r, 'string', `ttlSec ${String(bad)}`);
    assert.match(r as string, /"ttlSec" must be a whole number of seconds from 1 to 86400/);
  }
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
