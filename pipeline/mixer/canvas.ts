// What the room mixer draws on its canvas each tick, as data: for every visible slot, the part
// of its picture shown (the crop) and where it goes (the tile), in slot order (a later slot is
// drawn over an earlier one, as the compositor's overlays were). Node draws these
// (workers/mixer/CanvasComposer.ts) and writes one canvas picture per tick to the compositor,
// which only encodes it. Pure.
//
// I420 subsamples chroma 2x2, so every offset and size is made even; a tile reaching past the
// canvas is cut to it, with its crop cut in proportion.

import type { Rect, Size } from '../layout/geometry.ts';

export interface SlotPlacement {
  visible: boolean;
  /** Where the slot's picture goes; ignored when not visible. */
  rect: Rect;
  /** Part of the slot picture shown (crop layouts); the whole picture when absent. */
  crop?: Rect;
}

export function cropOf(p: SlotPlacement | undefined, slotSize: Size): Rect {
  return p?.visible && p.crop ? p.crop : { x: 0, y: 0, ...slotSize };
}

export interface TileDraw {
  slot: number;
  /** The part of the slot picture drawn (slot-picture pixels). */
  crop: Rect;
  /** Where it goes on the canvas (scaled when the sizes differ). */
  dst: Rect;
}

const down = (v: number): number => Math.floor(v / 2) * 2;

/** An even rect inside `bounds` (offsets rounded down, sizes too; null when under 2x2). */
function evenInside(r: Rect, bounds: Size): Rect | null {
  const x = Math.max(0, down(r.x));
  const y = Math.max(0, down(r.y));
  const width = down(Math.min(r.x + r.width, bounds.width) - x);
  const height = down(Math.min(r.y + r.height, bounds.height) - y);
  return width >= 2 && height >= 2 ? { x, y, width, height } : null;
}

/** The draws for one set of placements (hidden slots are not drawn). */
export function canvasDraws(placements: readonly SlotPlacement[], slotSize: Size, canvas: Size): TileDraw[] {
  const draws: TileDraw[] = [];
  placements.forEach((p, slot) => {
    if (!p.visible) return;
    const r = p.rect;
    if (r.width <= 0 || r.height <= 0) return;
    const c = cropOf(p, slotSize);
    // The part of the tile on the canvas, and the same fraction of the crop.
    const x0 = Math.max(r.x, 0);
    const y0 = Math.max(r.y, 0);
    const x1 = Math.min(r.x + r.width, canvas.width);
    const y1 = Math.min(r.y + r.height, canvas.height);
    if (x1 <= x0 || y1 <= y0) return;
    const sx = c.width / r.width;
    const sy = c.height / r.height;
    const crop = evenInside({ x: c.x + (x0 - r.x) * sx, y: c.y + (y0 - r.y) * sy, width: (x1 - x0) * sx, height: (y1 - y0) * sy }, slotSize);
    const dst = evenInside({ x: x0, y: y0, width: x1 - x0, height: y1 - y0 }, canvas);
    if (crop && dst) draws.push({ slot, crop, dst });
  });
  return draws;
}

/**
 * The background colour (FFmpeg's 0xRRGGBB or #RRGGBB) as limited-range BT.601 Y, U, V: what
 * FFmpeg's colour source gave the canvas in yuv420p.
 */
export function backgroundYuv(colour: string): [number, number, number] {
  const m = /^(?:0x|#)([0-9a-f]{6})$/i.exec(colour.trim());
  if (!m) throw new Error(`the mixer's background must be 0xRRGGBB or #RRGGBB, not ${JSON.stringify(colour)}`);
  const n = parseInt(m[1], 16);
  const [r, g, b] = [(n >> 16) & 255, (n >> 8) & 255, n & 255];
  const clamp = (v: number) => Math.max(0, Math.min(255, Math.round(v)));
  return [
    clamp(16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255),
    clamp(128 + (-37.797 * r - 74.203 * g + 112 * b) / 255),
    clamp(128 + (112 * r - 93.786 * g - 18.214 * b) / 255),
  ];
}
