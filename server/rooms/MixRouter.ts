// Where each packet of the room's mix goes: subscribers (by the rung they watch, by the audio
// stream they hear) and taps (HLS, RTMP). The routing table is rebuilt when a subscription comes
// or goes, links to another publisher's mix-minus, or switches rung, so a packet costs one map
// lookup, not a search over every subscriber. A rung switch happens here, on the new rung's
// first keyframe start, so a decoder never sees a gap. A subscriber still connecting gets a
// keyframe asked for at once, held until it connects (its start does not wait for a keyframe
// asked only after DTLS is up: the encoder makes it while ICE and DTLS come up).

import { ContinuousStream } from '../../pipeline/rtp/Continuity.ts';
import { FULL_MIX_KEY, minusStreamKey, rungOfStreamKey, type AudioStreamKey, type MixStreamKey } from '../../pipeline/mixer/streamKey.ts';
import type { MixTap } from '../broadcast/MixSource.ts';

/** An outgoing track as the router uses it (Egress's ForwardedTrack). */
export interface RoutedTrack {
  forward(source: string, packet: Buffer, contentAt?: number | null): boolean;
  isKeyframeStart(packet: Buffer): boolean;
  readonly needsKeyframe: boolean;
  /** Forget the receiver reports so far (they describe the rung left behind). */
  resetFeedback(): void;
}

/** A subscription as the router reads (and, on a rung switch, writes) it. */
export interface RoutedSubscription {
  /** The rung forwarded now (null: audio only), and one being switched to at its next keyframe. */
  rung: string | null;
  pendingRung: string | null;
  /** The publisher whose mix-minus it hears (null: the full mix). */
  participantId: string | null;
  readonly egress: {
    readonly video: RoutedTrack | null;
    readonly audio: RoutedTrack | null;
    /** When ICE and DTLS came up (0: not yet; video sent before then is lost, keyframe included). */
    readonly connectedAt: number;
  };
}

export interface MixRouterHooks {
  /** The mixer slot of a publisher (-1: none). */
  slotOf(participantId: string): number;
  requestKeyframe(rung: string): void;
  /** A subscription switched rung (the set of rungs to encode may change). */
  switched(): void;
}

/** The most packets held for a subscriber still connecting (a keyframe and what follows it, ~1 s of a rung). */
export const HELD_MAX_PACKETS = 400;

/**
 * A subscription's video while its ICE and DTLS come up: asked for a keyframe once (at once, so
 * the mixer encodes it while the connection is made), and the packets from the latest keyframe
 * start on, sent when it connects: its first picture does not wait for a keyframe requested after.
 */
interface Held {
  rung: string;
  packets: Array<{ source: string; buf: Buffer; contentAt: number | null }>;
}

const rtpTimestamp = (b: Buffer) => (b.length >= 8 ? b.readUInt32BE(4) : Number.NaN);

/** A tap and its own continuity per stream (it starts on a keyframe, survives mixer restarts). */
interface TapEntry {
  tap: MixTap;
  video: Map<string, ContinuousStream>;
  audio: ContinuousStream;
}

export class MixRouter<S extends RoutedSubscription = RoutedSubscription> {
  /** Rung → subscriptions watching it. */
  private video = new Map<string, S[]>();
  /** Rung → subscriptions switching to it at its next keyframe start. */
  private pending = new Map<string, S[]>();
  /** Audio stream → subscriptions hearing it. */
  private audio = new Map<AudioStreamKey, S[]>();
  private readonly taps = new Set<TapEntry>();
  private readonly held = new WeakMap<S, Held>();

  constructor(
    private readonly subscriptions: () => Iterable<S>,
    private readonly hooks: MixRouterHooks,
  ) {}

  /** Which of the mix's audio streams a subscription hears. */
  audioKeyOf(s: S): AudioStreamKey {
    if (s.participantId) {
      const slot = this.hooks.slotOf(s.participantId);
      if (slot >= 0) return minusStreamKey(slot);
    }
    return FULL_MIX_KEY;
  }

  /** Rebuilds the table from the subscriptions as they are now. */
  rebuild(): void {
    const video = new Map<string, S[]>();
    const pending = new Map<string, S[]>();
    const audio = new Map<AudioStreamKey, S[]>();
    const add = <K>(m: Map<K, S[]>, k: K, s: S) => {
      const list = m.get(k);
      if (list) list.push(s);
      else m.set(k, [s]);
    };
    for (const s of this.subscriptions()) {
      if (s.egress.video) {
        if (s.rung) add(video, s.rung, s);
        if (s.pendingRung) add(pending, s.pendingRung, s);
      }
      if (s.egress.audio) add(audio, this.audioKeyOf(s), s);
    }
    this.video = video;
    this.pending = pending;
    this.audio = audio;
  }

  /**
   * A packet of the mix (`epoch`: the mixer process it came from; `contentAt`: when its content
   * was mixed, which the subscribers' sender reports announce).
   */
  route(key: MixStreamKey, buf: Buffer, epoch: number, contentAt: number | null = null): void {
    const rung = rungOfStreamKey(key);
    if (rung !== null) return this.routeVideo(rung, buf, epoch, contentAt);
    const source = `${key}@${epoch}`;
    for (const s of this.audio.get(key as AudioStreamKey) ?? []) s.egress.audio!.forward(source, buf, contentAt);
    if (key === FULL_MIX_KEY && this.taps.size) {
      const now = performance.now();
      for (const t of this.taps) {
        const out = t.audio.next(`full@${epoch}`, buf, now);
        if (out) t.tap.audio(out);
      }
    }
  }

  private routeVideo(rung: string, buf: Buffer, epoch: number, contentAt: number | null): void {
    const switching = this.pending.get(rung);
    if (switching) {
      let switched = false;
      for (const s of switching) {
        // A rung switch happens on the new rung's keyframe, so the decoder never sees a gap.
        if (s.pendingRung !== rung || !s.egress.video!.isKeyframeStart(buf)) continue;
        s.rung = rung;
        s.pendingRung = null;
        // Its receiver reports described the old rung until now (the level was decided earlier,
        // the old rung kept flowing until this keyframe): judged on them, a subscriber that just
        // stepped down would keep stepping down.
        s.egress.video!.resetFeedback();
        switched = true;
      }
      if (switched) {
        this.rebuild();
        this.hooks.switched();
      }
    }
    const source = `${rung}@${epoch}`;
    for (const s of this.video.get(rung) ?? []) {
      const v = s.egress.video!;
      const held = this.held.get(s);
      if (!s.egress.connectedAt) {
        // Not before it can receive (werift drops it): held from a keyframe start on, sent once it connects.
        let h = held;
        if (!h || h.rung !== rung) {
          this.held.set(s, (h = { rung, packets: [] }));
          this.hooks.requestKeyframe(rung);
        }
        // A new keyframe restarts the run (an H.264 one starts twice: its SPS/PPS, then its IDR, one timestamp).
        if (v.isKeyframeStart(buf) && !(h.packets.length && rtpTimestamp(h.packets[0].buf) === rtpTimestamp(buf))) h.packets = [];
        // Too many: none (a gap would break the picture); the keyframe asked on 'connected' starts it.
        if (h.packets.length >= HELD_MAX_PACKETS) h.packets = [];
        else if (h.packets.length || v.isKeyframeStart(buf)) h.packets.push({ source, buf: Buffer.from(buf), contentAt });
        continue;
      }
      if (held) {
        this.held.delete(s);
        if (held.rung === rung) for (const h of held.packets) v.forward(h.source, h.buf, h.contentAt);
      }
      v.forward(source, buf, contentAt);
      if (v.needsKeyframe) this.hooks.requestKeyframe(rung);
    }
    if (this.taps.size) {
      const now = performance.now();
      for (const t of this.taps) {
        const stream = t.video.get(rung);
        if (!stream) continue;
        const out = stream.next(source, buf, now);
        if (out) t.tap.video(rung, out);
        else this.hooks.requestKeyframe(rung);
      }
    }
  }

  /** Starts feeding a tap with the mix; returns the function that stops it (true if it was fed). */
  addTap(tap: MixTap): () => boolean {
    const entry: TapEntry = {
      tap,
      video: new Map(tap.rungs.map((r) => [r, new ContinuousStream('video', r.endsWith('-h264') ? 'h264' : 'vp8')])),
      audio: new ContinuousStream('audio'),
    };
    this.taps.add(entry);
    return () => this.taps.delete(entry);
  }

  /** The rungs some tap takes. */
  tapRungs(): Set<string> {
    const ids = new Set<string>();
    for (const t of this.taps) for (const r of t.video.keys()) ids.add(r);
    return ids;
  }
}
