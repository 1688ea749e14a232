// Turns one video stream's RTP packets into whole compressed frames for the decoder. Pure:
// the caller gives each packet with its arrival time and polls at nextDeadline().
//
// - Packets are ordered by (unwrapped) sequence number; duplicates and packets older than
//   the last frame handed out are dropped.
// - A frame is the packets from a known frame start to the marker bit (or to the packet before
//   the timestamp changes), all present, one timestamp. A start is known from the previous
//   packet (marker / other timestamp) or from the payload format (VP8 S, VP9 B, H.264 SPS/AUD,
//   AV1 N).
// - A hole is given `waitMs` for a NACK repair. After that the frame is dropped, every later
//   frame is held back until the next keyframe (a decoder fed a frame whose reference is
//   missing shows garbage), and a keyframe is asked for (at most every `keyframeRetryMs`
//   while waiting). The stream starts out waiting for a keyframe.

import { annexBNalTypes, av1TemporalUnit, depacketizer, type Av1Part, type PayloadPart, type VideoCodec } from './depacketize.ts';

export interface RtpIn {
  sequenceNumber: number;
  timestamp: number;
  marker: boolean;
  payload: Buffer;
}

export interface AssembledFrame {
  timestamp: number;
  keyframe: boolean;
  /** The frame as the decoder reads it: VP8/VP9 frame, H.264 Annex B access unit, AV1 temporal unit. */
  data: Buffer;
  packets: number;
  /** Arrival of the frame's first and last packet (ms, caller's clock). */
  firstArrival: number;
  lastArrival: number;
}

export interface AssemblerOptions {
  /** How long a hole may wait for its retransmission. */
  waitMs?: number;
  keyframeRetryMs?: number;
  /** Packets held at most (a stalled hole cannot grow the buffer without bound). */
  maxPackets?: number;
  /** H.264 SPS/PPS (Annex B) from the SDP, put before a keyframe that has none of its own. */
  parameterSets?: Buffer | null;
}

export interface AssemblerStats {
  packets: number;
  duplicates: number;
  unreadable: number;
  framesOut: number;
  keyframesOut: number;
  /** Frames lost to holes, and complete frames held back while waiting for a keyframe. */
  framesDropped: number;
  framesHeldBack: number;
  keyframeRequests: number;
}

interface Entry {
  ext: number;
  ts: number;
  marker: boolean;
  part: PayloadPart;
  at: number;
}

export interface AssemblerOutput {
  frames: AssembledFrame[];
  /** Ask the sender for a keyframe now (already rate-limited). */
  requestKeyframe: boolean;
}

export class FrameAssembler {
  private readonly buf = new Map<number, Entry>();
  private readonly read: (p: Buffer) => PayloadPart | null;
  private highest: number | null = null;
  /** Extended sequence number the next frame starts at; null: not in sync (find a start). */
  private next: number | null = null;
  private needKeyframe = true;
  private gapSince: number | null = null;
  private lastKeyRequest = -Infinity;
  private readonly waitMs: number;
  private readonly keyframeRetryMs: number;
  private readonly maxPackets: number;
  readonly stats: AssemblerStats = {
    packets: 0, duplicates: 0, unreadable: 0, framesOut: 0, keyframesOut: 0, framesDropped: 0, framesHeldBack: 0, keyframeRequests: 0,
  };

  constructor(readonly codec: VideoCodec, private readonly opts: AssemblerOptions = {}) {
    this.read = depacketizer(codec);
    this.waitMs = opts.waitMs ?? 100;
    this.keyframeRetryMs = opts.keyframeRetryMs ?? 500;
    this.maxPackets = opts.maxPackets ?? 1024;
  }

  /** Waiting for a keyframe (at start, or after a loss). */
  get waitingForKeyframe(): boolean {
    return this.needKeyframe;
  }

  /** When poll() has something to decide (a hole's wait ends, a keyframe request is due). */
  nextDeadline(): number | null {
    const d: number[] = [];
    if (this.gapSince !== null) d.push(this.gapSince + this.waitMs);
    if (this.needKeyframe && Number.isFinite(this.lastKeyRequest)) d.push(this.lastKeyRequest + this.keyframeRetryMs);
    return d.length ? Math.min(...d) : null;
  }

  push(pkt: RtpIn, now: number): AssemblerOutput {
    this.stats.packets++;
    const ext = this.unwrap(pkt.sequenceNumber);
    if (this.buf.has(ext) || (this.next !== null && ext < this.next)) {
      this.stats.duplicates++;
      return this.poll(now);
    }
    const part = this.read(pkt.payload);
    if (!part) {
      this.stats.unreadable++;
      return this.poll(now);
    }
    this.buf.set(ext, { ext, ts: pkt.timestamp, marker: pkt.marker, part, at: now });
    if (this.buf.size > this.maxPackets) this.trim();
    return this.poll(now);
  }

  poll(now: number): AssemblerOutput {
    const out: AssemblerOutput = { frames: [], requestKeyframe: false };
    for (let guard = 0; guard < 10_000; guard++) {
      if (this.next === null && !this.resync(now)) break;
      const got = this.frameAt(this.next!);
      if (got === 'wait') break;
      if (got === 'hole') {
        this.gapSince ??= now;
        if (now - this.gapSince < this.waitMs) break;
        this.dropFrameAt(this.next!);
        this.stats.framesDropped++;
        this.needKeyframe = true;
        this.lastKeyRequest = -Infinity;
        this.next = null;
        this.gapSince = null;
        continue;
      }
      this.gapSince = null;
      const { entries, end } = got;
      for (const e of entries) this.buf.delete(e.ext);
      this.next = end + 1;
      const frame = this.build(entries);
      if (!frame) {
        this.stats.unreadable++;
        this.needKeyframe = true;
        continue;
      }
      if (this.needKeyframe && !frame.keyframe) {
        this.stats.framesHeldBack++;
        continue;
      }
      this.needKeyframe = false;
      this.stats.framesOut++;
      if (frame.keyframe) this.stats.keyframesOut++;
      out.frames.push(frame);
    }
    if (this.needKeyframe && now - this.lastKeyRequest >= this.keyframeRetryMs) {
      this.lastKeyRequest = now;
      this.stats.keyframeRequests++;
      out.requestKeyframe = true;
    }
    return out;
  }

  private unwrap(seq: number): number {
    if (this.highest === null) {
      this.highest = seq + 0x10000; // room below for reordered packets
      return this.highest;
    }
    const delta = ((seq - (this.highest & 0xffff) + 0x8000) & 0xffff) - 0x8000;
    const ext = this.highest + delta;
    if (ext > this.highest) this.highest = ext;
    return ext;
  }

  private isStart(e: Entry): boolean {
    if (e.part.begin === false) return false;
    const prev = this.buf.get(e.ext - 1);
    if (prev) return prev.marker || prev.ts !== e.ts;
    return e.part.begin === true;
  }

  /** Finds the earliest known frame start in the buffer and syncs to it. */
  private resync(now: number): boolean {
    // Out of sync, a packet that waited a second belongs to a frame that cannot be completed.
    for (const [s, e] of this.buf) if (now - e.at > 1000) this.buf.delete(s);
    const seqs = [...this.buf.keys()].sort((a, b) => a - b);
    for (const s of seqs) {
      const e = this.buf.get(s)!;
      if (this.isStart(e)) {
        for (const old of seqs) {
          if (old >= s) break;
          this.buf.delete(old);
        }
        this.next = s;
        return true;
      }
    }
    return false;
  }

  /** The frame starting at `start`: complete, still arriving ('wait'), or with a hole. */
  private frameAt(start: number): { entries: Entry[]; end: number } | 'wait' | 'hole' {
    const first = this.buf.get(start);
    const newer = this.highest !== null && this.highest > start;
    if (!first) return newer ? 'hole' : 'wait';
    const entries: Entry[] = [first];
    for (let s = start; ; s++) {
      const e = s === start ? first : this.buf.get(s);
      if (!e) return this.highest !== null && this.highest > s ? 'hole' : 'wait';
      if (e.ts !== first.ts) {
        // The frame ended without a marker bit: the timestamp moved on.
        entries.pop();
        return { entries, end: s - 1 };
      }
      if (s !== start) entries.push(e);
      if (e.marker) return { entries, end: s };
    }
  }

  private dropFrameAt(start: number): void {
    const first = this.buf.get(start);
    const ts = first?.ts;
    for (const [s, e] of this.buf) if (s < start || (ts !== undefined && e.ts === ts)) this.buf.delete(s);
  }

  private build(entries: Entry[]): AssembledFrame | null {
    let keyframe = entries.some((e) => e.part.keyframe);
    let data: Buffer | null;
    if (this.codec === 'av1') data = av1TemporalUnit(entries.map((e) => e.part as Av1Part));
    else data = Buffer.concat(entries.map((e) => e.part.data));
    if (!data || data.length === 0) return null;
    if (this.codec === 'h264') {
      const types = annexBNalTypes(data);
      keyframe = types.includes(5);
      if (keyframe && !types.includes(7) && this.opts.parameterSets) data = Buffer.concat([this.opts.parameterSets, data]);
    }
    return {
      timestamp: entries[0].ts,
      keyframe,
      data,
      packets: entries.length,
      firstArrival: entries[0].at,
      lastArrival: entries[entries.length - 1].at,
    };
  }

  /** Over the packet budget: forget the oldest and resync (a keyframe will be needed). */
  private trim(): void {
    const seqs = [...this.buf.keys()].sort((a, b) => a - b);
    for (const s of seqs.slice(0, seqs.length - Math.floor(this.maxPackets / 2))) this.buf.delete(s);
    this.next = null;
    this.needKeyframe = true;
    this.gapSince = null;
  }
}
