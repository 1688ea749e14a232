// Planar I420 frames as the mixer writes them to FFmpeg (rawvideo): a full-size luma plane, then
// two quarter-size chroma planes (odd sizes round up). Pure.

import type { Size } from '../layout/geometry.ts';

export function i420Size(s: Size): number {
  return s.width * s.height + 2 * Math.ceil(s.width / 2) * Math.ceil(s.height / 2);
}

/** A flat I420 frame (the "no picture" fill for a slot). */
export function flatI420(s: Size, y: number, u: number, v: number): Buffer {
  const buf = Buffer.alloc(i420Size(s));
  const luma = s.width * s.height;
  const chroma = Math.ceil(s.width / 2) * Math.ceil(s.height / 2);
  buf.fill(y, 0, luma);
  buf.fill(u, luma, luma + chroma);
  buf.fill(v, luma + chroma);
  return buf;
}
