// Who may do what. With MCU_AUTH_SECRET set, every request but health checks and static
// pages carries `Authorization: Bearer <JWT>` (or `?access_token=` on EventSource streams,
// which cannot send headers); without it the server runs open (loudly) and every caller is
// an admin. Tokens and TURN credentials never reach the logs.

import { createHash } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { HttpError } from '../errors.ts';
import { roomAllowed, TokenError, verifyToken, type Role, type TokenClaims } from '../../pipeline/auth/tokens.ts';

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

const OPEN_CALLER: Caller = { open: true, claims: { room: '*', role: 'admin', exp: Number.MAX_SAFE_INTEGER }, tokenHash: null };

export const unauthorized = (message: string) =>
  new HttpError(401, 'unauthorized', message, { 'WWW-Authenticate': `Bearer realm="mcu", error="invalid_token", error_description="${message.replace(/"/g, "'")}"` });
export const forbidden = (message: string) => new HttpError(403, 'forbidden', message);

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Attaches `req.caller`; rejects a missing or invalid token with 401. */
export function authenticate(secret: string | null) {
  return (req: Request, _res: Response, next: NextFunction): void => {
    if (!secret) {
      req.caller = OPEN_CALLER;
      return next();
    }
    const header = req.get('authorization') ?? '';
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    const token = m?.[1] ?? (req.method === 'GET' && typeof req.query.access_token === 'string' ? req.query.access_token : null);
    if (!token) {
      return next(new HttpError(401, 'unauthorized', 'this endpoint needs a bearer token (Authorization: Bearer <token>)', { 'WWW-Authenticate': 'Bearer realm="mcu"' }));
    }
    try {
      req.caller = { open: false, claims: verifyToken(token, secret, Math.floor(Date.now() / 1000)), tokenHash: hashToken(token) };
      next();
    } catch (err) {
      next(err instanceof TokenError ? unauthorized(err.message) : err);
    }
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

/** May this caller end (or act for) a session created with `ownerTokenHash`? */
export function ownsSession(caller: Caller | undefined, ownerTokenHash: string | null): boolean {
  if (!caller || caller.open || caller.claims.role === 'admin') return true;
  return ownerTokenHash !== null && caller.tokenHash === ownerTokenHash;
}
