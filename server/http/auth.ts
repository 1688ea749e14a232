// Who may do what. With tokens on (MCU_AUTH_SECRET, MCU_AUTH_PUBLIC_KEY_FILE or
// MCU_AUTH_JWKS_URL), every request but health checks and static pages carries
// `Authorization: Bearer <JWT>`; only routes marked with queryToken (HLS, EventSource streams:
// clients that cannot set headers) also take `?access_token=`. Without keys the server runs
// open (loudly) and every caller is an admin. Tokens never reach the logs.

import { createHash, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { forbidden, unauthorized as unauthorizedError, unavailable } from '../../pipeline/errors.ts';
import { isGlobalAdmin, roomAllowed, TokenError, type Role, type TokenClaims } from '../../pipeline/auth/tokens.ts';
import { TokenCheckUnavailable, type TokenService } from '../auth/TokenService.ts';

export interface Caller {
  open: boolean;
  claims: TokenClaims;
  /** sha256 of the bearer token: sessions remember it so only their creator may end them. */
  tokenHash: string | null;
}

declare module 'express-serve-static-core' {
  interface Request {
    caller?: Caller;
  }
}

const OPEN_CALLER: Caller = { open: true, claims: { room: '*', role: 'admin', exp: Number.MAX_SAFE_INTEGER, jti: 'open' }, tokenHash: null };

export { forbidden };

/** 401 for a token that was presented but is not valid (RFC 6750 invalid_token). */
export const unauthorized = (message: string) =>
  unauthorizedError(message, `Bearer realm="mcu", error="invalid_token", error_description="${message.replace(/"/g, "'")}"`);

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Constant-time equality of two secrets (compared as hashes, so lengths leak nothing). */
export function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}

export const QUERY_TOKEN_REFUSED =
  'a token in the query string (?access_token=) is accepted only by HLS playlists and segments and by event streams (EventSource), which cannot send headers; send it as Authorization: Bearer <token>';

/** Marks a route whose clients cannot set headers: `?access_token=` is accepted on GET. */
export function queryToken(_req: Request, res: Response, next: NextFunction): void {
  res.locals.queryToken = true;
  next();
}

/** The bearer token of a request: the Authorization header, or ?access_token= where allowed. */
export function bearerOf(req: Request, res: Response): string | null {
  const header = req.get('authorization');
  if (header !== undefined) {
    const m = /^Bearer +(\S+)$/i.exec(header);
    if (!m) throw unauthorized('the Authorization header must be "Bearer <token>"');
    return m[1];
  }
  const q = req.query.access_token;
  if (q === undefined) return null;
  if (!res.locals.queryToken || (req.method !== 'GET' && req.method !== 'HEAD')) throw unauthorizedError(QUERY_TOKEN_REFUSED);
  if (typeof q !== 'string') throw unauthorized('give one ?access_token=');
  return q;
}

/** Attaches `req.caller`; rejects a missing or invalid token with 401. */
export function authenticate(tokens: TokenService | null) {
  return (req: Request, res: Response, next: NextFunction): void => {
    if (!tokens) {
      req.caller = OPEN_CALLER;
      return next();
    }
    let token: string | null;
    try {
      token = bearerOf(req, res);
    } catch (err) {
      return next(err);
    }
    if (!token) return next(unauthorizedError('this endpoint needs a bearer token (Authorization: Bearer <token>)'));
    tokens.verify(token).then(
      (claims) => {
        req.caller = { open: false, claims, tokenHash: hashToken(token) };
        next();
      },
      (err) => {
        if (err instanceof TokenError) next(unauthorized(err.message));
        else if (err instanceof TokenCheckUnavailable) next(unavailable(`the token could not be checked: ${err.message}`));
        else next(err);
      },
    );
  };
}

/** The caller must hold one of `roles` (admin always may) for the room in `:room`, if any. */
export function allow(...roles: Role[]) {
  return (req: Request, _res: Response, next: NextFunction): void => {
    const c = req.caller;
    if (!c) return next(unauthorized('not authenticated'));
    const role = c.claims.role;
    if (role !== 'admin' && !roles.includes(role)) {
      return next(forbidden(`a ${role} token may not ${req.method} ${req.baseUrl}${req.path}`));
    }
    const room = req.params.room;
    if (typeof room === 'string' && !roomAllowed(c.claims, room)) {
      return next(forbidden(`this token is for room "${c.claims.room}", not "${room}"`));
    }
    next();
  };
}

/** Server-wide views: open mode or an admin token for room "*". */
export function allowGlobal(what: string) {
  return (req: Request, _res: Response, next: NextFunction): void => {
    const c = req.caller;
    if (!c) return next(unauthorized('not authenticated'));
    if (c.open || isGlobalAdmin(c.claims)) return next();
    next(forbidden(`${what} is server-wide: it needs an admin token for room "*"${what === '/metrics' ? ' or METRICS_TOKEN' : ''}`));
  };
}

/** Does the caller's token cover this room? */
export function covers(caller: Caller | undefined, room: string): boolean {
  return Boolean(caller && (caller.open || roomAllowed(caller.claims, room)));
}

/** May this caller end (or act for) a session created with `ownerTokenHash`? */
export function ownsSession(caller: Caller | undefined, ownerTokenHash: string | null): boolean {
  if (!caller || caller.open || caller.claims.role === 'admin') return true;
  return ownerTokenHash !== null && caller.tokenHash === ownerTokenHash;
}
