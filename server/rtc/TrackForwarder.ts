// Individual tracks for capable subscribers (WHEP ?tracks=N): each of a subscriber's N video
// slots carries one publisher's own video RTP, forwarded as it arrives — no decode, no encode.
// The slot's ForwardedTrack keeps one SSRC with continuous sequence numbers and timestamps
// across speaker changes and starts each new publisher on a keyframe (ContinuousStream); the
// subscriber's sender writes the payload type it negotiated. Which publisher is in which slot
// is pipeline/forward/slots.ts (the N most recent speakers, stable slots); every change is
// published as a `tracks-changed` room event, and the new publisher is asked for a keyframe.
// Only publishers whose codec is the one the subscriber negotiated are forwarded to it. Of a
// simulcast publisher, each slot forwards the layer its subscriber's own feedback allows: the
// largest live one, stepped down by the slot's RungAdapter on loss or RTT (the same rule as
// the mix's rungs), up again when the network has been good for a while; a change of layer
// starts on the new layer's keyframe (the layer is part of the slot's source key).

import type { Egress, ForwardedTrack } from './Egress.ts';
import type { ForwardablePacket, Ingest } from './Ingest.ts';
import { assignSlots, changedSlots, rankForSlots, type SlotAssignment } from '../../pipeline/forward/slots.ts';
import { LEVELS, RungAdapter } from '../../pipeline/ladder.ts';
import { layerAtRank } from '../../pipeline/simulcast.ts';

export interface TrackSource {
  id: string;
  name: string;
  ingest: Ingest;
}

interface TrackSubscriber {
  id: string;
  egress: Egress;
  codec: 'vp8' | 'h264';
  /** Its own publisher (not shown to itself), or null. */
  participantId: string | null;
  slots: SlotAssignment;
  /** Bumped on each change of a slot: the forwarded stream's source key, so a publisher that
   * comes back to a slot starts again on a keyframe with fresh continuity. */
  generations: number[];
  /** Per slot: the subscriber's feedback on it decides how far below the top layer it forwards. */
  adapters: RungAdapter[];
  /** Per slot: the simulcast layer forwarded (null: the occupant sends one stream, or none known yet). */
  layers: Array<string | null>;
}

export interface TrackForwardingHooks {
  /** Publishers in join order. */
  sources(): TrackSource[];
  /** Participant ids, most recent speaker first. */
  recentSpeakers(): string[];
  publish(event: { type: 'tracks-changed'; [key: string]: unknown }): void;
}

/** The RTP packet a slot forwards: the publisher's payload under a plain 12-byte header. */
function packetOf(p: ForwardablePacket): Buffer {
  const buf = Buffer.allocUnsafe(12 + p.payload.length);
  buf[0] = 0x80;
  buf[1] = (p.marker ? 0x80 : 0) | 96; // the sender rewrites the payload type and the SSRC
  buf.writeUInt16BE(p.sequenceNumber & 0xffff, 2);
  buf.writeUInt32BE(p.timestamp >>> 0, 4);
  buf.writeUInt32BE(0, 8);
  p.payload.copy(buf, 12);
  return buf;
}

export class TrackForwarding {
  private readonly subscribers = new Map<string, TrackSubscriber>();
  private readonly hooked = new WeakSet<Ingest>();
  packetsForwarded = 0;
  slotSwitches = 0;

  constructor(private readonly hooks: TrackForwardingHooks) {}

  get size(): number {
    return this.subscribers.size;
  }

  /** Starts taking a publisher's video packets (forwarded only while it is in someone's slot). */
  addPublisher(id: string, ingest: Ingest): void {
    if (this.hooked.has(ingest)) return;
    this.hooked.add(ingest);
    ingest.on('videoRtp', (p) => this.onPacket(id, ingest, p));
  }

  addSubscriber(id: string, egress: Egress, codec: 'vp8' | 'h264', participantId: string | null): void {
    const sub: TrackSubscriber = {
      id,
      egress,
      codec,
      participantId,
      slots: egress.slots.map(() => null),
      generations: egress.slots.map(() => 0),
      adapters: egress.slots.map(() => new RungAdapter()),
      layers: egress.slots.map(() => null),
    };
    this.subscribers.set(id, sub);
    egress.on('slotKeyframeRequest', (slot) => {
      const pid = sub.slots[slot];
      const ingest = pid ? this.sourceOf(pid)?.ingest : undefined;
      const layer = ingest ? this.layerOf(sub, slot, ingest) : null;
      ingest?.requestKeyframe('tracks subscriber PLI', layer !== null ? ingest.video?.streams.get(layer)?.ssrc : undefined);
    });
    this.update();
  }

  removeSubscriber(id: string): void {
    this.subscribers.delete(id);
  }

  /** The subscriber linked to a participant that left hears the full mix, and sees everyone. */
  unlinkParticipant(id: string): void {
    for (const s of this.subscribers.values()) if (s.participantId === id) s.participantId = null;
  }

  /** Re-evaluates every subscriber's slots (speaker changes, joins, leaves); cheap when nothing changed. */
  update(): void {
    if (!this.subscribers.size) return;
    const sources = this.hooks.sources();
    const joinOrder = sources.map((s) => s.id);
    const byId = new Map(sources.map((s) => [s.id, s]));
    const recent = this.hooks.recentSpeakers();
    for (const sub of this.subscribers.values()) {
      const eligible = (pid: string) => pid !== sub.participantId && byId.get(pid)?.ingest.plan.video?.codec === sub.codec;
      const next = assignSlots(sub.slots, rankForSlots(recent, joinOrder, eligible));
      const changed = changedSlots(sub.slots, next);
      if (!changed.length) continue;
      sub.slots = next;
      this.slotSwitches += changed.length;
      for (const i of changed) {
        sub.generations[i]++;
        sub.adapters[i] = new RungAdapter();
        sub.layers[i] = null;
        sub.egress.slots[i]?.resetFeedback();
        const pid = next[i];
        if (pid) byId.get(pid)?.ingest.requestKeyframe('tracks slot switch');
      }
      this.hooks.publish({ type: 'tracks-changed', subscriptionId: sub.id, changed, slots: this.slotsOf(sub, byId) });
    }
  }

  /** Once a second (Room): each slot's subscriber feedback steps its simulcast layer down or up. */
  adapt(now = performance.now()): void {
    if (!this.subscribers.size) return;
    const byId = new Map(this.hooks.sources().map((s) => [s.id, s]));
    for (const sub of this.subscribers.values()) {
      const layerChanged: number[] = [];
      sub.slots.forEach((pid, i) => {
        const video = pid ? byId.get(pid)?.ingest.video : null;
        const track = sub.egress.slots[i];
        if (!video?.switcher || !track?.firstPacketAt) return;
        if (sub.adapters[i].update({ atMs: now, ...track.feedback() })) track.resetFeedback();
        const layer = layerAtRank(video.layers(now), LEVELS.indexOf(sub.adapters[i].level));
        if (layer !== sub.layers[i]) layerChanged.push(i);
        sub.layers[i] = layer;
      });
      // Same occupants, another layer: the event says which slots (`changed` stays empty).
      if (layerChanged.length) this.hooks.publish({ type: 'tracks-changed', subscriptionId: sub.id, changed: [], layerChanged, slots: this.slotsOf(sub, byId) });
    }
  }

  /** A subscriber's slots as GET /rooms/{room} and the SSE event show them. */
  describe(subscriptionId: string): Array<{ slot: number; mid: string; participantId: string | null; name: string | null; packets: number }> | null {
    const sub = this.subscribers.get(subscriptionId);
    if (!sub) return null;
    return this.slotsOf(sub, new Map(this.hooks.sources().map((s) => [s.id, s])));
  }

  private slotsOf(sub: TrackSubscriber, byId: Map<string, TrackSource>) {
    return sub.slots.map((pid, slot) => ({
      slot,
      mid: sub.egress.slotMids[slot] ?? String(slot),
      participantId: pid,
      name: pid ? (byId.get(pid)?.name ?? null) : null,
      packets: sub.egress.slots[slot]?.packets ?? 0,
      layer: pid ? this.layerOf(sub, slot, byId.get(pid)?.ingest) : null,
    }));
  }

  /** The layer slot `i` forwards of a simulcast publisher (its adapter's, else the largest live one). */
  private layerOf(sub: TrackSubscriber, i: number, ingest: Ingest | undefined): string | null {
    return sub.layers[i] ?? ingest?.video?.forwardedLayer ?? null;
  }

  private sourceOf(id: string): TrackSource | undefined {
    return this.hooks.sources().find((s) => s.id === id);
  }

  private onPacket(id: string, ingest: Ingest, p: ForwardablePacket): void {
    let buf: Buffer | null = null;
    for (const sub of this.subscribers.values()) {
      for (let i = 0; i < sub.slots.length; i++) {
        if (sub.slots[i] !== id) continue;
        // A simulcast publisher: the slot's layer only (a new layer starts on its keyframe: the source key changes).
        if (p.rid !== null && p.rid !== this.layerOf(sub, i, ingest)) continue;
        const track: ForwardedTrack | undefined = sub.egress.slots[i];
        // Nothing before DTLS is up (werift would drop it, and the slot's keyframe with it).
        if (!track || sub.egress.closed || !sub.egress.connectedAt) continue;
        buf ??= packetOf(p);
        if (track.forward(`${id}#${p.rid ?? ''}#${sub.generations[i]}`, buf)) this.packetsForwarded++;
        // Still waiting for this publisher's first keyframe in the slot: ask (rate-limited by the ingest).
        else if (track.needsKeyframe) ingest.requestKeyframe('tracks slot waits for a keyframe', p.rid !== null ? ingest.video?.streams.get(p.rid)?.ssrc : undefined);
      }
    }
  }
}
