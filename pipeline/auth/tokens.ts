// Room tokens (JWT, HS256) and TURN REST credentials. Pure: no I/O, the time is passed in.

import { createHmac, timingSafeEqual } from 'node:crypto';

export const ROLES = ['publisher', 'subscriber', 'host', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export interface TokenClaims {
  /** A room name, or "*" for every room. */
  room: string;
  role: Role;
  /** Display name; overrides ?name= on WHIP. */
  name?: string;
  /** Expiry, seconds since the epoch. */
  exp: number;
  iat?: number;
  /** Unique id: two tokens with the same claims are still two owners. */
  jti?: string;
}

export class TokenError extends Error {}

const b64url = (buf: Buffer | string) => Buffer.from(buf).toString('base64url');

export function signToken(claims: TokenClaims, secret: string): string {
  const header = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const payload = b64url(JSON.stringify(claims));
  const sig = createHmac('sha256', secret).update(`${header}.${payload}`).digest('base64url');
  return `${header}.${payload}.${sig}`;
}

/** Verifies signature, algorithm, expiry and claim shapes; throws TokenError saying why not. */
export function verifyToken(token: string, secret: string, nowSec: number): TokenClaims {
  const parts = token.split('.');
  if (parts.length !== 3) throw new TokenError('malformed token');
  const [h, p, s] = parts;
  let header: any;
  let claims: any;
  try {
    header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8'));
    claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8'));
  } catch {
    throw new TokenError('malformed token');
  }
  if (header?.alg !== 'HS256') throw new TokenError('unsupported token algorithm (HS256 only)');
  const expected = createHmac('sha256', secret).update(`${h}.${p}`).digest();
  const given = Buffer.from(s, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new TokenError('bad token signature');
  if (typeof claims?.exp !== 'number') throw new TokenError('the token has no expiry (exp)');
  if (claims.exp <= nowSec) throw new TokenError('the token has expired');
  if (typeof claims.room !== 'string' || !(claims.room === '*' || /^[A-Za-z0-9_-]{1,64}$/.test(claims.room))) {
    throw new TokenError('the token has no valid room claim');
  }
  if (!ROLES.includes(claims.role)) throw new TokenError(`the token's role must be one of ${ROLES.join(', ')}`);
  if (claims.name !== undefined && typeof claims.name !== 'string') throw new TokenError('the token\'s name must be a string');
  return claims as TokenClaims;
}

export function roomAllowed(claims: TokenClaims, room: string): boolean {
  return claims.room === '*' || claims.room === room;
}

/**
 * TURN REST API credentials, as coturn's `use-auth-secret` expects: the username is
 * "<expiry>:<id>", the password base64(HMAC-SHA1(secret, username)).
 */
export function turnCredentials(secret: string, id: string, nowSec: number, ttlSec = 3600): { username: string; credential: string; expiresAt: number } {
  const expiresAt = nowSec + ttlSec;
  const username = `${expiresAt}:${id}`;
  const credential = createHmac('sha1', secret).update(username).digest('base64');
  return { username, credential, expiresAt };
}

/** RFC 9725 Link header values announcing ICE servers. */
export function iceServerLinks(urls: readonly string[], creds: { username: string; credential: string } | null): string[] {
  const q = (v: string) => `"${v.replace(/["\\]/g, '\\$&')}"`;
  return urls.map((url) => {
    const base = `<${url}>; rel="ice-server"`;
    if (!creds || url.startsWith('stun:')) return base;
    return `${base}; username=${q(creds.username)}; credential=${q(creds.credential)}; credential-type="password"`;
  });
}
