// The verifier (jose): HS256 with the shared secret, ES256 from a PEM/JWKS file and from a
// JWKS URL, and every way a token can be wrong: another key, another algorithm (none, HS512,
// HS256 keyed with the public key), another encoding, expired, not yet valid, too long-lived.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createHmac } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { TokenService } from '../../server/auth/TokenService.ts';
import { signToken, TokenError } from '../../pipeline/auth/tokens.ts';

const SECRET = 'unit-secret-0123456789';
const policy = { maxTtlSec: 3600, leewaySec: 30 };
const now = () => Math.floor(Date.now() / 1000);
const claims = (extra: Record<string, unknown> = {}) => ({ room: 'r1', role: 'publisher', exp: now() + 600, jti: `j-${Math.random()}`, ...extra });

interface Ctx {
  dir: string;
  keys: { publicKey: CryptoKey; privateKey: CryptoKey };
  other: { publicKey: CryptoKey; privateKey: CryptoKey };
  pem: string;
  jwks: http.Server;
  jwksUrl: string;
}
const test = suite<Ctx>('token-service');

const es256 = (key: CryptoKey, payload: Record<string, unknown>, kid?: string) =>
  new SignJWT(payload).setProtectedHeader({ alg: 'ES256', ...(kid ? { kid } : {}) }).sign(key);

async function rejects(p: Promise<unknown>, re: RegExp, what: string) {
  const err = await p.then(() => null, (e) => e);
  assert.ok(err, `${what}: should be refused`);
  assert.instance(err, TokenError, `${what}: ${err}`);
  assert.match(err.message, re, what);
}

test.before(async (ctx) => {
  ctx.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcu-tokens-'));
  ctx.keys = await generateKeyPair('ES256', { extractable: true });
  ctx.other = await generateKeyPair('ES256', { extractable: true });
  ctx.pem = await exportSPKI(ctx.keys.publicKey);
  const jwk = { ...(await exportJWK(ctx.keys.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
  ctx.jwks = http.createServer((_req, res) => res.setHeader('Content-Type', 'application/json').end(JSON.stringify({ keys: [jwk] })));
  await new Promise<void>((r) => ctx.jwks.listen(0, '127.0.0.1', () => r()));
  ctx.jwksUrl = `http://127.0.0.1:${(ctx.jwks.address() as { port: number }).port}/.well-known/jwks.json`;
});

test.after((ctx) => {
  ctx.jwks.close();
  fs.rmSync(ctx.dir, { recursive: true, force: true });
});

test('no key configured → null (open mode)', async () => {
  assert.is(await TokenService.create({ secret: null, publicKeyFile: null, jwksUrl: null, policy }), null);
});

test('HS256: valid, wrong secret, tampered, other encodings, none, HS512, expired, too long', async () => {
  const svc = (await TokenService.create({ secret: SECRET, publicKeyFile: null, jwksUrl: null, policy }))!;
  const good = signToken(claims() as any, SECRET);
  assert.is((await svc.verify(good)).room, 'r1');
  assert.is((await svc.verify(svc.mint({ room: 'r1', role: 'host', exp: now() + 60 }))).role, 'host');
  await rejects(svc.verify(signToken(claims() as any, 'another-secret-123456')), /signature/, 'wrong secret');
  const [h, p, s] = good.split('.');
  const forged = Buffer.from(JSON.stringify(claims({ room: '*', role: 'admin' }))).toString('base64url');
  await rejects(svc.verify(`${h}.${forged}.${s}`), /signature/, 'tampered payload');
  await rejects(svc.verify(`${h}.${p}.${Buffer.from(s, 'base64url').toString('base64')}`), /base64url/, 'standard base64 signature');
  const none = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
  await rejects(svc.verify(`${none}.${p}.`), /malformed/, 'alg none, empty signature');
  await rejects(svc.verify(`${none}.${p}.${s}`), /unsupported token algorithm "none"/, 'alg none with a signature');
  const h512 = Buffer.from(JSON.stringify({ alg: 'HS512', typ: 'JWT' })).toString('base64url');
  const sig512 = createHmac('sha512', SECRET).update(`${h512}.${p}`).digest('base64url');
  await rejects(svc.verify(`${h512}.${p}.${sig512}`), /unsupported token algorithm "HS512"/, 'HS512');
  await rejects(svc.verify(signToken(claims({ exp: now() - 5 }) as any, SECRET)), /expired/, 'expired 5 s ago');
  await rejects(svc.verify(signToken(claims({ exp: 253_402_300_799 }) as any, SECRET)), /TOKEN_MAX_TTL_SEC/, 'year 9999');
  await rejects(svc.verify(signToken(claims({ nbf: now() + 120 }) as any, SECRET)), /not valid yet/, 'nbf in 2 min');
  assert.ok(await svc.verify(signToken(claims({ nbf: now() + 10 }) as any, SECRET)), 'nbf within the leeway');
  await rejects(svc.verify(signToken(claims({ iat: now() + 120 }) as any, SECRET)), /iat|future/, 'iat in 2 min');
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const noJti = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ room: 'r1', role: 'publisher', exp: now() + 60 })}`;
  await rejects(svc.verify(`${noJti}.${createHmac('sha256', SECRET).update(noJti).digest('base64url')}`), /jti/, 'no jti');
});

test('ES256 from a PEM file: valid; other key, alg confusion (HS256 keyed with the PEM) refused', async (ctx) => {
  const file = path.join(ctx.dir, 'pub.pem');
  fs.writeFileSync(file, ctx.pem);
  const svc = (await TokenService.create({ secret: null, publicKeyFile: file, jwksUrl: null, policy }))!;
  assert.is((await svc.verify(await es256(ctx.keys.privateKey, claims()))).room, 'r1');
  await rejects(svc.verify(await es256(ctx.other.privateKey, claims())), /signature/, 'another private key');
  // The classic confusion: an HS256 token whose HMAC key is the server's public key text.
  await rejects(svc.verify(signToken(claims() as any, ctx.pem)), /signature/, 'HS256 keyed with the public key');
  // Without MCU_AUTH_SECRET nobody outside knows the HS256 key, yet the server's own tokens pass.
  assert.is((await svc.verify(svc.mint({ room: 'r1', role: 'subscriber', exp: now() + 60 }))).role, 'subscriber');
  await rejects(svc.verify(await es256(ctx.keys.privateKey, claims({ exp: now() - 1 }))), /expired/, 'expired ES256');
  await rejects(svc.verify(await es256(ctx.keys.privateKey, { ...claims(), exp: undefined })), /exp/, 'ES256 without exp');
});

test('ES256 key files: a JWKS file works; a private key is refused at start-up', async (ctx) => {
  const jwksFile = path.join(ctx.dir, 'keys.json');
  fs.writeFileSync(jwksFile, JSON.stringify({ keys: [{ ...(await exportJWK(ctx.keys.publicKey)), kid: 'a' }] }));
  const svc = (await TokenService.create({ secret: null, publicKeyFile: jwksFile, jwksUrl: null, policy }))!;
  assert.ok(await svc.verify(await es256(ctx.keys.privateKey, claims(), 'a')));
  const privFile = path.join(ctx.dir, 'priv.json');
  fs.writeFileSync(privFile, JSON.stringify(await exportJWK(ctx.keys.privateKey)));
  const err = await TokenService.create({ secret: null, publicKeyFile: privFile, jwksUrl: null, policy }).catch((e) => e);
  assert.match(String(err), /private key/);
});

test('ES256 from a JWKS URL: valid with its kid; unknown kid and another key refused', async (ctx) => {
  const svc = (await TokenService.create({ secret: SECRET, publicKeyFile: null, jwksUrl: ctx.jwksUrl, policy }))!;
  assert.is((await svc.verify(await es256(ctx.keys.privateKey, claims(), 'k1'))).room, 'r1');
  await rejects(svc.verify(await es256(ctx.keys.privateKey, claims(), 'nope')), /no signing key/, 'unknown kid');
  await rejects(svc.verify(await es256(ctx.other.privateKey, claims(), 'k1')), /signature/, 'another key under the same kid');
  assert.ok(await svc.verify(signToken(claims() as any, SECRET)), 'HS256 with the shared secret still works');
});

test.run();
