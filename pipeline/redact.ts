// Secrets out of text that leaves the process (logs, API responses, errors). Pure.
//
// What counts as a secret here: bearer tokens and JWTs, `access_token` query values, the
// user-info of any URL (user:password@), and the stream key of a push URL (its last path
// segment, plus any query string, which services also use for keys).

const URL_RE = /\b([a-z][a-z0-9+.-]*):\/\/([^\s/?#'"]*)([^\s'"]*)/gi;
const JWT_RE = /\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}/g;
const BEARER_RE = /\b(Bearer)\s+[A-Za-z0-9._~+/=-]+/gi;
const TOKEN_PARAM_RE = /\b(access_token|token|key|secret|password|passwd|pwd|credential)=([^&\s'"]+)/gi;

export const MASK = '***';

/** A push URL fit to show: no user-info, the stream key masked, no query. */
export function redactUrl(raw: string): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return MASK;
  }
  const segments = u.pathname.split('/');
  // rtmp://host/app/KEY: the key is the last segment (an app alone has none).
  if (segments.length > 2 && segments[segments.length - 1] !== '') segments[segments.length - 1] = MASK;
  const auth = u.username || u.password ? `${MASK}@` : '';
  return `${u.protocol}//${auth}${u.host}${segments.join('/')}${u.search ? `?${MASK}` : ''}`;
}

/** Any text with every URL, bearer token, JWT and secret-looking parameter masked. */
export function redactText(text: string): string {
  return text
    .replace(URL_RE, (whole, scheme: string) => (/^https?$/i.test(scheme) ? redactHttp(whole) : redactUrl(whole)))
    .replace(JWT_RE, MASK)
    .replace(BEARER_RE, `$1 ${MASK}`)
    .replace(TOKEN_PARAM_RE, `$1=${MASK}`);
}

/** HTTP URLs keep their path (it names rooms and sessions) but lose user-info and secrets. */
function redactHttp(raw: string): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return MASK;
  }
  if (u.username || u.password) {
    u.username = MASK;
    u.password = '';
  }
  return u.toString().replace(TOKEN_PARAM_RE, `$1=${MASK}`);
}

/**
 * `text` with every occurrence of the given secrets (as given, percent-decoded and
 * percent-encoded) masked, then redactText: for text that may echo a secret the caller knows
 * (a stream key in an error a remote server sent back) but that no pattern would find.
 */
export function maskSecrets(text: string, secrets: readonly string[]): string {
  const forms = new Set<string>();
  for (const s of secrets) {
    if (s.length < 4) continue;
    forms.add(s);
    try {
      forms.add(decodeURIComponent(s));
    } catch {
      /* not percent-encoded */
    }
    forms.add(encodeURIComponent(s));
  }
  let out = text;
  for (const f of [...forms].sort((a, b) => b.length - a.length)) out = out.split(f).join(MASK);
  return redactText(out);
}

/**
 * A log line's fields with redactText applied to every string in them (nested objects and arrays
 * to a few levels), so a secret in any free-text field (a Redis URL, a request URL with a query
 * token, FFmpeg's stderr) is masked whatever the field is called. Errors are left to their
 * serializer; other values pass through. Returns the input itself when nothing changed.
 */
export function redactFields<T>(value: T, depth = 3): T {
  if (typeof value === 'string') return redactText(value) as T;
  if (depth <= 0 || value === null || typeof value !== 'object' || value instanceof Error) return value;
  if (Array.isArray(value)) {
    const out = value.map((v) => redactFields(v, depth - 1));
    return (out.some((v, i) => v !== value[i]) ? out : value) as T;
  }
  if (Object.getPrototypeOf(value) !== Object.prototype) return value; // Buffers, Maps, class instances
  let out: Record<string, unknown> | null = null;
  for (const [k, v] of Object.entries(value)) {
    const r = redactFields(v, depth - 1);
    if (r !== v) (out ??= { ...(value as Record<string, unknown>) })[k] = r;
  }
  return (out ?? value) as T;
}
