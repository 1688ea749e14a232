// One catalogue: every error the service returns has a stable code, an HTTP status and a
// title; the message says what was wrong this time. Domain code throws these through the
// factories below (never a bare code string); one middleware (server/http/problems.ts)
// turns them into RFC 9457 problem details. Pure (no I/O), so pipeline/ may throw them too.

export const ERROR_CATALOGUE = {
  bad_request: { status: 400, title: 'The request is malformed or invalid' },
  unauthorized: { status: 401, title: 'A valid bearer token is needed' },
  forbidden: { status: 403, title: 'The token does not allow this' },
  room_full: { status: 403, title: 'The room is at its participant or subscriber limit' },
  not_found: { status: 404, title: 'No such resource' },
  method_not_allowed: { status: 405, title: 'The resource does not support this method' },
  not_acceptable: { status: 406, title: 'The offer asks for media the server cannot serve' },
  room_closed: { status: 409, title: 'The room closed while the request was in flight' },
  conflict: { status: 409, title: 'The resource is not in a state that allows this' },
  already_finished: { status: 409, title: 'The recording has already finished' },
  not_finished: { status: 409, title: 'The recording has not finished yet' },
  too_many_streams: { status: 409, title: 'The room pushes to as many targets as allowed' },
  precondition_failed: { status: 412, title: 'The If-Match ETag does not match the session' },
  precondition_required: { status: 428, title: 'The request must say which version of the session it changes (If-Match)' },
  payload_too_large: { status: 413, title: 'The request body is too large' },
  unsupported_media_type: { status: 415, title: 'The Content-Type is not accepted here' },
  too_many_requests: { status: 429, title: 'Too many requests from this address' },
  internal: { status: 500, title: 'Internal server error' },
  unavailable: { status: 503, title: 'The service cannot take this request now' },
  hls_starting: { status: 503, title: 'HLS is starting: no segment yet' },
  hls_unavailable: { status: 503, title: 'HLS could not start' },
  recordings_unavailable: { status: 503, title: 'Recordings are unavailable (Redis or configuration)' },
} as const;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

export class McuError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'McuError';
  }

  get status(): number {
    return ERROR_CATALOGUE[this.code].status;
  }

  get title(): string {
    return ERROR_CATALOGUE[this.code].title;
  }
}

export const badRequest = (message: string) => new McuError('bad_request', message);
export const forbidden = (message: string) => new McuError('forbidden', message);
export const roomFull = (message: string) => new McuError('room_full', message);
export const notFound = (message: string) => new McuError('not_found', message);
export const methodNotAllowed = (message: string, allow: string) => new McuError('method_not_allowed', message, { Allow: allow });
export const notAcceptable = (message: string) => new McuError('not_acceptable', message);
export const roomClosed = (message: string) => new McuError('room_closed', message);
export const conflict = (message: string) => new McuError('conflict', message);
export const preconditionFailed = (message: string) => new McuError('precondition_failed', message);
export const preconditionRequired = (message: string) => new McuError('precondition_required', message);
export const unsupportedMediaType = (message: string) => new McuError('unsupported_media_type', message);
export const tooManyRequests = (message: string, retryAfterSec: number) =>
  new McuError('too_many_requests', message, { 'Retry-After': String(retryAfterSec) });
export const unavailable = (message: string, retryAfterSec = 5) =>
  new McuError('unavailable', message, { 'Retry-After': String(retryAfterSec) });
export const alreadyFinished = (message: string) => new McuError('already_finished', message);
export const notFinished = (message: string) => new McuError('not_finished', message);
export const tooManyStreams = (message: string) => new McuError('too_many_streams', message);
export const hlsStarting = (message: string) => new McuError('hls_starting', message, { 'Retry-After': '2' });
export const hlsUnavailable = (message: string) => new McuError('hls_unavailable', message, { 'Retry-After': '2' });
export const recordingsUnavailable = (message: string, retryAfterSec = 5) =>
  new McuError('recordings_unavailable', message, { 'Retry-After': String(retryAfterSec) });
export const unauthorized = (message: string, challenge = 'Bearer realm="mcu"') =>
  new McuError('unauthorized', message, { 'WWW-Authenticate': challenge });

/** Maps an SDP problem to its answer: 400 for a broken offer, 406 for one we cannot serve. */
export function sdpProblem(err: unknown): unknown {
  if (err && typeof err === 'object' && 'kind' in err && err instanceof Error) {
    return (err as { kind: string }).kind === 'unsupported' ? notAcceptable(err.message) : badRequest(err.message);
  }
  return err;
}
