// One catalogue: every error the API returns has an HTTP status, a stable code and a message
// that says what was wrong.

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export const badRequest = (message: string) => new HttpError(400, 'bad_request', message);
export const notFound = (message: string) => new HttpError(404, 'not_found', message);
export const unsupportedMediaType = (message: string) => new HttpError(415, 'unsupported_media_type', message);
export const unavailable = (message: string, retryAfterSec = 5) =>
  new HttpError(503, 'unavailable', message, { 'Retry-After': String(retryAfterSec) });
