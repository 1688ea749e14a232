// Every layout the mixer can show, as pure geometry: grid, speaker and presentation, each in
// "fit" (letterbox: the whole picture, bars around it) or "crop" (fill the cell, cut the
// overflow, never stretch) mode. All rectangles have even coordinates and sizes (yuv420p).
//
// Geometry, given for a 1280x720 canvas; other canvases scale with their width and height
// (a thumbnail is a fifth of the canvas each way, the filmstrip holds at most 5 of them):
//
//   grid          equal cells exactly as gridLayout (geometry.ts), up to maxTiles (16) tiles.
//
//   speaker       +------------------------------------+  large cell: the whole region above
//                 |   large region 1280x576 (0,0)      |  the filmstrip, 1280x576; in fit mode
//                 |   fit: picture 1024x576 at x=128   |  the 16:9 picture is 1024x576 centred,
//                 +------+------+------+------+--------+  in crop mode it fills all 1280x576.
//                 | 256x144 thumbnails at y=576, <= 5  |  Thumbnails are centred horizontally.
//                 +------------------------------------+  One visible participant: whole canvas.
//
//   presentation  +----------------------------+-------+  large cell: the source's aspect fitted
//                 |  (72 px bar)               | 256x  |  into the 1024x720 region left of the
//                 |  large 1024x576 at (0,72)  | 144   |  column → 1024x576 at (0,72). The cell
//                 |                            | x5 at |  has the picture's own aspect, so a
//                 |  (72 px bar)               | x=1024|  shared screen is never cut, even in crop
//                 +----------------------------+-------+  mode. The column is centred vertically.

import { fitInside, gridLayout, MAX_TILES, type Rect, type Size, type Tile } from './geometry.ts';

export type LayoutKind = 'grid' | 'speaker' | 'presentation';
export type FitMode = 'fit' | 'crop';
export const LAYOUT_KINDS: readonly LayoutKind[] = ['grid', 'speaker', 'presentation'];
export const FIT_MODES: readonly FitMode[] = ['fit', 'crop'];

/** Thumbnails in a speaker/presentation filmstrip, at most. */
export const FILMSTRIP_SLOTS = 5;

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
  /** Shown large in presentation; in speaker, used when there is no active speaker. */
  pinned: string | null;
  fit: FitMode;
  /** Tiles at most, large one included (default and ceiling 16). */
  maxTiles?: number;
  /**
   * Where each participant's picture actually is inside its `source`-sized frame (the
   * decoder letterboxes pictures of other aspects). Absent: the whole frame.
   */
  content?: ReadonlyMap<string, Rect>;
}

export interface TileOut extends Tile {
  /** Part of the source frame shown (source pixels): the crop window, or the picture inside a letterboxed frame; null for the whole frame. */
  crop: Rect | null;
  large: boolean;
}

export interface LayoutOut {
  kind: LayoutKind;
  canvas: Size;
  tiles: TileOut[];
}

const even = (v: number): number => Math.max(0, Math.round(v / 2) * 2);
const evenDown = (v: number): number => Math.max(0, Math.floor(v / 2) * 2);

/** Largest centred part of `source` with the aspect ratio of `cell` (crop mode). */
export function cropFor(source: Size, cell: Size): Rect {
  const scale = Math.max(cell.width / source.width, cell.height / source.height);
  const width = Math.min(source.width, Math.max(2, even(cell.width / scale)));
  const height = Math.min(source.height, Math.max(2, even(cell.height / scale)));
  return { x: even((source.width - width) / 2), y: even((source.height - height) / 2), width, height };
}

/** The participant's picture inside its frame (the whole frame unless told otherwise). */
export function contentOf(req: LayoutRequest, participantId: string): Rect {
  const c = req.content?.get(participantId);
  return c && c.width > 0 && c.height > 0 ? c : { x: 0, y: 0, ...req.source };
}

/**
 * fit: the picture's own aspect, letterboxed in its cell; only the picture is shown (never the
 * decoder's bars). crop: the cell filled from the picture alone, the overflow cut.
 */
function place(participantId: string, cell: Rect, req: LayoutRequest, large: boolean): TileOut {
  const content = contentOf(req, participantId);
  const whole = content.x === 0 && content.y === 0 && content.width === req.source.width && content.height === req.source.height;
  if (req.fit === 'crop') {
    const c = cropFor(content, cell);
    return { participantId, cell, video: { ...cell }, crop: { ...c, x: c.x + content.x, y: c.y + content.y }, large };
  }
  return { participantId, cell, video: fitInside(content, cell), crop: whole ? null : { ...content }, large };
}

/** Who is shown when not everyone fits: recent speakers first, then join order; result in join order. */
function choose(ids: readonly string[], recentSpeakers: readonly string[], max: number): string[] {
  if (ids.length <= max) return [...ids];
  const present = new Set(ids);
  const picked = new Set<string>();
  for (const id of recentSpeakers) {
    if (picked.size >= max) break;
    if (present.has(id)) picked.add(id);
  }
  for (const id of ids) {
    if (picked.size >= max) break;
    picked.add(id);
  }
  // Stable on-screen order (join order), so a new recent speaker does not reshuffle everyone.
  return ids.filter((id) => picked.has(id));
}

/** The first candidate that is in the room; else the most recent speaker; else the first joiner. */
function featured(ids: readonly string[], recentSpeakers: readonly string[], candidates: Array<string | null>): string {
  const present = new Set(ids);
  for (const id of [...candidates, ...recentSpeakers]) if (id !== null && present.has(id)) return id;
  return ids[0];
}

export function computeLayout(req: LayoutRequest): LayoutOut {
  const { canvas } = req;
  const ids = [...new Set(req.participants)];
  const max = Math.max(1, Math.min(req.maxTiles ?? MAX_TILES, MAX_TILES));
  if (ids.length === 0) return { kind: req.kind, canvas, tiles: [] };

  if (req.kind === 'grid') {
    const grid = gridLayout(choose(ids, req.recentSpeakers, max), canvas, req.source);
    return { kind: 'grid', canvas, tiles: grid.tiles.map((t) => place(t.participantId, t.cell, req, false)) };
  }

  const lead =
    req.kind === 'speaker'
      ? featured(ids, req.recentSpeakers, [req.activeSpeaker, req.pinned])
      : featured(ids, req.recentSpeakers, [req.pinned, req.activeSpeaker]);
  const others = choose(
    ids.filter((id) => id !== lead),
    req.recentSpeakers,
    Math.min(FILMSTRIP_SLOTS, max - 1),
  );
  if (others.length === 0) {
    return { kind: req.kind, canvas, tiles: [place(lead, { x: 0, y: 0, width: canvas.width, height: canvas.height }, req, true)] };
  }

  const thumbW = evenDown(canvas.width / FILMSTRIP_SLOTS);
  const thumbH = evenDown(canvas.height / FILMSTRIP_SLOTS);
  let main: Rect;
  let thumbs: Rect[];
  if (req.kind === 'speaker') {
    const stripY = evenDown(canvas.height - thumbH);
    main = { x: 0, y: 0, width: canvas.width, height: stripY };
    const left = even((canvas.width - others.length * thumbW) / 2);
    thumbs = others.map((_, i) => ({ x: left + i * thumbW, y: stripY, width: thumbW, height: thumbH }));
  } else {
    const columnX = evenDown(canvas.width - thumbW);
    main = fitInside(contentOf(req, lead), { x: 0, y: 0, width: columnX, height: canvas.height });
    const top = even((canvas.height - others.length * thumbH) / 2);
    thumbs = others.map((_, i) => ({ x: columnX, y: top + i * thumbH, width: thumbW, height: thumbH }));
  }
  const tiles = [place(lead, main, req, true), ...others.map((id, i) => place(id, thumbs[i], req, false))];
  return { kind: req.kind, canvas, tiles };
}
