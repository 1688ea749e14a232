// Where a room may push its stream (RTMP/RTMPS), and how the push URL is split so its secret
// parts never reach a command line. Pure: DNS answers are passed in.
//
//   STREAM_TARGETS_ALLOW=rtmp://live.example.com,rtmps://*.example.net,rtmp://10.0.0.5:1935
//
// Without an allow-list any host is a target as long as every address it resolves to is
// public. With one, a target must match an entry (scheme, host or *.domain, optional port);
// a non-public address (loopback, private, link-local, unspecified…) is accepted only when
// the entry names that host exactly, never through a wildcard.

import { addressKind, isIpLiteral } from './addresses.ts';

export type PushScheme = 'rtmp' | 'rtmps';

export interface AllowRule {
  scheme: PushScheme;
  /** Lower-case host (no brackets); for a wildcard the domain after "*.". */
  host: string;
  wildcard: boolean;
  /** null: any port. */
  port: number | null;
  text: string;
}

export interface PushTarget {
  scheme: PushScheme;
  /** Lower-case host name or IP literal (no brackets). */
  host: string;
  port: number;
  /** The RTMP application: every path segment but the last. */
  app: string;
  /** The stream key (the last segment) with any query string: the secret part. */
  key: string;
  /** What the server is told the client connected to (RTMP tcUrl); no key in it. */
  tcUrl: string;
}

const DEFAULT_PORT: Record<PushScheme, number> = { rtmp: 1935, rtmps: 443 };
const MAX_URL_LENGTH = 512;
export const RULE_NAME = 'STREAM_TARGETS_ALLOW';

const bare = (host: string) => host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
const hostForUrl = (host: string) => (host.includes(':') ? `[${host}]` : host);

/** Parses STREAM_TARGETS_ALLOW; throws with a message naming the bad entry. */
export function parseAllowList(raw: string | undefined): AllowRule[] {
  const entries = (raw ?? '').split(',').map((e) => e.trim()).filter(Boolean);
  return entries.map((text) => {
    const m = /^(rtmps?):\/\/(\*\.)?([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::(\d{1,5}))?\/?$/.exec(text);
    if (!m) throw new Error(`${RULE_NAME} entry "${text}" must look like rtmp://host, rtmps://*.example.net or rtmp://10.0.0.5:1935`);
    const port = m[4] === undefined ? null : Number(m[4]);
    if (port !== null && (port < 1 || port > 65535)) throw new Error(`${RULE_NAME} entry "${text}" has an invalid port`);
    if (m[2] && isIpLiteral(bare(m[3]))) throw new Error(`${RULE_NAME} entry "${text}": a wildcard needs a domain, not an address`);
    return { scheme: m[1] as PushScheme, host: bare(m[3]), wildcard: Boolean(m[2]), port, text };
  });
}

/** Splits a push URL; returns a message (never echoing secrets) for a bad one. */
export function parsePushUrl(raw: unknown): PushTarget | string {
  if (typeof raw !== 'string' || !raw) return '"url" must be an rtmp:// or rtmps:// URL';
  if (raw.length > MAX_URL_LENGTH) return `"url" is longer than ${MAX_URL_LENGTH} characters`;
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return '"url" is not a URL';
  }
  if (u.protocol !== 'rtmp:' && u.protocol !== 'rtmps:') return `"url" must use rtmp:// or rtmps://, got ${u.protocol.slice(0, 16)}//`;
  if (u.username || u.password) {
    return '"url" carries credentials (user:password@): they would reach the FFmpeg command line, so they are not supported; put the key (and any password parameter) in the path or query, e.g. rtmp://host/app/KEY?pass=…';
  }
  const host = bare(u.hostname);
  if (!host) return '"url" has no host';
  if (!isIpLiteral(host) && !/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*\.?$/.test(host)) return '"url" has an invalid host name';
  const scheme = u.protocol.slice(0, -1) as PushScheme;
  const port = u.port ? Number(u.port) : DEFAULT_PORT[scheme];
  const segments = u.pathname.split('/').slice(1);
  if (segments.length < 2 || segments.some((s) => !s)) return '"url" must name an application and a stream key: rtmp://host/app/KEY';
  if (u.hash) return '"url" must not have a #fragment';
  const key = segments[segments.length - 1] + u.search;
  const app = segments.slice(0, -1).join('/');
  return { scheme, host, port, app, key, tcUrl: `${scheme}://${hostForUrl(host)}:${port}/${app}` };
}

function hostMatches(rule: AllowRule, host: string): boolean {
  const h = host.replace(/\.$/, '');
  return rule.wildcard ? h.endsWith(`.${rule.host}`) : h === rule.host;
}

/** The allow-list entry that lets this target through, or null. */
export function matchRule(t: PushTarget, rules: readonly AllowRule[]): AllowRule | null {
  return rules.find((r) => r.scheme === t.scheme && (r.port === null || r.port === t.port) && hostMatches(r, t.host)) ?? null;
}

/**
 * Why this target may not be pushed to, or null. `addresses` are what its host resolves to
 * (the literal itself for an IP); an empty list (no answer) is refused like a private one, so
 * the answer tells nothing about internal names.
 */
export function targetRefusal(t: PushTarget, rules: readonly AllowRule[], addresses: readonly string[]): string | null {
  const rule = matchRule(t, rules);
  if (rules.length && !rule) {
    return `"url" is not an allowed target: ${t.scheme}://${hostForUrl(t.host)}:${t.port} matches no entry of ${RULE_NAME}`;
  }
  const exact = rule !== null && !rule.wildcard;
  const internal = addresses.length === 0 || addresses.some((a) => addressKind(a) !== 'public');
  if (internal && !exact) {
    return `"url" is not an allowed target: pushes to loopback, private, link-local and unspecified addresses (or to hosts that do not resolve) are refused unless ${RULE_NAME} names the host`;
  }
  return null;
}

/** The push as shown back: host, port and app; the key is masked. */
export function describeTarget(t: PushTarget): string {
  return `${t.scheme}://${hostForUrl(t.host)}:${t.port}/${t.app}/***`;
}

/**
 * An FFmpeg preset file (-fpre) for the RTMP output: the parts of the URL that are secret go
 * to FFmpeg in this file, not on its command line (which every local user can read in ps).
 * The command line names only the local relay that carries the bytes to the target.
 */
export function rtmpPreset(t: PushTarget): string {
  for (const v of [t.app, t.key, t.tcUrl]) if (/[\r\n]/.test(v) || v.length > 900) throw new Error('push URL part unfit for a preset file');
  return `rtmp_app=${t.app}\nrtmp_playpath=${t.key}\nrtmp_tcurl=${t.tcUrl}\n`;
}
