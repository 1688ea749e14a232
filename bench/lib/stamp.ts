// The frame counter the benchmark fixtures carry: 12 bits as black/white blocks in a strip at
// the top of a 640x360 picture (block i at x = 80 + 40 i, 40x40 px, least significant first).
// Pure: the FFmpeg expression that draws it, and the reader that finds it in a decoded I420
// picture wherever the mixer placed (and scaled) the source.

export const STAMP = { bits: 12, x0: 80, block: 40, height: 40, width: 640, heightSrc: 360 } as const;

/** geq expressions (luma, chroma) drawing the counter `mod(N, frames)` over a solid YUV colour. */
export function stampGeq(yuv: [number, number, number], frames: number): string {
  const { x0, block, bits, height } = STAMP;
  const inStrip = (div: number) => `lt(Y,${height / div})*gte(X,${x0 / div})*lt(X,${(x0 + block * bits) / div})`;
  const bit = `bitand(floor(mod(N,${frames})/pow(2,floor((X-${x0})/${block}))),1)`;
  const lum = `if(${inStrip(1)},if(${bit},235,16),${yuv[0]})`;
  return `geq=lum='${lum}':cb='if(${inStrip(2)},128,${yuv[1]})':cr='if(${inStrip(2)},128,${yuv[2]})'`;
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
