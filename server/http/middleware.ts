// Cross-cutting HTTP middleware: security headers, CORS, the request log, SDP bodies and the
// per-address session rate limit.

import express, { type NextFunction, type Request, type Response } from 'express';
import { MAX_SDP_BYTES } from '../../pipeline/sdp.ts';
import { RateLimiter } from '../../pipeline/auth/RateLimiter.ts';
import { redactText } from '../../pipeline/redact.ts';
import { tooManyRequests, unsupportedMediaType } from '../../pipeline/errors.ts';
import type { Logger } from '../../workers/log.ts';

/** Security headers everywhere; the pages load only their own scripts (no inline script). */
export function securityHeaders(_req: Request, res: Response, next: NextFunction): void {
  res.set({
    'Content-Security-Policy':
      "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; media-src 'self' blob:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'X-Frame-Options': 'DENY',
  });
  next();
}

const EXPOSED = ['Location', 'Link', 'ETag', 'Accept-Patch', 'Accept-Post', 'Retry-After', 'WWW-Authenticate', 'X-Recording-Partial', 'Content-Range'];
const ALLOWED_HEADERS = ['Authorization', 'Content-Type', 'If-Match', 'If-None-Match', 'Range'];
const ALLOWED_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

/**
 * CORS for players and tools on other origins (WHIP/WHEP, sessions, HLS, the API). Tokens,
 * not origins, are what protect the API, so the default allows any origin; `origins` narrows
 * it. A preflight is answered here, before authentication: browsers never send a token with one.
 */
export function cors(origins: '*' | readonly string[]) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const origin = req.get('origin');
    if (origin) {
      if (origins === '*') res.set('Access-Control-Allow-Origin', '*');
      else {
        res.append('Vary', 'Origin');
        if (origins.includes(origin)) res.set('Access-Control-Allow-Origin', origin);
      }
      res.set('Access-Control-Expose-Headers', EXPOSED.join(', '));
    }
    if (req.method === 'OPTIONS' && origin && req.get('access-control-request-method')) {
      res.set({
        'Access-Control-Allow-Methods': ALLOWED_METHODS.join(', '),
        'Access-Control-Allow-Headers': ALLOWED_HEADERS.join(', '),
        'Access-Control-Max-Age': '600',
      });
      res.status(204).end();
      return;
    }
    next();
  };
}

/** One log line per request, with its outcome and duration (query secrets masked). */
export function requestLog(log: Logger) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const started = performance.now();
    res.on('finish', () => {
      const status = res.statusCode;
      const line = {
        method: req.method,
        url: redactText(req.originalUrl),
        status,
        ms: Math.round((performance.now() - started) * 10) / 10,
        remote: req.socket.remoteAddress,
      };
      if (status >= 500) log.warn(line, 'request failed');
      else log.info(line, 'request');
    });
    next();
  };
}

/** An SDP body (WHIP/WHEP offers), up to 64 KiB, whatever its declared charset. */
export const sdpBody = express.text({ type: () => true, limit: MAX_SDP_BYTES });

export function requireSdp(req: Request, _res: Response, next: NextFunction): void {
  if (!req.is('application/sdp')) {
    next(unsupportedMediaType(`Content-Type must be application/sdp, got "${req.get('content-type') ?? 'none'}"`));
    return;
  }
  next();
}

/** Session creations per client address (token bucket); beyond it 429 + Retry-After. */
export function sessionRateLimit(rate: { perSec: number; burst: number } | undefined) {
  const limiter = new RateLimiter(rate?.perSec ?? 5, rate?.burst ?? 20);
  return (req: Request, res: Response, next: NextFunction): void => {
    // clientAddress: the client of a request another cluster node forwarded (server/cluster).
    const wait = limiter.take(res.locals.clientAddress ?? req.socket.remoteAddress ?? 'unknown', Date.now());
    if (wait > 0) return next(tooManyRequests(`too many sessions created from this address; retry in ${wait} s`, wait));
    next();
  };
}

export const param = (req: Request, key: string): string => String(req.params[key]);
