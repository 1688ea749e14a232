// Pure media checks for tests: colours in I420 frames, tone levels in PCM.

export type Rgb = [number, number, number];

export interface I420Frame {
  width: number;
  height: number;
  data: Uint8Array;
}

/** BT.601 limited range, as libvpx and FFmpeg use by default. */
export function rgbToYuv([r, g, b]: Rgb): Rgb {
  return [
    Math.round(16 + 0.257 * r + 0.504 * g + 0.098 * b),
    Math.round(128 - 0.148 * r - 0.291 * g + 0.439 * b),
    Math.round(128 + 0.439 * r - 0.368 * g - 0.071 * b),
  ];
}

export function yuvToRgb([y, u, v]: Rgb): Rgb {
  const c = y - 16;
  const d = u - 128;
  const e = v - 128;
  const clamp = (x: number) => Math.max(0, Math.min(255, Math.round(x)));
  return [clamp(1.164 * c + 1.596 * e), clamp(1.164 * c - 0.392 * d - 0.813 * e), clamp(1.164 * c + 2.017 * d)];
}

export function solidI420(width: number, height: number, rgb: Rgb): Uint8Array {
  const [y, u, v] = rgbToYuv(rgb);
  const luma = width * height;
  const chroma = Math.ceil(width / 2) * Math.ceil(height / 2);
  const buf = new Uint8Array(luma + 2 * chroma);
  buf.fill(y, 0, luma);
  buf.fill(u, luma, luma + chroma);
  buf.fill(v, luma + chroma);
  return buf;
}

/** Average colour of a (2r+1)² box around (x, y). */
export function colorAt(frame: I420Frame, x: number, y: number, radius = 4): Rgb {
  const { width: w, height: h, data } = frame;
  const cw = Math.ceil(w / 2);
  const ch = Math.ceil(h / 2);
  let sy = 0;
  let su = 0;
  let sv = 0;
  let n = 0;
  for (let yy = Math.max(0, Math.round(y) - radius); yy <= Math.min(h - 1, Math.round(y) + radius); yy++) {
    for (let xx = Math.max(0, Math.round(x) - radius); xx <= Math.min(w - 1, Math.round(x) + radius); xx++) {
      sy += data[yy * w + xx];
      const ci = (yy >> 1) * cw + (xx >> 1);
      su += data[w * h + ci];
      sv += data[w * h + cw * ch + ci];
      n++;
    }
  }
  return yuvToRgb([sy / n, su / n, sv / n]);
}

export function colorDistance(a: Rgb, b: Rgb): number {
  return Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);
}

/**
 * Level of one frequency in dBFS (Goertzel over a Hann window, scaled so that a full-scale
 * sine reads ~0 dB). Floors at -120 dB.
 */
export function toneLevelDb(samples: Int16Array, sampleRate: number, hz: number): number {
  const n = samples.length;
  if (n === 0) return -120;
  const k = (2 * Math.PI * hz) / sampleRate;
  const coeff = 2 * Math.cos(k);
  let s1 = 0;
  let s2 = 0;
  let windowSum = 0;
  for (let i = 0; i < n; i++) {
    const w = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / (n - 1));
    windowSum += w;
    const s0 = (samples[i] / 32768) * w + coeff * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  const power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
  const amplitude = (2 * Math.sqrt(Math.max(power, 0))) / windowSum;
  return Math.max(-120, 20 * Math.log10(amplitude + 1e-12));
}

/** A phase-continuous sine chunk starting at sample index `start`. */
export function sineChunk(hz: number, sampleRate: number, start: number, count: number, amplitude: number): Int16Array {
  const out = new Int16Array(count);
  for (let i = 0; i < count; i++) {
    out[i] = Math.round(amplitude * 32767 * Math.sin((2 * Math.PI * hz * (start + i)) / sampleRate));
  }
  return out;
}
