// The one place errors become HTTP answers: RFC 9457 problem details
// (application/problem+json) with `type`, `title`, `status`, `detail`, and the catalogue's
// `error` code (plus `message`, the same text as `detail`, for older clients).

import type { NextFunction, Request, Response } from 'express';
import { ERROR_CATALOGUE, McuError, type ErrorCode } from '../../pipeline/errors.ts';
import type { Logger } from '../../workers/log.ts';

export const PROBLEM_TYPE_BASE = 'urn:mcu:error:';

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  error: ErrorCode;
  message: string;
}

export function problemOf(code: ErrorCode, detail: string): Problem {
  const { status, title } = ERROR_CATALOGUE[code];
  return { type: `${PROBLEM_TYPE_BASE}${code}`, title, status, detail, error: code, message: detail };
}

export function sendProblem(res: Response, code: ErrorCode, detail: string, headers: Record<string, string> = {}): void {
  const p = problemOf(code, detail);
  res.set(headers).status(p.status).type('application/problem+json').send(JSON.stringify(p));
}

/** body-parser's own errors, mapped into the catalogue. */
function bodyParserCode(status: number): ErrorCode {
  if (status === 413) return 'payload_too_large';
  if (status === 415) return 'unsupported_media_type';
  return 'bad_request';
}

export function errorMiddleware(log: Logger, maxBodyBytes: number) {
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  return (err: any, req: Request, res: Response, _next: NextFunction): void => {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (err instanceof McuError) {
      sendProblem(res, err.code, err.message, err.headers);
      return;
    }
    if (typeof err?.status === 'number' && err.status >= 400 && err.status < 500) {
      const code = bodyParserCode(err.status);
      const detail = err.status === 413 ? `request body is larger than allowed (${err.limit ?? maxBodyBytes} bytes)` : String(err.message);
      sendProblem(res, code, detail);
      return;
    }
    log.error({ err, method: req.method, path: req.path }, 'unexpected error in a request');
    sendProblem(res, 'internal', 'internal server error');
  };
}
