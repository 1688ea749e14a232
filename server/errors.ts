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
export const notAcceptable = (message: string) => new HttpError(406, 'not_acceptable', message);

/** Maps an SDP problem to its answer: 400 for a broken offer, 406 for one we cannot serve. */
export function sdpProblem(err: unknown): unknown {
  if (err && typeof err === 'object' && 'kind' in err && err instanceof Error) {
    return (err as { kind: string }).kind === 'unsupported' ? notAcceptable(err.message) : badRequest(err.message);
  }
  return err;
}
