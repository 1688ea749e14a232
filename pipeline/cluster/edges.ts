// Webinar edges, decided without I/O: which WHEP viewers a node other than the owner may serve,
// which node serves them (the least loaded of the viewer's region), which upstream pull a viewer
// shares (one per rung and codec), and how often a keyframe request may travel upstream.
// server/cluster/EdgeRelays.ts does the pulls and the fan-out.

import { isStale, loadScore, type NodeRecord } from './placement.ts';
import type { Level } from '../ladder.ts';

/** At most one keyframe request upstream per pull in this period (ms). */
export const EDGE_PLI_INTERVAL_MS = 500;
/** A pull with no viewer left is dropped after this long (ms; EDGE_LINGER_MS). */
export const EDGE_LINGER_MS = 30_000;
/** A pull that has received nothing for this long is taken for dead (its owner died, ms). */
export const EDGE_PULL_SILENT_MS = 6000;

/** What decides whether a WHEP request can be served by an edge. */
export interface EdgeRequest {
  /** ?participant= (a mix-minus: only the owner has it). */
  participant: string | null;
  /** ?tracks= or several receiving video m-lines (publishers' own video: only the owner has it). */
  tracks: number | null;
  /** The room as its owner's last heartbeat lists it (undefined: not listed yet). */
  room: { mode?: string } | undefined;
}

/**
 * A viewer is served at an edge when it watches a webinar's composite as an audience member: a
 * mix-minus (?participant=) and individual tracks exist only on the owner, and a conference's
 * viewers are few (one hop less is worth more there than the owner's fan-out).
 */
export function servesAtEdge(r: EdgeRequest): boolean {
  return r.participant === null && r.tracks === null && r.room?.mode === 'webinar';
}

/**
 * The node that serves a webinar viewer: among fresh, serving nodes of the viewer's region
 * (every region when it has none) other than the owner, the least loaded — a viewer costs an
 * edge what it would cost the owner, so the load score is the same one placement uses (ties:
 * the lower id). null: no such node (the owner serves the viewer itself).
 */
export function chooseEdge(nodes: readonly NodeRecord[], o: { now: number; ownerId: string; region?: string | null; expiryMs?: number }): NodeRecord | null {
  const fresh = nodes.filter((n) => n.id !== o.ownerId && n.state === 'serving' && !isStale(n, o.now, o.expiryMs));
  const local = o.region ? fresh.filter((n) => n.region === o.region) : [];
  const pool = local.length ? local : fresh;
  let best: NodeRecord | null = null;
  for (const n of pool) {
    if (!best) best = n;
    else {
      const d = loadScore(n) - loadScore(best);
      if (d < 0 || (d === 0 && n.id < best.id)) best = n;
    }
  }
  return best;
}

/** The pull a viewer shares: its level (pinned, or the top rung) and its video codec. */
export function pullKey(level: Level, codec: 'vp8' | 'h264' | null): string {
  return codec && level !== 'audio' ? `${level}/${codec}` : 'audio';
}

/** Lets one keyframe request through per interval; the rest are absorbed (the owner's mixer is shared). */
export class KeyframeGate {
  private last = -Infinity;
  passed = 0;
  absorbed = 0;
  constructor(private readonly intervalMs = EDGE_PLI_INTERVAL_MS) {}

  request(now: number): boolean {
    if (now - this.last < this.intervalMs) {
      this.absorbed++;
      return false;
    }
    this.last = now;
    this.passed++;
    return true;
  }
}

/** Bits per second from a monotonic byte counter sampled at two times (0 on the first sample). */
export class RateMeter {
  private lastBytes = -1;
  private lastAt = 0;
  bps = 0;

  sample(bytes: number, at: number): number {
    if (this.lastBytes >= 0 && at > this.lastAt) this.bps = Math.max(0, ((bytes - this.lastBytes) * 8 * 1000) / (at - this.lastAt));
    this.lastBytes = bytes;
    this.lastAt = at;
    return this.bps;
  }
}
