// The frame counter the benchmark fixtures carry: 12 bits as black/white blocks in a strip at
// the top of a 640x360 picture (block i at x = 80 + 40 i, 40x40 px, least significant first).
// Pure: the FFmpeg expression that draws it, and the reader that finds it in a decoded I420
// picture wherever the mixer placed (and scaled) the source.

export const STAMP = { bits: 12, x0: 80, block: 40, height: 40, width: 640, heightSrc: 360 } as const;

/**
 * The filter chain drawing the counter `mod(n, frames)` over a solid YUV colour: the colour set
 * with lutyuv, the strip black, then one white block per bit, on when that bit of the frame
 * number is set (drawbox's timeline `enable`). The same pixels as a per-pixel geq expression
 * (compared byte for byte), 20× faster: a geq evaluated its expression on every pixel of every
 * frame, 8 s of a core per 10 s fixture, which a fresh clone's test run paid for every colour.
 */
export function stampFilter(yuv: [number, number, number], frames: number): string {
  const { x0, block, bits, height } = STAMP;
  const boxes = Array.from({ length: bits }, (_, i) => `drawbox=x=${x0 + block * i}:y=0:w=${block}:h=${height}:color=white:t=fill:enable='bitand(floor(mod(n\\,${frames})/${2 ** i}),1)'`);
  return [`lutyuv=y=${yuv[0]}:u=${yuv[1]}:v=${yuv[2]}`, `drawbox=x=${x0}:y=0:w=${block * bits}:h=${height}:color=black:t=fill`, ...boxes].join(',');
}

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/**
 * Reads the counter from a decoded I420 frame in which the 640x360 source occupies `rect`.
 * Returns null when the strip does not look like a stamp (every block must be clearly black
 * or white: a frame caught mid-change reads as null, never as a wrong number).
 */
export function readStamp(frame: { width: number; height: number; data: Uint8Array }, rect: Rect): number | null {
  const sx = rect.width / STAMP.width;
  const sy = rect.height / STAMP.heightSrc;
  let value = 0;
  for (let i = 0; i < STAMP.bits; i++) {
    const cx = rect.x + (STAMP.x0 + STAMP.block * i + STAMP.block / 2) * sx;
    const cy = rect.y + (STAMP.height / 2) * sy;
    const r = Math.max(1, Math.floor((STAMP.block / 4) * Math.min(sx, sy)));
    let sum = 0;
    let n = 0;
    for (let y = Math.round(cy - r); y <= Math.round(cy + r); y++) {
      for (let x = Math.round(cx - r); x <= Math.round(cx + r); x++) {
        if (x < 0 || y < 0 || x >= frame.width || y >= frame.height) continue;
        sum += frame.data[y * frame.width + x];
        n++;
      }
    }
    if (!n) return null;
    const luma = sum / n;
    if (luma > 60 && luma < 190) return null; // neither black nor white
    if (luma >= 190) value |= 1 << i;
  }
  return value;
}
