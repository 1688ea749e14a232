// Per-codec RTP payload readers for the ingest: what each packet adds to its frame, and
// whether it starts a keyframe. Pure; every function takes one packet's payload and
// returns null for a payload it cannot read (counted and dropped by the caller, never thrown).
//
//   VP8   RFC 7741   payload descriptor stripped; the VP8 frame is the concatenation
//   VP9   RFC 9628   payload descriptor (and scalability structure) stripped
//   H.264 RFC 6184   single NAL, STAP-A, FU-A → Annex B (start codes); packetization-mode 0 and 1
//   AV1   AV1 RTP    OBU elements with the aggregation header; reassembled by av1TemporalUnit

export type VideoCodec = 'vp8' | 'vp9' | 'h264' | 'av1';

export interface PayloadPart {
  /** Bytes this packet adds to the frame (H.264: Annex B; AV1: see Av1Part). */
  data: Buffer;
  /** The packet starts a keyframe (decodable on its own). */
  keyframe: boolean;
  /** The packet is the first of a frame, when the payload format says so (VP8 S, VP9 B). */
  begin: boolean | null;
}

export interface Av1Part extends PayloadPart {
  /** The OBU elements of the packet; the first continues the previous packet's last (Z), the last continues in the next (Y). */
  elements: Buffer[];
  z: boolean;
  y: boolean;
}

const START = Buffer.from([0, 0, 0, 1]);

export function vp8Payload(p: Buffer): PayloadPart | null {
  if (p.length < 1) return null;
  let off = 1;
  const x = p[0] & 0x80;
  const s = (p[0] & 0x10) !== 0;
  const pid = p[0] & 0x07;
  if (x) {
    if (p.length < 2) return null;
    const ext = p[1];
    off = 2;
    if (ext & 0x80) {
      if (off >= p.length) return null;
      off += p[off] & 0x80 ? 2 : 1;
    }
    if (ext & 0x40) off += 1;
    if (ext & 0x30) off += 1;
  }
  if (off >= p.length) return null;
  const data = p.subarray(off);
  const begin = s && pid === 0;
  return { data, begin, keyframe: begin && (data[0] & 0x01) === 0 };
}

export function vp9Payload(p: Buffer): PayloadPart | null {
  if (p.length < 1) return null;
  const b0 = p[0];
  const I = b0 & 0x80, P = b0 & 0x40, L = b0 & 0x20, F = b0 & 0x10, B = b0 & 0x08, V = b0 & 0x02;
  let off = 1;
  let sid = 0;
  if (I) {
    if (off >= p.length) return null;
    off += p[off] & 0x80 ? 2 : 1;
  }
  if (L) {
    if (off >= p.length) return null;
    sid = (p[off] >> 1) & 0x07;
    off += 1;
    if (!F) off += 1; // TL0PICIDX
  }
  if (F && P) {
    for (let n = 0; n < 3; n++) {
      if (off >= p.length) return null;
      const more = p[off++] & 0x01;
      if (!more) break;
    }
  }
  if (V) {
    if (off >= p.length) return null;
    const ss = p[off++];
    const ns = (ss >> 5) + 1;
    if (ss & 0x10) off += 4 * ns;
    if (ss & 0x08) {
      if (off >= p.length) return null;
      const ng = p[off++];
      for (let g = 0; g < ng; g++) {
        if (off >= p.length) return null;
        const r = (p[off++] >> 2) & 0x03;
        off += r;
      }
    }
  }
  if (off > p.length) return null;
  const begin = B !== 0;
  return { data: p.subarray(off), begin, keyframe: begin && !P && sid === 0 };
}

/** Width and height announced in a VP9 payload's scalability structure (the first spatial layer's), if any. */
export function vp9SsSize(p: Buffer): { width: number; height: number } | null {
  if (p.length < 1 || !(p[0] & 0x02)) return null;
  const b0 = p[0];
  let off = 1;
  if (b0 & 0x80) off += off < p.length && p[off] & 0x80 ? 2 : 1;
  if (b0 & 0x20) off += b0 & 0x10 ? 1 : 2;
  if (b0 & 0x10 && b0 & 0x40) {
    for (let n = 0; n < 3 && off < p.length; n++) if (!(p[off++] & 0x01)) break;
  }
  if (off >= p.length || !(p[off] & 0x10)) return null;
  const ns = (p[off] >> 5) + 1;
  off += 1 + 4 * (ns - 1); // the last (largest) spatial layer
  if (off + 4 > p.length) return null;
  return { width: p.readUInt16BE(off), height: p.readUInt16BE(off + 2) };
}

/** H.264 (RFC 6184): the packet as Annex B bytes. FU-A continuation bytes are appended raw. */
export function h264Payload(p: Buffer): PayloadPart | null {
  if (p.length < 1) return null;
  const type = p[0] & 0x1f;
  if (type >= 1 && type <= 23) {
    // An access unit delimiter or a sequence parameter set opens an access unit.
    return { data: Buffer.concat([START, p]), keyframe: type === 5 || type === 7, begin: type === 9 || type === 7 ? true : null };
  }
  if (type === 24) {
    // STAP-A: [size16][NAL]…
    const parts: Buffer[] = [];
    let key = false;
    let begin: boolean | null = null;
    let off = 1;
    while (off + 2 <= p.length) {
      const size = p.readUInt16BE(off);
      off += 2;
      if (size === 0 || off + size > p.length) return null;
      const nal = p.subarray(off, off + size);
      const t = nal[0] & 0x1f;
      if (t === 5 || t === 7) key = true;
      if (!parts.length && (t === 7 || t === 9)) begin = true;
      parts.push(START, nal);
      off += size;
    }
    if (!parts.length) return null;
    return { data: Buffer.concat(parts), keyframe: key, begin };
  }
  if (type === 28) {
    if (p.length < 3) return null;
    const start = (p[1] & 0x80) !== 0;
    const nalType = p[1] & 0x1f;
    if (start) {
      const header = Buffer.from([(p[0] & 0xe0) | nalType]);
      return { data: Buffer.concat([START, header, p.subarray(2)]), keyframe: nalType === 5 || nalType === 7, begin: null };
    }
    return { data: p.subarray(2), keyframe: false, begin: false };
  }
  // STAP-B, MTAP, FU-B (interleaved mode) are never negotiated.
  return null;
}

/** SPS and PPS from an fmtp's sprop-parameter-sets, as Annex B. */
export function spropParameterSets(fmtp: string): Buffer | null {
  const m = /(?:^|;)\s*sprop-parameter-sets=([^;]+)/.exec(fmtp);
  if (!m) return null;
  const nals = m[1].split(',').map((b) => Buffer.from(b.trim(), 'base64')).filter((b) => b.length > 0);
  if (!nals.length) return null;
  return Buffer.concat(nals.flatMap((n) => [START, n]));
}

/** NAL unit types present in an Annex B buffer. */
export function annexBNalTypes(buf: Buffer): number[] {
  const types: number[] = [];
  for (let i = 0; i + 3 < buf.length; i++) {
    if (buf[i] === 0 && buf[i + 1] === 0 && (buf[i + 2] === 1 || (buf[i + 2] === 0 && buf[i + 3] === 1))) {
      const at = buf[i + 2] === 1 ? i + 3 : i + 4;
      if (at < buf.length) types.push(buf[at] & 0x1f);
      i = at;
    }
  }
  return types;
}

/** The NAL units of an Annex B buffer (without start codes). */
export function annexBNals(buf: Buffer): Buffer[] {
  const starts: Array<[number, number]> = [];
  for (let i = 0; i + 2 < buf.length; i++) {
    if (buf[i] === 0 && buf[i + 1] === 0 && buf[i + 2] === 1) {
      const zeros = i > 0 && buf[i - 1] === 0 ? 1 : 0;
      starts.push([i - zeros, i + 3]);
      i += 2;
    }
  }
  return starts.map(([, at], k) => buf.subarray(at, k + 1 < starts.length ? starts[k + 1][0] : buf.length));
}

function readLeb128(p: Buffer, off: number): [number, number] | null {
  let value = 0;
  for (let i = 0; i < 8; i++) {
    if (off + i >= p.length) return null;
    const b = p[off + i];
    value += (b & 0x7f) * 2 ** (7 * i);
    if (!(b & 0x80)) return [value, i + 1];
  }
  return null;
}

export function leb128(n: number): Buffer {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return Buffer.from(out);
}

export function av1Payload(p: Buffer): Av1Part | null {
  if (p.length < 2) return null;
  const z = (p[0] & 0x80) !== 0;
  const y = (p[0] & 0x40) !== 0;
  const w = (p[0] >> 4) & 0x03;
  const n = (p[0] & 0x08) !== 0;
  const elements: Buffer[] = [];
  let off = 1;
  while (off < p.length) {
    let size: number;
    if (w === 0 || elements.length < w - 1) {
      const l = readLeb128(p, off);
      if (!l) return null;
      [size] = l;
      off += l[1];
    } else {
      size = p.length - off;
    }
    if (off + size > p.length) return null;
    elements.push(p.subarray(off, off + size));
    off += size;
    if (w !== 0 && elements.length === w) break;
  }
  return { data: p.subarray(1), elements, z, y, keyframe: n, begin: n ? true : z ? false : null };
}

/**
 * One AV1 temporal unit from a frame's packets in order: OBU fragments joined, each OBU
 * given a size field (the low-overhead format decoders read), a temporal delimiter first.
 */
export function av1TemporalUnit(parts: Av1Part[]): Buffer | null {
  const obus: Buffer[] = [];
  let pending: Buffer[] | null = null;
  for (const part of parts) {
    part.elements.forEach((el, i) => {
      const continues = i === 0 && part.z;
      if (continues && pending) pending.push(el);
      else {
        if (pending) obus.push(Buffer.concat(pending));
        pending = [el];
      }
    });
    if (!part.y && pending) {
      obus.push(Buffer.concat(pending));
      pending = null;
    }
  }
  if (pending) obus.push(Buffer.concat(pending));
  const out: Buffer[] = [Buffer.from([0x12, 0x00])];
  for (const obu of obus) {
    if (obu.length < 1) continue;
    const type = (obu[0] >> 3) & 0x0f;
    if (type === 2) continue; // temporal delimiter: we write our own
    const ext = (obu[0] & 0x04) !== 0;
    const hasSize = (obu[0] & 0x02) !== 0;
    const headerLen = ext ? 2 : 1;
    if (obu.length < headerLen) return null;
    if (hasSize) {
      out.push(obu);
      continue;
    }
    const header = Buffer.from(obu.subarray(0, headerLen));
    header[0] |= 0x02;
    const body = obu.subarray(headerLen);
    out.push(header, leb128(body.length), body);
  }
  return Buffer.concat(out);
}

export function depacketizer(codec: VideoCodec): (p: Buffer) => PayloadPart | null {
  switch (codec) {
    case 'vp8':
      return vp8Payload;
    case 'vp9':
      return vp9Payload;
    case 'h264':
      return h264Payload;
    case 'av1':
      return av1Payload;
  }
}
