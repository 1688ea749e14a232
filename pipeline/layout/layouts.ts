// Every layout the mixer can show, as pure geometry: grid, speaker and presentation, each in
// "fit" (letterbox) or "crop" (fill the cell, cut the overflow, never stretch) mode.
//
// Geometry on a 1280x720 canvas (other canvases scale proportionally):
//   grid          equal cells (see gridLayout), up to 16 tiles; more participants than tiles →
//                 the most recent speakers are shown.
//   speaker       the active speaker in a large 1024x576 region centred at the top, a
//                 filmstrip of up to 5 thumbnails (256x144) along the bottom.
//   presentation  the pinned participant (e.g. a screen share) large at the left (1024x576,
//                 vertically centred), up to 5 thumbnails (256x144) in a column at the right.

import { fitInside, gridLayout, type Rect, type Size, type Tile } from './geometry.ts';

export type LayoutKind = 'grid' | 'speaker' | 'presentation';
export type FitMode = 'fit' | 'crop';
export const LAYOUT_KINDS: readonly LayoutKind[] = ['grid', 'speaker', 'presentation'];
export const FIT_MODES: readonly FitMode[] = ['fit', 'crop'];

export interface LayoutRequest {
  kind: LayoutKind;
  canvas: Size;
  /** Size (aspect) of every picture as it reaches the compositor. */
  source: Size;
  /** Participant ids in join order. */
  participants: string[];
  /** Most recent speaker first; ids not in `participants` are ignored. */
  recentSpeakers: string[];
  activeSpeaker: string | null;
  pinned: string | null;
  fit: FitMode;
  maxTiles?: number;
}

export interface TileOut extends Tile {
  /** Part of the source shown (source pixels) in crop mode; null in fit mode. */
  crop: Rect | null;
  large: boolean;
}

export interface LayoutOut {
  kind: LayoutKind;
  canvas: Size;
  tiles: TileOut[];
}

const even = (v: number): number => Math.max(0, Math.round(v / 2) * 2);

/** Largest centred part of `source` with the aspect ratio of `cell` (crop mode). */
export function cropFor(source: Size, cell: Size): Rect {
  const scale = Math.max(cell.width / source.width, cell.height / source.height);
  const width = Math.min(source.width, even(cell.width / scale));
  const height = Math.min(source.height, even(cell.height / scale));
  return { x: even((source.width - width) / 2), y: even((source.height - height) / 2), width, height };
}

function place(participantId: string, cell: Rect, req: LayoutRequest, large: boolean): TileOut {
  if (req.fit === 'crop') return { participantId, cell, video: { ...cell }, crop: cropFor(req.source, cell), large };
  return { participantId, cell, video: fitInside(req.source, cell), crop: null, large };
}

/** Who is shown when not everyone fits: recent speakers first, then join order. */
function choose(req: LayoutRequest, ids: string[], max: number): string[] {
  if (ids.length <= max) return ids;
  const present = new Set(ids);
  const picked: string[] = [];
  for (const id of req.recentSpeakers) {
    if (present.has(id) && !picked.includes(id)) picked.push(id);
    if (picked.length === max) break;
  }
  for (const id of ids) {
    if (picked.length === max) break;
    if (!picked.includes(id)) picked.push(id);
  }
  // Stable on-screen order: join order.
  return ids.filter((id) => picked.includes(id));
}

function featured(req: LayoutRequest, order: Array<string | null>): string | null {
  for (const id of order) if (id && req.participants.includes(id)) return id;
  return req.participants[0] ?? null;
}

function strip(req: LayoutRequest, main: Rect, thumbs: Rect[], lead: string): LayoutOut {
  const others = choose(req, req.participants.filter((id) => id !== lead), thumbs.length);
  const tiles = [place(lead, main, req, true), ...others.map((id, i) => place(id, thumbs[i], req, false))];
  return { kind: req.kind, canvas: req.canvas, tiles };
}

export function computeLayout(req: LayoutRequest): LayoutOut {
  const { canvas } = req;
  const max = Math.min(req.maxTiles ?? 16, 16);
  if (req.participants.length === 0) return { kind: req.kind, canvas, tiles: [] };
  const sx = canvas.width / 1280;
  const sy = canvas.height / 720;

  if (req.kind === 'grid') {
    const shown = choose(req, req.participants, max);
    const grid = gridLayout(shown, canvas, req.source);
    return { kind: 'grid', canvas, tiles: grid.tiles.map((t) => place(t.participantId, t.cell, req, false)) };
  }

  const lead =
    req.kind === 'speaker'
      ? featured(req, [req.activeSpeaker, req.pinned, req.recentSpeakers[0] ?? null])!
      : featured(req, [req.pinned, req.activeSpeaker, req.recentSpeakers[0] ?? null])!;
  if (req.participants.length === 1) {
    return { kind: req.kind, canvas, tiles: [place(lead, { x: 0, y: 0, ...canvas }, req, true)] };
  }
  const thumbW = even(256 * sx);
  const thumbH = even(144 * sy);
  const count = Math.min(5, req.participants.length - 1, max - 1);
  if (req.kind === 'speaker') {
    const main = { x: even(128 * sx), y: 0, width: even(1024 * sx), height: even(576 * sy) };
    const left = even((canvas.width - count * thumbW) / 2);
    const thumbs = Array.from({ length: count }, (_, i) => ({ x: left + i * thumbW, y: canvas.height - thumbH, width: thumbW, height: thumbH }));
    return strip(req, main, thumbs, lead);
  }
  const main = { x: 0, y: even((canvas.height - 576 * sy) / 2), width: even(1024 * sx), height: even(576 * sy) };
  const top = even((canvas.height - count * thumbH) / 2);
  const thumbs = Array.from({ length: count }, (_, i) => ({ x: main.width, y: top + i * thumbH, width: thumbW, height: thumbH }));
  return strip(req, main, thumbs, lead);
}
