// A room: its membership (publishers, subscriptions), its settings, and the close cascade over
// everything it owns (mixer, sessions, broadcasts). Its parts do the rest: Negotiation answers
// offers, PublisherLink/SubscriberLink wire sessions in, Seats counts joins, RoomLayout places
// tiles, MixDelivery routes the mix and chooses rungs, RoomBroadcasts runs HLS/RTMP,
// RoomVoices follows the speakers and the voices' processing; options.ts gives its defaults.

import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { LayoutOut } from '../../pipeline/layout/layouts.ts';
import type { Level } from '../../pipeline/ladder.ts';
import { RoomMixer } from '../../workers/mixer/RoomMixer.ts';
import { logMixer } from '../../workers/mixer/logMixer.ts';
import { DEFAULT_ROOM_AUDIO } from '../../pipeline/audio/voice.ts';
import { notFound, roomClosed, roomFull } from '../../pipeline/errors.ts';
import { DEFAULT_ROOM_SETTINGS, type RoomSettings, type RoomSettingsPatch } from '../../pipeline/room/settings.ts';
import { HostGrants } from '../../pipeline/room/hostGrants.ts';
import { TrackForwarding } from '../rtc/TrackForwarder.ts';
import { RoomBroadcasts } from './RoomBroadcasts.ts';
import { Seats } from '../../pipeline/room/Seats.ts';
import type { MixSource, MixTap } from '../broadcast/MixSource.ts';
import type { AudioStreamKey } from '../../pipeline/mixer/streamKey.ts';
import { MixDelivery } from './MixDelivery.ts';
import { RoomLayout } from './RoomLayout.ts';
import { linkSubscriber } from './SubscriberLink.ts';
import { linkPublisher, type PublisherRoom } from './PublisherLink.ts';
import { negotiatePublisher, negotiateSubscriber, type NegotiationContext } from './Negotiation.ts';
import { describeRoom, participantVoice } from './describe.ts';
import type { Participant, RoomEvent, RoomEvents, Subscription } from './types.ts';
import { RoomVoices } from './RoomVoices.ts';
import { roomOptions, type RoomOptions } from './options.ts';
import { log as rootLog } from '../../workers/log.ts';

export * from '../../pipeline/room/settings.ts';
export type { Participant, RoomEvent, RoomEvents, Subscription } from './types.ts';
export type { RoomOptions } from './options.ts';

const log = rootLog.child({ component: 'room' });

export class Room extends EventEmitter<RoomEvents> implements MixSource {
  readonly participants = new Map<string, Participant>();
  readonly subscriptions = new Map<string, Subscription>();
  /** Webinar host grants: secret → who it was given to (a promoted viewer, or a named host). */
  private readonly hostGrants = new HostGrants();
  /** Where each packet of the mix goes (routing table), which rungs are encoded and each subscriber gets. */
  private readonly delivery = new MixDelivery(() => this.mixer, {
    subscriptions: () => this.subscriptions.values(),
    // While anyone is in the room: the last publisher leaving a watched room swaps no process.
    alwaysOnRungs: () => (this.participants.size > 0 || this.subscriptions.size > 0 ? this.alwaysOnRungs : []),
    publish: (e) => this.publish(e),
  });
  /** HLS and RTMP pushes, each fed by a tap on the mix (the routes start and stop them here). */
  readonly broadcasts = new RoomBroadcasts(this, (e) => this.publish(e), () => this._closed);
  readonly mixer: RoomMixer;
  readonly createdAt = Date.now();
  /** Rungs encoded while anyone publishes or watches, watched or not (MIX_ALWAYS_ON_RUNGS). */
  private readonly alwaysOnRungs: readonly string[];
  /** The layout, recomputed and applied on every change of members, shapes, speaker or settings. */
  private readonly tiles: RoomLayout;
  settings: RoomSettings;
  /** Who speaks, and each voice's processing and gain in the mix. */
  private readonly voices: RoomVoices;
  private readonly adaptTimer: NodeJS.Timeout;
  private _closed = false;
  private closing: Promise<void> | null = null;
  /** The room's limits, counting those joining. */
  private readonly seats: Seats;
  /** What each publisher's Ingest feeds and tells (see PublisherLink). */
  private readonly publisherRoom: PublisherRoom;
  /** What answering a WHIP or WHEP offer needs of the room. */
  private readonly negotiation: NegotiationContext;
  /** Individual tracks (WHEP ?tracks=N): publishers' own video forwarded to capable subscribers. */
  readonly tracks = new TrackForwarding({
    sources: () => [...this.participants.values()].sort((a, b) => a.joinedAt - b.joinedAt).map((p) => ({ id: p.id, name: p.name, ingest: p.ingest })),
    recentSpeakers: () => this.voices.recent(),
    publish: (e) => this.publish(e),
  });

  constructor(readonly name: string, options: Partial<RoomOptions> = {}) {
    super();
    // SSE streams listen here, one per open page; each removes its listener when it goes.
    this.setMaxListeners(0);
    const { iceServers, settings, mixerSettings, limits, stalledRemoveMs, connectTimeoutMs, subscriberSilentMs, network, alwaysOnRungs } = roomOptions(options);
    this.alwaysOnRungs = alwaysOnRungs;
    this.seats = new Seats(name, limits);
    this.negotiation = {
      room: name, iceServers, network, connectTimeoutMs, subscriberSilentMs,
      slotSize: mixerSettings.slotSize, sampleRate: mixerSettings.sampleRate, closed: () => this._closed,
    };
    this.publisherRoom = {
      pushVideo: (id, frame, contentAt) => this.mixer.pushVideo(id, frame, contentAt),
      pushAudio: (id, samples, rate, channels, contentAt) => this.mixer.pushAudio(id, samples, rate, channels, contentAt),
      level: (id, db, now) => this.voices.level(id, db, now),
      relayout: () => this.relayout(),
      remove: (id, reason) => this.removePublisher(id, reason),
      publish: (e) => this.publish(e),
      stalledRemoveMs,
    };
    this.settings = { ...DEFAULT_ROOM_SETTINGS, ...settings, audio: { ...DEFAULT_ROOM_AUDIO, ...settings.audio } };
    this.mixer = new RoomMixer(name, mixerSettings);
    this.tiles = new RoomLayout(this.settings.layout, mixerSettings.canvas, mixerSettings.slotSize, {
      setTiles: (tiles) => this.mixer.setLayout(tiles),
      publish: (e) => this.publish(e),
    });
    this.voices = new RoomVoices(this.mixer, {
      participants: () => this.participants.values(),
      audio: () => this.settings.audio,
      speakerChanged: (id) => {
        this.publish({ type: 'speaker-changed', participantId: id, name: this.participants.get(id)?.name ?? null });
        this.relayout();
      },
      ticked: () => this.tracks.update(),
    });
    this.adaptTimer = setInterval(() => {
      this.delivery.adapt();
      // Individual-track subscribers: each slot's simulcast layer from that subscriber's own feedback.
      this.tracks.adapt(performance.now());
    }, 1000);
    this.mixer.on('rtp', (key, buf, epoch, at) => this.delivery.route(key, buf, epoch, at));
    logMixer(this.mixer, name, log);
    this.mixer.on('level', (id, db) => this.participants.get(id)?.meter.processed.add(db, performance.now()));
    this.voices.apply();
  }

  get closed(): boolean {
    return this._closed;
  }

  start(): Promise<void> {
    return this.mixer.start();
  }

  /**
   * A publisher or subscriber is joining: the always-on rungs are encoded from now (held while
   * its offer is answered). Called before start(), the first process encodes them (no swap when
   * the member lands).
   */
  expectMember(ms = 10_000): void {
    if (this._closed) return;
    for (const rung of this.alwaysOnRungs) this.delivery.hold(rung, ms);
  }

  /** WHIP/WHEP negotiations in flight: a room is not idle while someone is joining it. */
  get joining(): number {
    return this.seats.joining;
  }

  /** Throws room_full when every publisher slot is taken, counting the publishers still negotiating. */
  checkPublisherSlot(): void {
    this.seats.checkPublisher(this.participants.size);
  }

  /** Throws room_full when every subscriber slot is taken, counting the subscribers still negotiating. */
  checkSubscriberSlot(): void {
    this.seats.checkSubscriber(this.subscriptions.size);
  }

  async addPublisher(offer: string, name: string, ownerTokenHash: string | null = null): Promise<{ participant: Participant; answer: string }> {
    this.assertOpen();
    this.checkPublisherSlot();
    return this.seats.publisher(() => this.joinPublisher(offer, name, ownerTokenHash));
  }

  private async joinPublisher(offer: string, name: string, ownerTokenHash: string | null): Promise<{ participant: Participant; answer: string }> {
    const { participant, answer } = await negotiatePublisher(this.negotiation, offer, name, ownerTokenHash);
    const { ingest } = participant;
    try {
      this.mixer.addParticipant(participant.id, participant.name);
    } catch (err) {
      void ingest.close();
      throw roomFull((err as Error).message);
    }
    this.voices.joined(participant);
    this.participants.set(participant.id, participant);
    this.tracks.addPublisher(participant.id, ingest);
    this.delivery.updateRungs();
    linkPublisher(participant, this.publisherRoom);
    log.info({ room: this.name, participant: participant.id, name, audio: participant.audio, video: participant.video }, 'participant joined');
    this.publish({ type: 'participant-joined', participantId: participant.id, name, audio: participant.audio, video: participant.video });
    this.relayout();
    return { participant, answer };
  }

  removePublisher(id: string, reason = 'ended by the client (DELETE)'): boolean {
    const p = this.participants.get(id);
    if (!p) return false;
    this.participants.delete(id);
    log.info({ room: this.name, participant: id, reason }, 'participant left');
    p.clearTimers?.();
    void p.ingest.close();
    this.mixer.removeParticipant(id);
    this.voices.left(id);
    if (this.settings.pinned === id) this.settings.pinned = null;
    // Their subscriptions keep playing, now with the full mix.
    for (const s of this.subscriptions.values()) if (s.participantId === id) s.participantId = null;
    this.delivery.rebuildRoutes();
    this.tracks.unlinkParticipant(id);
    this.publish({ type: 'participant-left', participantId: id, name: p.name });
    this.tracks.update();
    this.delivery.updateRungs();
    this.relayout();
    this.checkEmpty();
    return true;
  }

  async addSubscriber(
    offer: string,
    participantId: string | null,
    ownerTokenHash: string | null = null,
    opts: { level?: Level | null; tracks?: number | null; periodicKeyframes?: boolean } = {},
  ): Promise<{ subscription: Subscription; answer: string }> {
    this.assertOpen();
    this.checkSubscriberSlot();
    return this.seats.subscriber(() => this.joinSubscriber(offer, participantId, ownerTokenHash, opts));
  }

  private async joinSubscriber(
    offer: string,
    participantId: string | null,
    ownerTokenHash: string | null,
    opts: { level?: Level | null; tracks?: number | null; periodicKeyframes?: boolean },
  ): Promise<{ subscription: Subscription; answer: string }> {
    if (participantId !== null && !this.participants.has(participantId)) {
      throw notFound(`participant "${participantId}" is not in room "${this.name}"`);
    }
    const { subscription, answer, level } = await negotiateSubscriber(this.negotiation, offer, participantId, ownerTokenHash, opts);
    const { egress, codec } = subscription;
    this.subscriptions.set(subscription.id, subscription);
    this.delivery.rebuildRoutes();
    if (codec && egress.slots.length) this.tracks.addSubscriber(subscription.id, egress, codec, participantId);
    this.delivery.updateRungs();
    linkSubscriber(subscription, {
      requestKeyframe: (rung) => this.mixer.requestKeyframe(rung),
      remove: (id, reason) => void this.removeSubscriber(id, reason),
    });
    log.info({ room: this.name, subscription: subscription.id, participant: participantId, codec, level }, 'subscriber joined');
    this.publish({ type: 'subscription-started', subscriptionId: subscription.id, participantId });
    return { subscription, answer };
  }

  async removeSubscriber(id: string, reason = 'ended by the client (DELETE)'): Promise<boolean> {
    const s = this.subscriptions.get(id);
    if (!s) return false;
    this.subscriptions.delete(id);
    this.delivery.rebuildRoutes();
    this.tracks.removeSubscriber(id);
    log.info({ room: this.name, subscription: id, reason }, 'subscriber left');
    this.delivery.updateRungs();
    await s.egress.close();
    this.publish({ type: 'subscription-ended', subscriptionId: id });
    this.checkEmpty();
    return true;
  }

  /** Which of the mix's audio streams a subscription hears. */
  audioKeyOf(s: Subscription): AudioStreamKey {
    return this.delivery.audioKeyOf(s);
  }

  /** Starts feeding a tap with the mix; returns the function that stops it. */
  addTap(tap: MixTap): () => void {
    this.assertOpen();
    const remove = this.delivery.addTap(tap);
    return () => {
      if (remove() && !this._closed) this.delivery.updateRungs();
    };
  }

  /** Lets a viewer (or a named newcomer) publish in a webinar; returns the grant's secret.
   * A grant lasts no longer than the token that gave it (`expiresAt`, ms; null: no expiry). */
  grantHost(to: { subscriptionId: string | null; name: string | null }, expiresAt: number | null = null): string {
    this.assertOpen();
    const grant = randomUUID();
    this.hostGrants.add(grant, to, Date.now(), expiresAt);
    this.publish({ type: 'host-promoted', subscriptionId: to.subscriptionId, name: to.name });
    return grant;
  }

  hasHostGrant(grant: string): boolean {
    return this.hostGrants.has(grant, Date.now());
  }

  /** A subscriber of `rung` is on its way (a recording): encoded from now, not after its join's mixer swap; dropped after `ms` unwatched. */
  expectSubscriber(rung: string, ms = 15_000): void {
    if (!this._closed) this.delivery.hold(rung, ms);
  }

  /** Applies a settings patch (already validated by parseSettingsPatch). */
  updateSettings(patch: RoomSettingsPatch): RoomSettings {
    if (patch.pinned && !this.participants.has(patch.pinned)) {
      throw notFound(`participant "${patch.pinned}" is not in room "${this.name}"`);
    }
    this.settings = { ...this.settings, ...patch, audio: { ...this.settings.audio, ...patch.audio } };
    this.relayout();
    this.voices.apply();
    return this.settings;
  }

  /** Voice processing on (true) or untouched (false) for one participant; runtime commands only. */
  setParticipantProcessing(id: string, processing: boolean): Participant {
    const p = this.participants.get(id);
    if (!p) throw notFound(`participant "${id}" is not in room "${this.name}"`);
    p.processing = processing;
    this.voices.apply();
    return p;
  }

  get activeSpeaker(): string | null {
    return this.voices.current;
  }

  get layout(): LayoutOut {
    return this.tiles.current;
  }

  private relayout(): void {
    this.tiles.update(this.participants, this.settings, this.voices);
  }

  private publish(e: Omit<RoomEvent, 'at'>): void {
    this.emit('event', { ...e, at: new Date().toISOString() } as RoomEvent);
  }

  /** Nobody in it, nobody joining, nothing it serves (HLS, pushes): it may be closed. */
  get unused(): boolean {
    return this.participants.size === 0 && this.subscriptions.size === 0 && this.joining === 0 && this.broadcasts.idle;
  }

  private checkEmpty(): void {
    if (this.participants.size === 0 && this.subscriptions.size === 0) this.emit('empty');
  }

  private assertOpen(): void {
    if (this._closed) throw roomClosed(`room "${this.name}" is closing`);
  }

  /** A participant's voice processing and levels (GET /rooms/{room}, the dashboard). */
  voiceOf(p: Participant) {
    return participantVoice(this.settings.audio, p);
  }

  describe() {
    return describeRoom(this);
  }

  close(): Promise<void> {
    if (this.closing) return this.closing;
    this._closed = true;
    this.voices.close();
    clearInterval(this.adaptTimer);
    this.delivery.dispose();
    this.closing = (async () => {
      await this.broadcasts.close();
      await Promise.all([...this.participants.values()].map((p) => (p.clearTimers?.(), p.ingest.close())));
      this.participants.clear();
      await Promise.all([...this.subscriptions.values()].map((s) => s.egress.close()));
      this.subscriptions.clear();
      this.delivery.rebuildRoutes();
      await this.mixer.close();
      this.emit('closed');
      this.removeAllListeners();
    })();
    return this.closing;
  }
}
