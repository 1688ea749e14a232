// Name labels and placeholder tiles, rendered with sharp (libvips: SVG and Pango text) to RGBA
// and converted to I420 by libwebrtc's converter. Node never loops over pixels: a label is
// stamped onto a slot picture by copying its rows into place.

import sharp, { type OutputInfo } from 'sharp';
import wrtc from '@roamhq/wrtc';
import type { Rect, Size } from '../../pipeline/layout/geometry.ts';
import { graphemes, labelText, shorten } from '../../pipeline/layout/labelText.ts';
import { log } from '../log.ts';

const { rgbaToI420 } = (wrtc as any).nonstandard;

/** An opaque I420 image (even width and height). */
export interface I420Image {
  width: number;
  height: number;
  data: Buffer;
}

/** Each participant's colour: label background and placeholder tile. */
const PALETTE = ['#c0392b', '#2e86c1', '#28b463', '#af7ac5', '#d68910', '#17a589', '#cb4335', '#5d6d7e'];

export function participantColour(id: string): string {
  let h = 0;
  for (const ch of id) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return PALETTE[h % PALETTE.length];
}

export function initials(name: string): string {
  const words = labelText(name).replace(/…$/u, '').split(/\s+/u).filter(Boolean);
  const letters = words.length > 1 ? [words[0], words[words.length - 1]] : words;
  return letters.map((w) => graphemes(w)[0]?.toUpperCase() ?? '').join('') || '?';
}

const escapeXml = (s: string) =>
  s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!);

function toI420(rgba: Buffer, width: number, height: number): I420Image {
  const data = Buffer.alloc(width * height + 2 * (width / 2) * (height / 2));
  rgbaToI420(
    { width, height, data: new Uint8ClampedArray(rgba.buffer, rgba.byteOffset, rgba.byteLength) },
    { width, height, data: new Uint8ClampedArray(data.buffer, data.byteOffset, data.byteLength) },
  );
  return { width, height, data };
}

const evenUp = (n: number) => Math.ceil(n / 2) * 2;

async function renderText(text: string, fontPx: number): Promise<{ data: Buffer; info: OutputInfo }> {
  return sharp({
    text: { text: `<span foreground="white">${escapeXml(text)}</span>`, font: `DejaVu Sans Bold ${fontPx}px`, rgba: true, dpi: 72 },
  })
    .png()
    .toBuffer({ resolveWithObject: true });
}

/**
 * A name label: white text on the participant's colour, sized for a slot picture. Any
 * Unicode name renders (one line, controls stripped, see labelText); a name wider than the
 * tile is shortened with an ellipsis; if Pango still fails, the label says "Guest" and the
 * failure is logged.
 */
export async function renderLabel(name: string, colour: string, slot: Size): Promise<I420Image> {
  const fontPx = Math.round(slot.height / 18);
  const height = evenUp(fontPx * 1.7);
  const pad = Math.round(fontPx / 2);
  const maxWidth = slot.width - 2 * pad - (slot.width % 2);
  let shown = labelText(name);
  let text: { data: Buffer; info: OutputInfo };
  try {
    text = await renderText(shown, fontPx);
    for (let n = graphemes(shown).length - 1; text.info.width + 2 * pad > maxWidth && n > 1; n = Math.floor(n * 0.8)) {
      shown = shorten(shown, n);
      text = await renderText(shown, fontPx);
    }
  } catch (err) {
    log.warn({ err, name: shown }, 'label could not be rendered; showing "Guest"');
    text = await renderText('Guest', fontPx);
  }
  const width = Math.min(evenUp(text.info.width + 2 * pad), maxWidth);
  const textImage = text.info.width > width - pad ? await sharp(text.data).extract({ left: 0, top: 0, width: Math.max(1, width - pad), height: text.info.height }).toBuffer() : text.data;
  const rgba = await sharp({ create: { width, height, channels: 4, background: colour } })
    .composite([{ input: textImage, left: pad, top: Math.max(0, Math.round((height - text.info.height) / 2)) }])
    .raw()
    .toBuffer();
  return toI420(rgba, width, height);
}

/** The tile of a participant without live video: initials on their colour (the label adds the name). */
export async function renderPlaceholder(name: string, colour: string, slot: Size): Promise<I420Image> {
  const { width, height } = slot;
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
  <rect width="100%" height="100%" fill="#262626"/>
  <circle cx="${width / 2}" cy="${height * 0.45}" r="${height * 0.27}" fill="${colour}"/>
  <text x="50%" y="${height * 0.45}" font-family="DejaVu Sans" font-weight="bold" font-size="${Math.round(height * 0.2)}"
        fill="white" text-anchor="middle" dominant-baseline="central">${escapeXml(initials(name))}</text>
</svg>`;
  const rgba = await sharp(Buffer.from(svg)).raw().ensureAlpha().toBuffer();
  return toI420(rgba, width, height);
}

/**
 * Copies `label` into the I420 `frame` (of `size`) at the bottom-left corner of `area` (the
 * part of the frame that is shown; the whole frame by default), row by row, cut to the area's
 * width. The frame must be a buffer this process owns (it is modified in place).
 */
export function stampLabel(frame: Buffer, size: Size, label: I420Image, area: Rect = { x: 0, y: 0, ...size }): void {
  const margin = evenUp(size.height / 30);
  const x = Math.floor((area.x + margin) / 2) * 2;
  const y = Math.floor((area.y + area.height - label.height - margin) / 2) * 2;
  const width = Math.min(label.width, Math.floor((area.x + area.width - margin - x) / 2) * 2, size.width - x);
  if (y < 0 || y + label.height > size.height || width < 2) return;
  const cw = size.width / 2;
  const lw = label.width / 2;
  const lh = label.height / 2;
  const yPlane = size.width * size.height;
  const uv = cw * (size.height / 2);
  for (let r = 0; r < label.height; r++) {
    label.data.copy(frame, (y + r) * size.width + x, r * label.width, r * label.width + width);
  }
  const lY = label.width * label.height;
  for (let r = 0; r < lh; r++) {
    const dst = (y / 2 + r) * cw + x / 2;
    label.data.copy(frame, yPlane + dst, lY + r * lw, lY + r * lw + width / 2);
    label.data.copy(frame, yPlane + uv + dst, lY + lw * lh + r * lw, lY + lw * lh + r * lw + width / 2);
  }
}

/** Cheap black-track test: a sparse sample of luma, all near video black. */
export function looksBlack(frame: Uint8Array, size: Size): boolean {
  const step = Math.floor((size.width * size.height) / 97);
  for (let i = 0; i < size.width * size.height; i += step) if (frame[i] > 24) return false;
  return true;
}
