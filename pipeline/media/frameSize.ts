// The picture size a compressed frame announces, read from its bitstream headers, so the
// ingest knows where the picture sits inside the decoder's letterboxed slot without looking
// at pixels. Pure; every reader returns null when the frame does not carry a size (an inter
// frame) or cannot be read.
//
//   VP8   keyframe header (RFC 6386 9.1)          H.264 sequence parameter set, with cropping
//   VP9   uncompressed header of key/intra frames AV1   sequence header OBU (max frame size)

import { annexBNals, type VideoCodec } from '../rtp/depacketize.ts';

export interface Size {
  width: number;
  height: number;
}

export function vp8FrameSize(frame: Buffer): Size | null {
  if (frame.length < 10 || frame[0] & 0x01) return null;
  if (frame[3] !== 0x9d || frame[4] !== 0x01 || frame[5] !== 0x2a) return null;
  const width = frame.readUInt16LE(6) & 0x3fff;
  const height = frame.readUInt16LE(8) & 0x3fff;
  return width && height ? { width, height } : null;
}

/** MSB-first bit reader with Exp-Golomb codes. Throws RangeError past the end (callers catch). */
export class BitReader {
  private pos = 0;
  constructor(private readonly buf: Buffer) {}
  bit(): number {
    const byte = this.pos >> 3;
    if (byte >= this.buf.length) throw new RangeError('read past the end');
    const b = (this.buf[byte] >> (7 - (this.pos & 7))) & 1;
    this.pos++;
    return b;
  }
  bits(n: number): number {
    let v = 0;
    for (let i = 0; i < n; i++) v = v * 2 + this.bit();
    return v;
  }
  ue(): number {
    let zeros = 0;
    while (this.bit() === 0) if (++zeros > 31) throw new RangeError('bad exp-golomb code');
    return 2 ** zeros - 1 + this.bits(zeros);
  }
  se(): number {
    const k = this.ue();
    return k % 2 ? (k + 1) / 2 : -k / 2;
  }
  uvlc(): number {
    let zeros = 0;
    while (this.bit() === 0) if (++zeros >= 32) return 2 ** 32 - 1;
    return 2 ** zeros - 1 + this.bits(zeros);
  }
}

/** NAL payload without emulation prevention bytes (00 00 03 → 00 00). */
export function unescapeRbsp(nal: Buffer): Buffer {
  const out: number[] = [];
  let zeros = 0;
  for (const b of nal) {
    if (zeros >= 2 && b === 3) {
      zeros = 0;
      continue;
    }
    out.push(b);
    zeros = b === 0 ? zeros + 1 : 0;
  }
  return Buffer.from(out);
}

const HIGH_PROFILES = new Set([100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135]);

/** Display size of an H.264 SPS NAL unit (header byte included), cropping applied. */
export function h264SpsSize(nal: Buffer): Size | null {
  if (nal.length < 4 || (nal[0] & 0x1f) !== 7) return null;
  try {
    const r = new BitReader(unescapeRbsp(nal.subarray(1)));
    const profile = r.bits(8);
    r.bits(16); // constraint flags, level
    r.ue(); // seq_parameter_set_id
    let chroma = 1;
    let separateColourPlane = 0;
    if (HIGH_PROFILES.has(profile)) {
      chroma = r.ue();
      if (chroma === 3) separateColourPlane = r.bit();
      r.ue();
      r.ue();
      r.bit();
      if (r.bit()) {
        for (let i = 0; i < (chroma !== 3 ? 8 : 12); i++) {
          if (!r.bit()) continue;
          const size = i < 6 ? 16 : 64;
          let last = 8;
          let next = 8;
          for (let j = 0; j < size; j++) {
            if (next !== 0) next = (last + r.se() + 256) % 256;
            last = next === 0 ? last : next;
          }
        }
      }
    }
    r.ue(); // log2_max_frame_num_minus4
    const pocType = r.ue();
    if (pocType === 0) r.ue();
    else if (pocType === 1) {
      r.bit();
      r.se();
      r.se();
      const n = r.ue();
      for (let i = 0; i < n; i++) r.se();
    }
    r.ue(); // max_num_ref_frames
    r.bit();
    const wMbs = r.ue() + 1;
    const hMapUnits = r.ue() + 1;
    const frameMbsOnly = r.bit();
    if (!frameMbsOnly) r.bit();
    r.bit(); // direct_8x8_inference
    let width = wMbs * 16;
    let height = (2 - frameMbsOnly) * hMapUnits * 16;
    if (r.bit()) {
      const [l, rt, t, b] = [r.ue(), r.ue(), r.ue(), r.ue()];
      const arrayType = separateColourPlane ? 0 : chroma;
      const cropX = arrayType === 0 ? 1 : arrayType === 3 ? 1 : 2;
      const cropY = (arrayType === 0 ? 1 : arrayType === 1 ? 2 : 1) * (2 - frameMbsOnly);
      width -= cropX * (l + rt);
      height -= cropY * (t + b);
    }
    return width > 0 && height > 0 ? { width, height } : null;
  } catch {
    return null;
  }
}

/** Size of an H.264 access unit (Annex B) that carries an SPS. */
export function h264FrameSize(au: Buffer): Size | null {
  for (const nal of annexBNals(au)) if ((nal[0] & 0x1f) === 7) return h264SpsSize(nal);
  return null;
}

/** Size of a VP9 frame: keyframes and intra-only frames carry it (a superframe's last frame is read first). */
export function vp9FrameSize(frame: Buffer): Size | null {
  if (frame.length < 4) return null;
  // Superframe index at the end: read the frames it lists (the largest size wins).
  const marker = frame[frame.length - 1];
  if ((marker & 0xe0) === 0xc0) {
    const n = (marker & 0x07) + 1;
    const bytes = ((marker >> 3) & 0x03) + 1;
    const indexLen = 2 + bytes * n;
    if (frame.length >= indexLen && frame[frame.length - indexLen] === marker) {
      let off = 0;
      let best: Size | null = null;
      for (let i = 0; i < n; i++) {
        let size = 0;
        for (let k = 0; k < bytes; k++) size |= frame[frame.length - indexLen + 1 + i * bytes + k] << (8 * k);
        const s = vp9SingleFrameSize(frame.subarray(off, off + size));
        if (s && (!best || s.width * s.height > best.width * best.height)) best = s;
        off += size;
      }
      return best;
    }
  }
  return vp9SingleFrameSize(frame);
}

function vp9SingleFrameSize(frame: Buffer): Size | null {
  try {
    const r = new BitReader(frame);
    if (r.bits(2) !== 2) return null;
    const profile = r.bit() | (r.bit() << 1);
    if (profile === 3) r.bit();
    if (r.bit()) return null; // show_existing_frame
    const keyframe = r.bit() === 0;
    const showFrame = r.bit();
    const errorResilient = r.bit();
    const colorConfig = () => {
      if (profile >= 2) r.bit();
      const colorSpace = r.bits(3);
      if (colorSpace !== 7) {
        r.bit();
        if (profile === 1 || profile === 3) r.bits(3);
      } else if (profile === 1 || profile === 3) r.bit();
    };
    if (keyframe) {
      if (r.bits(24) !== 0x498342) return null;
      colorConfig();
    } else {
      const intraOnly = showFrame ? 0 : r.bit();
      if (!intraOnly) return null;
      if (!errorResilient) r.bits(2); // reset_frame_context
      if (r.bits(24) !== 0x498342) return null;
      if (profile > 0) colorConfig();
      r.bits(8); // refresh_frame_flags
    }
    return { width: r.bits(16) + 1, height: r.bits(16) + 1 };
  } catch {
    return null;
  }
}

/** Maximum frame size from an AV1 temporal unit's sequence header OBU (low-overhead format). */
export function av1FrameSize(tu: Buffer): Size | null {
  let off = 0;
  while (off < tu.length) {
    const header = tu[off];
    const type = (header >> 3) & 0x0f;
    const ext = header & 0x04 ? 1 : 0;
    if (!(header & 0x02)) return null;
    let p = off + 1 + ext;
    let size = 0;
    let shift = 0;
    for (;;) {
      if (p >= tu.length) return null;
      const b = tu[p++];
      size += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if (!(b & 0x80)) break;
    }
    if (type === 1) return av1SequenceHeaderSize(tu.subarray(p, p + size));
    off = p + size;
  }
  return null;
}

export function av1SequenceHeaderSize(obu: Buffer): Size | null {
  try {
    const r = new BitReader(obu);
    r.bits(3); // seq_profile
    r.bit(); // still_picture
    const reduced = r.bit();
    if (reduced) r.bits(5);
    else {
      const timingInfo = r.bit();
      let decoderModelInfo = 0;
      let bufferDelayLength = 0;
      if (timingInfo) {
        r.bits(32);
        r.bits(32);
        if (r.bit()) r.uvlc();
        decoderModelInfo = r.bit();
        if (decoderModelInfo) {
          bufferDelayLength = r.bits(5) + 1;
          r.bits(32);
          r.bits(5);
          r.bits(5);
        }
      }
      const initialDisplayDelay = r.bit();
      const ops = r.bits(5) + 1;
      for (let i = 0; i < ops; i++) {
        r.bits(12);
        const level = r.bits(5);
        if (level > 7) r.bit();
        if (decoderModelInfo && r.bit()) {
          r.bits(bufferDelayLength);
          r.bits(bufferDelayLength);
          r.bit();
        }
        if (initialDisplayDelay && r.bit()) r.bits(4);
      }
    }
    const wBits = r.bits(4) + 1;
    const hBits = r.bits(4) + 1;
    return { width: r.bits(wBits) + 1, height: r.bits(hBits) + 1 };
  } catch {
    return null;
  }
}

export function frameSize(codec: VideoCodec, frame: Buffer): Size | null {
  switch (codec) {
    case 'vp8':
      return vp8FrameSize(frame);
    case 'vp9':
      return vp9FrameSize(frame);
    case 'h264':
      return h264FrameSize(frame);
    case 'av1':
      return av1FrameSize(frame);
  }
}
