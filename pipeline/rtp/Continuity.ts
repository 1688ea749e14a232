// Keeps one outgoing RTP stream continuous while its source changes underneath it (the mixer
// process restarting, or a new one replacing it). Subscribers see one SSRC whose sequence
// numbers never jump and whose timestamps advance with wall time across the switch, so
// their jitter buffers and decoders carry on instead of resetting. Pure: the caller gives
// the wall clock.

export interface RtpRewrite {
  sequenceNumber: number;
  timestamp: number;
}

export class RtpContinuity {
  private sourceEpoch = -1;
  private seqOffset = 0;
  private tsOffset = 0;
  private lastSeq = -1;
  private lastTs = 0;
  private lastWallMs = 0;
  private started = false;

  constructor(readonly clockRate: number) {}

  /**
   * Rewrites one packet's header fields. `epoch` identifies the source (bump it when the
   * producer is replaced); `wallMs` is the arrival time.
   */
  next(epoch: number, seq: number, ts: number, wallMs: number): RtpRewrite {
    if (epoch !== this.sourceEpoch) {
      if (this.started) {
        // At least a millisecond: a new source's first frame can come within a millisecond of
        // the old one's last (a make-before-break swap), and a recording in milliseconds (WebM,
        // Matroska) would then hold two frames at one timestamp ("non monotonically increasing dts").
        const elapsed = Math.max(Math.ceil(this.clockRate / 1000), Math.round(((wallMs - this.lastWallMs) * this.clockRate) / 1000));
        this.seqOffset = (this.lastSeq + 1 - seq) & 0xffff;
        this.tsOffset = (this.lastTs + elapsed - ts) >>> 0;
      }
      this.sourceEpoch = epoch;
    }
    const out = { sequenceNumber: (seq + this.seqOffset) & 0xffff, timestamp: (ts + this.tsOffset) >>> 0 };
    // Only move forward: a reordered packet keeps its rewritten values but does not rewind.
    if (!this.started || ((out.sequenceNumber - this.lastSeq) & 0xffff) < 0x8000) {
      this.lastSeq = out.sequenceNumber;
      this.lastTs = out.timestamp;
      this.lastWallMs = wallMs;
    }
    this.started = true;
    return out;
  }
}

export const isRtcpPacket = (buf: Buffer): boolean => buf.length >= 2 && buf[1] >= 200 && buf[1] <= 206;

/**
 * True when `buf` holds a whole RTP packet: version 2, not RTCP, and its CSRCs, header
 * extension and padding all inside the buffer. Packets from outside the process go through
 * this before anything reads their fields.
 */
export function isWellFormedRtp(buf: Buffer): boolean {
  if (buf.length < 12 || buf[0] >> 6 !== 2 || isRtcpPacket(buf)) return false;
  const off = rtpPayloadOffset(buf);
  if (off < 0) return false;
  const padding = buf[0] & 0x20 ? buf[buf.length - 1] : 0;
  return off + padding <= buf.length;
}

/** Rewrites sequence number and timestamp in place (RTP fixed header). */
export function writeSeqTs(buf: Buffer, r: RtpRewrite): void {
  buf.writeUInt16BE(r.sequenceNumber, 2);
  buf.writeUInt32BE(r.timestamp, 4);
}

/**
 * Offset of the RTP payload (after CSRCs and the header extension), or -1 when the packet is
 * shorter than its own header says (never throws: a truncated packet is not an exception).
 */
export function rtpPayloadOffset(buf: Buffer): number {
  if (buf.length < 12) return -1;
  const cc = buf[0] & 0x0f;
  let off = 12 + cc * 4;
  if (buf[0] & 0x10) {
    if (off + 4 > buf.length) return -1;
    off += 4 + buf.readUInt16BE(off + 2) * 4;
  }
  return off <= buf.length ? off : -1;
}

/** True when this VP8 RTP packet starts a keyframe (RFC 7741 payload descriptor). */
export function isVp8KeyframeStart(buf: Buffer): boolean {
  let off = rtpPayloadOffset(buf);
  if (off < 0 || off >= buf.length) return false;
  const d = buf[off];
  if (!(d & 0x10) || (d & 0x07) !== 0) return false; // not the start of partition 0
  off++;
  if (d & 0x80) {
    const x = buf[off++];
    if (x & 0x80) off += buf[off] & 0x80 ? 2 : 1; // PictureID
    if (x & 0x40) off++; // TL0PICIDX
    if (x & 0x30) off++; // TID/KEYIDX
  }
  return off < buf.length && (buf[off] & 0x01) === 0;
}

/** True when this H.264 RTP packet (RFC 6184) starts an IDR picture or carries its SPS. */
export function isH264KeyframeStart(buf: Buffer): boolean {
  const off = rtpPayloadOffset(buf);
  if (off < 0 || off >= buf.length) return false;
  const type = buf[off] & 0x1f;
  if (type === 5 || type === 7) return true;
  if (type === 24) {
    // STAP-A: aggregated NAL units, each with a 16-bit size.
    let p = off + 1;
    while (p + 2 < buf.length) {
      const size = buf.readUInt16BE(p);
      const t = buf[p + 2] & 0x1f;
      if (t === 5 || t === 7) return true;
      p += 2 + size;
    }
    return false;
  }
  if (type === 28 && off + 1 < buf.length) {
    // FU-A: the start fragment of an IDR slice.
    const fu = buf[off + 1];
    return (fu & 0x80) !== 0 && (fu & 0x1f) === 5;
  }
  return false;
}

/**
 * One outgoing stream fed from a source that may change (mixer epochs, rung switches): keeps
 * sequence numbers and timestamps continuous (RtpContinuity) and, for video, starts and
 * restarts only on a keyframe so a decoder never gets a picture it cannot decode.
 */
export class ContinuousStream {
  private readonly continuity: RtpContinuity;
  private source = '';
  private epoch = 0;
  private waitingForKeyframe: boolean;

  constructor(
    readonly kind: 'audio' | 'video',
    public codec: 'vp8' | 'h264' = 'vp8',
  ) {
    this.continuity = new RtpContinuity(kind === 'video' ? 90000 : 48000);
    this.waitingForKeyframe = kind === 'video';
  }

  /** The packet rewritten for this stream (a copy), or null while waiting for a keyframe. */
  next(source: string, packet: Buffer, wallMs: number): Buffer | null {
    const r = this.rewrite(source, packet, wallMs);
    if (!r) return null;
    const copy = Buffer.from(packet);
    writeSeqTs(copy, r);
    return copy;
  }

  /** This stream's sequence number and timestamp for the packet (no copy), or null while waiting for a keyframe. */
  rewrite(source: string, packet: Buffer, wallMs: number): RtpRewrite | null {
    if (packet.length < 12) return null;
    if (source !== this.source) {
      this.source = source;
      this.epoch++;
      if (this.kind === 'video') this.waitingForKeyframe = true;
    }
    if (this.waitingForKeyframe) {
      if (!this.isKeyframeStart(packet)) return null;
      this.waitingForKeyframe = false;
    }
    return this.continuity.next(this.epoch, packet.readUInt16BE(2), packet.readUInt32BE(4), wallMs);
  }

  isKeyframeStart(packet: Buffer): boolean {
    return this.codec === 'h264' ? isH264KeyframeStart(packet) : isVp8KeyframeStart(packet);
  }

  get needsKeyframe(): boolean {
    return this.waitingForKeyframe;
  }
}
