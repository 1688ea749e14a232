// Room tokens (JWT) — the claims, what makes them valid, what a token may mint — and TURN
// REST credentials. Pure: no I/O, the time is passed in. Signatures are checked by
// server/auth/TokenVerifier.ts (jose); signToken is the server's own HS256 minting.

import { createHmac, randomUUID } from 'node:crypto';

export const ROLES = ['publisher', 'subscriber', 'host', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** Role order for minting: a token mints roles at or below its own. */
export const ROLE_RANK: Record<Role, number> = { subscriber: 0, publisher: 1, host: 2, admin: 3 };

export interface TokenClaims {
  /** A room name, or "*" for every room. */
  room: string;
  role: Role;
  /** Display name; overrides ?name= on WHIP. */
  name?: string;
  /** Expiry, seconds since the epoch (required). */
  exp: number;
  iat?: number;
  nbf?: number;
  /** Unique id: two tokens with the same claims are still two owners (always minted). */
  jti: string;
}

export interface TokenPolicy {
  /** No token may live longer than this from now (or from its iat). */
  maxTtlSec: number;
  /** Clock skew allowed for nbf and iat (never for exp). */
  leewaySec: number;
}

export const DEFAULT_TOKEN_POLICY: TokenPolicy = { maxTtlSec: 86_400, leewaySec: 30 };

export class TokenError extends Error {}

/** base64url without padding, the only encoding a JWT part may use. */
const B64URL = /^[A-Za-z0-9_-]+$/;
const ROOM_CLAIM = /^[A-Za-z0-9_-]{1,64}$/;
export const MAX_TOKEN_LENGTH = 4096;

/** Mints an HS256 token; a jti is added when the claims have none. */
export function signToken(claims: Omit<TokenClaims, 'jti'> & { jti?: string }, secret: string): string {
  const b64url = (s: string) => Buffer.from(s).toString('base64url');
  const header = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const payload = b64url(JSON.stringify({ ...claims, jti: claims.jti ?? randomUUID() }));
  const sig = createHmac('sha256', secret).update(`${header}.${payload}`).digest('base64url');
  return `${header}.${payload}.${sig}`;
}

/**
 * The compact form's three parts, each strict base64url (no standard base64, no padding), and
 * the decoded header; throws TokenError for anything else. Checked before any signature, so
 * a token has exactly one encoding.
 */
export function splitToken(token: string): { header: Record<string, unknown>; parts: [string, string, string] } {
  if (token.length > MAX_TOKEN_LENGTH) throw new TokenError('malformed token: longer than 4096 characters');
  const parts = token.split('.');
  if (parts.length !== 3 || !parts.every((p) => B64URL.test(p))) {
    throw new TokenError('malformed token: a JWT is three base64url parts (no padding, no "+" or "/")');
  }
  let header: unknown;
  try {
    header = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8'));
  } catch {
    throw new TokenError('malformed token: the header is not JSON');
  }
  if (!header || typeof header !== 'object' || Array.isArray(header)) throw new TokenError('malformed token: the header is not a JSON object');
  return { header: header as Record<string, unknown>, parts: parts as [string, string, string] };
}

const isTime = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;

/**
 * Checks a payload whose signature has been verified: times against `nowSec` and the policy,
 * then the claims' shapes. Returns the claims or throws TokenError saying why not.
 */
export function checkClaims(payload: unknown, nowSec: number, policy: TokenPolicy = DEFAULT_TOKEN_POLICY): TokenClaims {
  if (!payload || typeof payload !== 'object' || Array.isArray(payload)) throw new TokenError('malformed token: the payload is not a JSON object');
  const c = payload as Record<string, unknown>;
  if (c.exp === undefined) throw new TokenError('the token has no expiry (exp)');
  if (!isTime(c.exp)) throw new TokenError('the token\'s exp must be a number of seconds since the epoch');
  if (c.exp <= nowSec) throw new TokenError('the token has expired');
  if (c.exp - nowSec > policy.maxTtlSec + policy.leewaySec) {
    throw new TokenError(`the token lives longer than the server allows (TOKEN_MAX_TTL_SEC = ${policy.maxTtlSec} s)`);
  }
  if (c.iat !== undefined) {
    if (!isTime(c.iat)) throw new TokenError('the token\'s iat must be a number of seconds since the epoch');
    if (c.iat > nowSec + policy.leewaySec) throw new TokenError('the token was issued in the future (iat); check the issuer\'s clock');
    if (c.exp - c.iat > policy.maxTtlSec + policy.leewaySec) {
      throw new TokenError(`the token lives longer than the server allows (TOKEN_MAX_TTL_SEC = ${policy.maxTtlSec} s)`);
    }
  }
  if (c.nbf !== undefined) {
    if (!isTime(c.nbf)) throw new TokenError('the token\'s nbf must be a number of seconds since the epoch');
    if (c.nbf > nowSec + policy.leewaySec) throw new TokenError('the token is not valid yet (nbf)');
  }
  if (typeof c.jti !== 'string' || c.jti.length < 1 || c.jti.length > 256) throw new TokenError('the token has no unique id (jti)');
  if (typeof c.room !== 'string' || !(c.room === '*' || ROOM_CLAIM.test(c.room))) throw new TokenError('the token has no valid room claim');
  if (!ROLES.includes(c.role as Role)) throw new TokenError(`the token's role must be one of ${ROLES.join(', ')}`);
  if (c.name !== undefined && typeof c.name !== 'string') throw new TokenError('the token\'s name must be a string');
  return c as unknown as TokenClaims;
}

export function roomAllowed(claims: Pick<TokenClaims, 'room'>, room: string): boolean {
  return claims.room === '*' || claims.room === room;
}

/** A global admin: room "*" and role admin. Only it sees server-wide views. */
export function isGlobalAdmin(claims: Pick<TokenClaims, 'room' | 'role'>): boolean {
  return claims.room === '*' && claims.role === 'admin';
}

/**
 * Whether `minter` may mint a token with `want`'s room, role and expiry: never a room it does
 * not cover, a role above its own, or an expiry after its own (a global admin's expiry is not
 * a bound). Returns the reason it may not, or null.
 */
export function mintRefusal(minter: Pick<TokenClaims, 'room' | 'role' | 'exp'>, want: { room: string; role: Role; exp: number }): string | null {
  if (minter.room !== '*' && want.room !== minter.room) {
    return `a token for room "${minter.room}" may only mint tokens for room "${minter.room}", not "${want.room}"`;
  }
  if (ROLE_RANK[want.role] > ROLE_RANK[minter.role]) return `a ${minter.role} token may not mint a ${want.role} token (roles at or below its own only)`;
  if (!isGlobalAdmin(minter) && want.exp > minter.exp) {
    return `a token may not outlive the token that mints it (it expires at ${new Date(minter.exp * 1000).toISOString()})`;
  }
  return null;
}

/**
 * A requested lifetime in whole seconds, from 1 to `maxSec`; undefined means `defaultSec`.
 * Returns the seconds or a message saying what is wrong.
 */
export function parseTtl(raw: unknown, defaultSec: number, maxSec: number): number | string {
  if (raw === undefined) return Math.min(defaultSec, maxSec);
  if (typeof raw !== 'number' || !Number.isInteger(raw) || raw < 1 || raw > maxSec) {
    return `"ttlSec" must be a whole number of seconds from 1 to ${maxSec} (TOKEN_MAX_TTL_SEC), got ${JSON.stringify(raw) ?? String(raw)}`;
  }
  return raw;
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
