// The playout-delay RTP header extension (http://www.webrtc.org/experiments/rtp-hdrext/playout-delay):
// a sender tells the receiver the least and most it may delay rendering video, in 10 ms units
// (12 bits each). libwebrtc keeps the last value it saw on a frame for the frames after it, so
// one packet per keyframe is enough. With min = max = 0 Chromium renders each frame as soon as
// it is decoded (its low-latency renderer) instead of holding it to its jitter estimate; the
// audio, which lip sync holds to the video's delay, then waits less too (docs/AUDIO-PATH.md).
// Pure: a packet in, a new packet out.

export const PLAYOUT_DELAY_URI = 'http://www.webrtc.org/experiments/rtp-hdrext/playout-delay';

/** The extension's 3 bytes: min and max, 12 bits each, in 10 ms units (clamped to 0…40950 ms). */
export function playoutDelayBytes(minMs: number, maxMs: number): Buffer {
  const unit = (ms: number) => Math.max(0, Math.min(0xfff, Math.round(ms / 10)));
  const min = unit(minMs);
  const max = Math.max(min, unit(maxMs));
  return Buffer.from([min >> 4, ((min & 0xf) << 4) | (max >> 8), max & 0xff]);
}

/**
 * `packet` with a one-byte-header extension element `id` (1-14) carrying `data` (1-16 bytes)
 * added: after the header's other elements when it already has one-byte extensions, as the
 * only element when it has none. A packet with a two-byte-header (or other) profile, or one too
 * short to be RTP, comes back unchanged.
 */
export function addHeaderExtension(packet: Buffer, id: number, data: Buffer): Buffer {
  if (id < 1 || id > 14 || data.length < 1 || data.length > 16 || packet.length < 12) return packet;
  const csrcEnd = 12 + (packet[0] & 0x0f) * 4;
  if (packet.length < csrcEnd) return packet;
  const element = 1 + data.length;
  if ((packet[0] & 0x10) === 0) {
    const words = Math.ceil(element / 4);
    const out = Buffer.alloc(packet.length + 4 + words * 4);
    packet.copy(out, 0, 0, csrcEnd);
    out[0] |= 0x10;
    out.writeUInt16BE(0xbede, csrcEnd);
    out.writeUInt16BE(words, csrcEnd + 2);
    out[csrcEnd + 4] = (id << 4) | (data.length - 1);
    data.copy(out, csrcEnd + 5);
    packet.copy(out, csrcEnd + 4 + words * 4, csrcEnd);
    return out;
  }
  if (packet.length < csrcEnd + 4 || packet.readUInt16BE(csrcEnd) !== 0xbede) return packet;
  const oldWords = packet.readUInt16BE(csrcEnd + 2);
  const extStart = csrcEnd + 4;
  const extEnd = extStart + oldWords * 4;
  if (packet.length < extEnd) return packet;
  // The elements' end: the rest of the old block is padding (zero bytes).
  let used = extStart;
  while (used < extEnd) {
    const b = packet[used];
    if (b === 0) {
      used++;
      continue;
    }
    if (b >> 4 === 15) break;
    used += 1 + (b & 0x0f) + 1;
  }
  used = Math.min(used, extEnd);
  const words = Math.ceil((used - extStart + element) / 4);
  const out = Buffer.alloc(packet.length + (words - oldWords) * 4);
  packet.copy(out, 0, 0, used);
  out.writeUInt16BE(words, csrcEnd + 2);
  out[used] = (id << 4) | (data.length - 1);
  data.copy(out, used + 1);
  packet.copy(out, extStart + words * 4, extEnd);
  return out;
}

/**
 * EGRESS_PLAYOUT_DELAY: "min,max" in ms (e.g. "0,0"), what the mix's video tells WHEP
 * subscribers; unset or empty: the extension is not negotiated. A bad value throws.
 */
export function parsePlayoutDelay(v: string | undefined): { minMs: number; maxMs: number } | null {
  if (v === undefined || v.trim() === '') return null;
  const m = /^\s*(\d+)\s*,\s*(\d+)\s*$/.exec(v);
  if (!m || Number(m[1]) > 40950 || Number(m[2]) > 40950 || Number(m[2]) < Number(m[1])) {
    throw new Error(`EGRESS_PLAYOUT_DELAY: "${v}" is not "min,max" in ms (0-40950, max ≥ min)`);
  }
  return { minMs: Number(m[1]), maxMs: Number(m[2]) };
}
