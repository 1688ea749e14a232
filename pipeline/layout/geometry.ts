// Pure layout geometry: where each participant's picture goes on the canvas.
// Every rectangle is in canvas pixels with even coordinates and sizes (yuv420p chroma
// is subsampled 2x2, so odd offsets would smear colour across tile borders).

export interface Size {
  width: number;
  height: number;
}

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** One visible participant: the cell it owns and where its picture sits inside that cell. */
export interface Tile {
  participantId: string;
  cell: Rect;
  video: Rect;
}

export interface Layout {
  kind: 'grid';
  canvas: Size;
  tiles: Tile[];
}

export const MAX_TILES = 16;

const even = (v: number): number => Math.max(0, Math.round(v / 2) * 2);

/** Largest rectangle of the source's aspect ratio that fits inside `cell`, centred (letterbox). */
export function fitInside(source: Size, cell: Rect): Rect {
  const scale = Math.min(cell.width / source.width, cell.height / source.height);
  const width = Math.min(cell.width, Math.max(2, even(source.width * scale)));
  const height = Math.min(cell.height, Math.max(2, even(source.height * scale)));
  return {
    x: cell.x + even((cell.width - width) / 2),
    y: cell.y + even((cell.height - height) / 2),
    width,
    height,
  };
}

/** Columns and rows of a grid for n tiles: as square as possible, wider than tall. */
export function gridShape(n: number): { cols: number; rows: number } {
  if (n <= 0) return { cols: 0, rows: 0 };
  const cols = Math.ceil(Math.sqrt(n));
  const rows = Math.ceil(n / cols);
  return { cols, rows };
}

/**
 * Equal cells, row by row; an incomplete last row is centred so the picture stays balanced.
 * `source` is the aspect every participant's picture has when it reaches the compositor
 * (the mixer normalises inputs to one size), so faces are never stretched.
 */
export function gridLayout(participantIds: readonly string[], canvas: Size, source: Size): Layout {
  const ids = participantIds.slice(0, MAX_TILES);
  const { cols, rows } = gridShape(ids.length);
  const tiles: Tile[] = [];
  if (ids.length === 0) return { kind: 'grid', canvas, tiles };
  const cellW = Math.floor(canvas.width / cols / 2) * 2;
  const cellH = Math.floor(canvas.height / rows / 2) * 2;
  const gridH = cellH * rows;
  const top = even((canvas.height - gridH) / 2);
  ids.forEach((participantId, i) => {
    const row = Math.floor(i / cols);
    const col = i % cols;
    const inRow = row === rows - 1 ? ids.length - row * cols : cols;
    const left = even((canvas.width - inRow * cellW) / 2);
    const cell = { x: left + col * cellW, y: top + row * cellH, width: cellW, height: cellH };
    tiles.push({ participantId, cell, video: fitInside(source, cell) });
  });
  return { kind: 'grid', canvas, tiles };
}

export function rectsOverlap(a: Rect, b: Rect): boolean {
  return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
}

export function rectInside(inner: Rect, outer: Rect | Size): boolean {
  const ox = 'x' in outer ? outer.x : 0;
  const oy = 'y' in outer ? outer.y : 0;
  return (
    inner.x >= ox &&
    inner.y >= oy &&
    inner.x + inner.width <= ox + outer.width &&
    inner.y + inner.height <= oy + outer.height
  );
}
