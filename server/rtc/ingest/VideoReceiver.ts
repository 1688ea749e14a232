// A publisher's video at the server: per stream (one, or one per simulcast layer) receive
// statistics, NACKs for holes and whole frames out of a frame assembler; one FFmpeg decoder
// that turns the frames of one stream at a time into slot-sized pictures. For a simulcast
// publisher the layer decoded is the one that fits its tile (pipeline/simulcast.ts
// chooseLayer), and a change of layer happens on the new layer's keyframe (LayerSwitcher), so
// the decoder never sees a frame it cannot decode and the picture goes on meanwhile.
// Keyframe requests (start, loss, decoder restart, layer switch) go out through
// `requestKeyframe` with the SSRC they are for; the owner rate-limits them per SSRC and
// turns them into a PLI or FIR.

import { FrameAssembler, type AssembledFrame } from '../../../pipeline/rtp/FrameAssembler.ts';
import { NackTracker } from '../../../pipeline/rtp/NackTracker.ts';
import { ReceiveStats } from '../../../pipeline/rtp/ReceiveStats.ts';
import { chooseLayer, LayerSwitcher, topLayer, type LayerState } from '../../../pipeline/simulcast.ts';
import { frameSize } from '../../../pipeline/media/frameSize.ts';
import type { IngestVideoPlan } from '../../../pipeline/ingestCodecs.ts';
import type { Size } from '../../../pipeline/layout/geometry.ts';
import { VideoDecoder, type SlotFrame } from '../../../workers/decoder/VideoDecoder.ts';
import type { Logger } from '../../../workers/log.ts';

export interface VideoReceiverHooks {
  frame(frame: SlotFrame, sentAt: number): void;
  requestKeyframe(reason: string, ssrc: number | undefined): void;
  nack(ssrc: number, seqs: number[]): void;
}

/** A layer without packets this long is not live (paused, or dropped by the publisher under congestion). */
const LAYER_LIVE_MS = 1000;
/** A wanted layer's keyframe is asked for again this often while it has not come. */
const SWITCH_PLI_EVERY_MS = 400;
const CHOOSE_EVERY_MS = 200;

/** One RTP stream of the publisher's video (the only one, or one simulcast layer). */
export class VideoStream {
  readonly stats: ReceiveStats;
  readonly assembler: FrameAssembler;
  readonly nacks = new NackTracker();
  /** Picture size from its last keyframe. */
  size: Size | null = null;
  framesDecoded = 0;

  constructor(readonly rid: string | null, readonly ssrc: number, plan: IngestVideoPlan) {
    this.stats = new ReceiveStats(ssrc, 90000);
    this.assembler = new FrameAssembler(plan.codec, { parameterSets: plan.parameterSets, waitMs: 120 });
  }

  live(now: number): boolean {
    return now - this.stats.lastPacketAt < LAYER_LIVE_MS;
  }
}

export class VideoReceiver {
  /** Streams by RID ('' for a publisher without simulcast). */
  readonly streams = new Map<string, VideoStream>();
  readonly decoder: VideoDecoder;
  readonly switcher: LayerSwitcher | null;
  /** Arrival of each frame handed to the decoder, oldest first (decode latency). */
  private readonly inFlight: number[] = [];
  framesDecoded = 0;
  /** Decoded frames × their pixels as sent (the decode work, summed). */
  pixelsDecoded = 0;
  lastFrameAt = 0;
  source: Size | null = null;
  /** Decode latency (assembled frame in → slot frame out), ms, last few. */
  readonly decodeMs: number[] = [];
  /** The picture size the layout's tile for this publisher needs (null: not shown). */
  private tile: Size | null = null;
  private lastChooseAt = 0;
  private lastSwitchPliAt = -Infinity;
  private rtt: number | null = null;

  constructor(readonly plan: IngestVideoPlan, slot: Size, name: string, log: Logger, private readonly hooks: VideoReceiverHooks) {
    this.switcher = plan.simulcast ? new LayerSwitcher() : null;
    this.decoder = new VideoDecoder(name, plan.codec, slot, log);
    this.decoder.on('frame', (f) => {
      const sentAt = this.inFlight.shift() ?? performance.now();
      const now = performance.now();
      this.decodeMs.push(now - sentAt);
      if (this.decodeMs.length > 120) this.decodeMs.shift();
      this.framesDecoded++;
      this.pixelsDecoded += f.source.width * f.source.height;
      this.lastFrameAt = now;
      this.source = f.source;
      this.hooks.frame(f, sentAt);
    });
    this.decoder.on('needKeyframe', (why) => this.hooks.requestKeyframe(`decoder: ${why}`, this.decodedStream?.ssrc));
    this.decoder.on('restarted', () => (this.inFlight.length = 0));
  }

  /** The stream whose frames the decoder gets (the only one, or the current layer). */
  get decodedStream(): VideoStream | undefined {
    if (!this.switcher) return this.streams.get('');
    const rid = this.switcher.current ?? this.switcher.target;
    return rid !== null ? this.streams.get(rid) : this.streams.values().next().value;
  }

  /** Receive statistics of the decoded stream (what GET /stats shows as the video stream). */
  get stats(): ReceiveStats | null {
    return this.decodedStream?.stats ?? null;
  }

  get assembler(): FrameAssembler | null {
    return this.decodedStream?.assembler ?? null;
  }

  /** Bytes received on all streams (the publisher's whole video bitrate). */
  get bytes(): number {
    let n = 0;
    for (const s of this.streams.values()) n += s.stats.bytes;
    return n;
  }

  /** The layers (simulcast) with what is known of them, in the offer's order. */
  layers(now = performance.now()): LayerState[] {
    return (this.plan.simulcast?.rids ?? []).map((rid) => {
      const s = this.streams.get(rid);
      return { rid, size: s?.size ?? null, live: !!s && s.live(now) };
    });
  }

  /** The layer a capable subscriber is forwarded: the largest live one (null: no simulcast, or none known yet). */
  forwardedLayer: string | null = null;

  /** The picture size the publisher's tile needs (Room, on every layout change); null: not shown. */
  setTile(size: Size | null): void {
    this.tile = size;
    this.choose(performance.now());
  }

  setRtt(ms: number): void {
    this.rtt = ms;
    for (const s of this.streams.values()) s.nacks.setRtt(ms);
  }

  onPacket(ssrc: number, rid: string | null, seq: number, timestamp: number, marker: boolean, payload: Buffer, bytes: number, retransmit: boolean, now: number): void {
    const key = this.switcher ? (rid ?? '') : '';
    let stream = this.streams.get(key);
    if (!stream) {
      stream = new VideoStream(this.switcher ? rid : null, ssrc, this.plan);
      if (this.rtt !== null) stream.nacks.setRtt(this.rtt);
      this.streams.set(key, stream);
    }
    if (!stream.stats.add(seq, timestamp, bytes, now, retransmit)) return;
    if (this.plan.feedback.nack) {
      if (!stream.nacks.onPacket(seq, now)) this.keyframeFor(stream, 'hole too wide to repair');
      const due = stream.nacks.due(now);
      if (due.length) this.hooks.nack(stream.ssrc, due);
    }
    this.handle(stream, stream.assembler.push({ sequenceNumber: seq, timestamp, marker, payload }, now));
  }

  /** Timers: holes that stop waiting, NACK retries, the layer choice and its keyframe requests. */
  tick(now: number): void {
    for (const stream of this.streams.values()) {
      const deadline = stream.assembler.nextDeadline();
      if (deadline !== null && now >= deadline) this.handle(stream, stream.assembler.poll(now));
      if (this.plan.feedback.nack && stream.nacks.pending) {
        const due = stream.nacks.due(now);
        if (due.length) this.hooks.nack(stream.ssrc, due);
      }
    }
    if (!this.switcher) return;
    if (now - this.lastChooseAt >= CHOOSE_EVERY_MS) this.choose(now);
    const target = this.switcher.target;
    if (target !== null && now - this.lastSwitchPliAt >= SWITCH_PLI_EVERY_MS) {
      this.lastSwitchPliAt = now;
      this.hooks.requestKeyframe(`layer switch to ${target}`, this.streams.get(target)?.ssrc);
    }
  }

  /** Sets the switcher's target from the tile and the layers' sizes and liveness. */
  private choose(now: number): void {
    if (!this.switcher) return;
    this.lastChooseAt = now;
    const layers = this.layers(now);
    this.forwardedLayer = topLayer(layers) ?? this.forwardedLayer;
    const want = chooseLayer(layers, this.tile);
    if (want === null || want === this.switcher.target || (want === this.switcher.current && this.switcher.target === null)) return;
    this.switcher.want(want);
    if (this.switcher.target !== null) {
      this.lastSwitchPliAt = now;
      this.hooks.requestKeyframe(`layer switch to ${want}`, this.streams.get(want)?.ssrc);
    }
  }

  /** A stream's own keyframe requests: only for what is (or is about to be) decoded, or a layer not yet sized. */
  private keyframeFor(stream: VideoStream, reason: string): void {
    const s = this.switcher;
    if (s && stream.size && stream.rid !== s.current && stream.rid !== s.target) return;
    this.hooks.requestKeyframe(reason, stream.ssrc);
  }

  private handle(stream: VideoStream, out: ReturnType<FrameAssembler['poll']>): void {
    for (const f of out.frames) {
      if (this.decoder.closed) break;
      if (f.keyframe) {
        const size = frameSize(this.plan.codec, f.data);
        const known = stream.size;
        if (size) stream.size = size;
        // A layer's (new) size: choose again before this keyframe is taken or passed over.
        if (size && (!known || known.width !== size.width || known.height !== size.height)) this.choose(performance.now());
      }
      if (this.switcher && !this.switcher.accept(stream.rid ?? '', f.keyframe)) continue;
      this.decode(stream, f);
    }
    if (out.requestKeyframe) this.keyframeFor(stream, stream.assembler.stats.framesOut ? 'loss' : 'start');
  }

  private decode(stream: VideoStream, f: AssembledFrame): void {
    stream.framesDecoded++;
    this.inFlight.push(f.lastArrival);
    if (this.inFlight.length > 30) this.inFlight.shift();
    this.decoder.write(f);
  }

  close(): Promise<void> {
    return this.decoder.close();
  }
}
