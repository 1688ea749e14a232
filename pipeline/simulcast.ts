// Simulcast ingest, the pure parts: what a publisher's offer says about its layers (RIDs and
// the RTP header extensions that name them), which layer fits a tile, and a switcher that
// moves the decoder's input from one layer to another only on the new layer's keyframe.
// Wired in by planIngest (offer/answer), IngestRouter (packets → layer) and
// server/rtc/ingest/VideoReceiver (per-layer receive, one decoder); docs/ARCHITECTURE.md,
// "Simulcast ingest".

import type { Rect } from './layout/geometry.ts';

export interface Size {
  width: number;
  height: number;
}

export interface SimulcastOffer {
  /** RIDs the publisher sends, in the order of its a=simulcast:send line (paused ones left out). */
  rids: string[];
  /** Restrictions per RID (a=rid:… send max-width=…;max-height=…), when given. */
  limits: Map<string, Partial<Size>>;
  /** RTP header extension ids (0: not negotiated). */
  ridExtId: number;
  repairedRidExtId: number;
}

const RID_URI = 'urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id';
const REPAIRED_RID_URI = 'urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id';

function extId(section: string[], uri: string): number {
  for (const l of section) {
    const m = /^a=extmap:(\d+)(?:\/\w+)?\s+(\S+)/.exec(l);
    if (m && m[2] === uri) return Number(m[1]);
  }
  return 0;
}

/** The simulcast a video section offers to send, or null (no a=simulcast:send, or one layer). */
export function parseSimulcast(section: string[]): SimulcastOffer | null {
  const sim = section.map((l) => /^a=simulcast:\s*send\s+(\S+)/.exec(l)).find(Boolean);
  if (!sim) return null;
  const declared = new Map<string, Partial<Size>>();
  for (const l of section) {
    const m = /^a=rid:(\S+)\s+send(?:\s+(.*))?$/.exec(l);
    if (!m) continue;
    const limits: Partial<Size> = {};
    for (const kv of (m[2] ?? '').split(';')) {
      const [k, v] = kv.split('=');
      if (k === 'max-width' && Number(v) > 0) limits.width = Number(v);
      if (k === 'max-height' && Number(v) > 0) limits.height = Number(v);
    }
    declared.set(m[1], limits);
  }
  // Each ';' group is one layer; alternatives (',') — the first one; '~' marks a paused layer.
  const rids = sim[1]
    .split(';')
    .map((g) => g.split(',')[0])
    .filter((r) => r && !r.startsWith('~') && declared.has(r));
  if (rids.length < 2) return null;
  return {
    rids,
    limits: new Map(rids.map((r) => [r, declared.get(r)!])),
    ridExtId: extId(section, RID_URI),
    repairedRidExtId: extId(section, REPAIRED_RID_URI),
  };
}

/**
 * The offer's simulcast lines as the ingest's WebRTC stack is to see them: one plain
 * `a=rid:X send` per layer taken (restrictions dropped: werift reads everything after the RID
 * as its direction) and `a=simulcast:send` listing them. The answer then says `recv`.
 */
export function simulcastLines(offer: Pick<SimulcastOffer, 'rids'>): string[] {
  return [...offer.rids.map((r) => `a=rid:${r} send`), `a=simulcast:send ${offer.rids.join(';')}`];
}

/**
 * The picture size a tile needs (source pixels that map 1:1 onto the canvas): the tile's
 * drawn size, scaled up by how much of the picture it shows (crop mode shows only part of
 * it). `content` is where the picture is inside the slot frame (the decoder's letterbox),
 * `shown` the part of the slot frame drawn (the layout's crop; null: all of `content`).
 */
export function tileDemand(video: Pick<Rect, 'width' | 'height'>, content: Pick<Rect, 'width' | 'height'>, shown: Pick<Rect, 'width' | 'height'> | null): Size {
  const part = shown ?? content;
  const fx = part.width > 0 ? content.width / part.width : 1;
  const fy = part.height > 0 ? content.height / part.height : 1;
  return { width: Math.round(video.width * Math.max(1, fx)), height: Math.round(video.height * Math.max(1, fy)) };
}

export interface LayerState {
  rid: string;
  /** Picture size, from its last keyframe (null: none seen yet). */
  size: Size | null;
  /** Packets arrived recently (a layer the publisher paused or dropped under congestion is not). */
  live: boolean;
}

/**
 * The layer to decode: for a tile, the smallest live layer covering it (layerForTile); not
 * shown (null tile), the smallest live layer. Only live layers of known size count; none:
 * null (keep what is decoded).
 */
export function chooseLayer(layers: readonly LayerState[], tile: Size | null): string | null {
  const usable = new Map(layers.filter((l) => l.live && l.size).map((l) => [l.rid, l.size]));
  return layerForTile(usable, tile ?? { width: 0, height: 0 });
}

/** The largest live layer of known size (what a capable subscriber is forwarded), else null. */
export function topLayer(layers: readonly LayerState[]): string | null {
  return layerForTile(new Map(layers.filter((l) => l.live && l.size).map((l) => [l.rid, l.size])), { width: 1e9, height: 1e9 });
}

/**
 * The layer to decode for a tile: the smallest whose picture covers the tile (both sides at
 * least the tile's), else the largest. Layers whose size is not known yet (no keyframe seen)
 * are left out; with none known, null (keep what is decoded).
 */
export function layerForTile(layers: ReadonlyMap<string, Size | null>, tile: Size): string | null {
  const known = [...layers].filter((e): e is [string, Size] => e[1] !== null).sort((a, b) => a[1].width * a[1].height - b[1].width * b[1].height);
  if (!known.length) return null;
  const covering = known.find(([, s]) => s.width >= tile.width && s.height >= tile.height);
  return (covering ?? known[known.length - 1])[0];
}

/**
 * Which layer's frames go to the decoder. `want` sets a target; the switch happens on the
 * target's next keyframe (until then the current layer goes on, so the picture never stops or
 * breaks). Before any layer is decoded the first keyframe of the target (or of any layer, when
 * there is no target) starts it.
 */
export class LayerSwitcher {
  current: string | null = null;
  target: string | null = null;
  switches = 0;

  want(rid: string | null): void {
    this.target = rid === this.current ? null : rid;
  }

  /** True when this frame of layer `rid` is to be decoded. */
  accept(rid: string, keyframe: boolean): boolean {
    if (this.target === rid && keyframe) {
      if (this.current !== null) this.switches++;
      this.current = rid;
      this.target = null;
      return true;
    }
    if (this.current === null && this.target === null && keyframe) {
      this.current = rid;
      return true;
    }
    return rid === this.current;
  }

  /** A layer is waiting for its keyframe (the owner asks the publisher for one). */
  get pending(): boolean {
    return this.target !== null;
  }
}

/**
 * Which simulcast layer a packet belongs to: the RID header extension names it (RTX packets:
 * the repaired-RID extension); SSRCs learned that way serve packets that no longer carry the
 * extension (browsers stop sending it once RTCP shows it was received). Returns null for a
 * packet of an SSRC not learned yet.
 */
export class RidMap {
  private readonly media = new Map<number, string>();
  private readonly repair = new Map<number, string>();

  constructor(private readonly offer: Pick<SimulcastOffer, 'rids' | 'ridExtId' | 'repairedRidExtId'>) {}

  /** The layer of a packet and whether it is a retransmission (RTX) stream's. */
  classify(ssrc: number, extensions: ReadonlyArray<{ id: number; payload: Buffer }>): { rid: string; rtx: boolean } | null {
    const read = (id: number) => {
      if (!id) return null;
      const e = extensions.find((x) => x.id === id);
      const rid = e ? e.payload.toString('utf8').replace(/\0+$/, '') : null;
      return rid && this.offer.rids.includes(rid) ? rid : null;
    };
    const rid = read(this.offer.ridExtId);
    if (rid) {
      this.media.set(ssrc, rid);
      return { rid, rtx: false };
    }
    const repaired = read(this.offer.repairedRidExtId);
    if (repaired) {
      this.repair.set(ssrc, repaired);
      return { rid: repaired, rtx: true };
    }
    const m = this.media.get(ssrc);
    if (m) return { rid: m, rtx: false };
    const r = this.repair.get(ssrc);
    return r ? { rid: r, rtx: true } : null;
  }

  /** The media SSRC of a layer (for its PLI and NACKs), once learned. */
  ssrcOf(rid: string): number | undefined {
    for (const [ssrc, r] of this.media) if (r === rid) return ssrc;
    return undefined;
  }
}

/**
 * The picture size each participant's tile needs in a layout (tileDemand); null for one not
 * shown. `content`: where each picture is inside its slot frame (absent: the whole frame).
 */
export function tileDemands(
  tiles: ReadonlyArray<{ participantId: string; video: Rect; crop: Rect | null }>,
  ids: Iterable<string>,
  content: (id: string) => Rect | null,
  slot: Size,
): Map<string, Size | null> {
  const out = new Map<string, Size | null>();
  for (const id of ids) {
    const t = tiles.find((x) => x.participantId === id);
    const c = content(id) ?? { x: 0, y: 0, ...slot };
    out.set(id, t ? tileDemand(t.video, c, t.crop ?? c) : null);
  }
  return out;
}

/**
 * The layer `rank` steps below the largest live one of known size (0: the largest; past the
 * smallest: the smallest), for a forwarded slot whose subscriber's loss and RTT stepped it
 * down (RungAdapter levels: 720p → 0, 360p → 1, audio → 2). Null when no layer is known.
 */
export function layerAtRank(layers: readonly LayerState[], rank: number): string | null {
  const known = layers.filter((l) => l.live && l.size).sort((a, b) => b.size!.width * b.size!.height - a.size!.width * a.size!.height);
  if (!known.length) return null;
  return known[Math.max(0, Math.min(known.length - 1, rank))].rid;
}
