// Per-connection quality figures from raw counters sampled at intervals. Pure: the callers
// pass the stats they read (wrtc getStats on ingest, werift sender state on egress).

import { estimateMos } from './emodel.ts';

export interface ConnectionFigures {
  lossPercent: number;
  rttMs: number | null;
  jitterMs: number | null;
  bitrateKbps: number;
  fps: number | null;
  mos: number;
}

/** Cumulative counters of one connection at one instant. */
export interface Counters {
  atMs: number;
  bytes: number;
  packets: number;
  packetsLost: number;
  frames: number;
}

export const zeroCounters = (atMs: number): Counters => ({ atMs, bytes: 0, packets: 0, packetsLost: 0, frames: 0 });

/** Loss over the interval: newly lost / (newly received + newly lost). */
export function intervalLossPercent(prev: Counters, cur: Counters): number {
  const lost = Math.max(0, cur.packetsLost - prev.packetsLost);
  const got = Math.max(0, cur.packets - prev.packets);
  return lost + got === 0 ? 0 : (100 * lost) / (lost + got);
}

export function figures(
  prev: Counters,
  cur: Counters,
  extra: { rttMs: number | null; jitterMs: number | null; lossPercent?: number },
): ConnectionFigures {
  const dt = Math.max(1, cur.atMs - prev.atMs) / 1000;
  const lossPercent = extra.lossPercent ?? intervalLossPercent(prev, cur);
  const bitrateKbps = (Math.max(0, cur.bytes - prev.bytes) * 8) / dt / 1000;
  const fps = cur.frames || prev.frames ? Math.max(0, cur.frames - prev.frames) / dt : null;
  const mos = estimateMos({ rttMs: extra.rttMs ?? 0, jitterMs: extra.jitterMs ?? 0, lossPercent });
  return { lossPercent, rttMs: extra.rttMs, jitterMs: extra.jitterMs, bitrateKbps, fps, mos };
}

/** Reads the figures of a publisher's connection out of a standard RTCStatsReport's entries. */
export function ingestCounters(stats: Iterable<any>, atMs: number): { counters: Counters; rttMs: number | null; jitterMs: number | null } {
  const c = zeroCounters(atMs);
  let rttMs: number | null = null;
  let jitter = 0;
  let jitterN = 0;
  for (const s of stats) {
    if (s.type === 'inbound-rtp') {
      c.bytes += s.bytesReceived ?? 0;
      c.packets += s.packetsReceived ?? 0;
      c.packetsLost += Math.max(0, s.packetsLost ?? 0);
      if ((s.kind ?? s.mediaType) === 'video') c.frames += s.framesDecoded ?? s.framesReceived ?? 0;
      if (typeof s.jitter === 'number') {
        jitter += s.jitter * 1000;
        jitterN++;
      }
    } else if (s.type === 'candidate-pair' && (s.nominated || s.state === 'succeeded')) {
      if (typeof s.currentRoundTripTime === 'number') rttMs = s.currentRoundTripTime * 1000;
    }
  }
  return { counters: c, rttMs, jitterMs: jitterN ? jitter / jitterN : null };
}

/** The same figures from the ingest's own counters (server/rtc/Ingest stats()). */
export function ingestCountersOf(
  s: {
    rttMs: number | null;
    video: { bytes: number; packets: number; packetsLost: number; framesDecoded: number; jitterMs: number | null } | null;
    audio: { bytes: number; packets: number; packetsLost: number; jitterMs: number | null } | null;
  },
  atMs: number,
): { counters: Counters; rttMs: number | null; jitterMs: number | null } {
  const c = zeroCounters(atMs);
  const jitters: number[] = [];
  for (const st of [s.video, s.audio]) {
    if (!st) continue;
    c.bytes += st.bytes;
    c.packets += st.packets;
    c.packetsLost += st.packetsLost;
    if (st.jitterMs !== null) jitters.push(st.jitterMs);
  }
  c.frames = s.video?.framesDecoded ?? 0;
  return { counters: c, rttMs: s.rttMs, jitterMs: jitters.length ? jitters.reduce((a, b) => a + b, 0) / jitters.length : null };
}

export interface ClientTelemetry {
  role: 'publisher' | 'subscriber';
  session: string;
  rttMs?: number;
  jitterMs?: number;
  lossPercent?: number;
  bitrateKbps?: number;
  fps?: number;
  framesDropped?: number;
  freezeCount?: number;
}

/** Validates a client's getStats summary; returns the value or a message saying what is wrong. */
export function parseTelemetry(body: unknown): ClientTelemetry | string {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return 'the body must be a JSON object';
  const b = body as Record<string, unknown>;
  if (b.role !== 'publisher' && b.role !== 'subscriber') return '"role" must be "publisher" or "subscriber"';
  if (typeof b.session !== 'string' || !/^[A-Za-z0-9-]{1,64}$/.test(b.session)) {
    return '"session" must be the id of your WHIP or WHEP session';
  }
  const out: ClientTelemetry = { role: b.role, session: b.session };
  const ranges: Array<[keyof ClientTelemetry, number, number]> = [
    ['rttMs', 0, 60_000],
    ['jitterMs', 0, 60_000],
    ['lossPercent', 0, 100],
    ['bitrateKbps', 0, 1_000_000],
    ['fps', 0, 240],
    ['framesDropped', 0, 1e9],
    ['freezeCount', 0, 1e9],
  ];
  for (const [key, min, max] of ranges) {
    const v = b[key];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
      return `"${key}" must be a number from ${min} to ${max}`;
    }
    (out as any)[key] = v;
  }
  const known = new Set(['role', 'session', ...ranges.map((r) => r[0])]);
  const unknown = Object.keys(b).filter((k) => !known.has(k));
  if (unknown.length) return `unknown field(s): ${unknown.slice(0, 5).join(', ')}`;
  return out;
}
