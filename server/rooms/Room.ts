// A room: its publishers (ingest), its subscriptions (egress), its layout and its mixer.
// Closing a room closes everything it owns.

import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { gridLayout, type Layout } from '../../pipeline/layout/geometry.ts';
import { DEFAULT_MIXER_SETTINGS, type MixerSettings } from '../../pipeline/mixer/graph.ts';
import { checkPublishOffer, checkSubscribeOffer, SdpError } from '../../pipeline/sdp.ts';
import { RoomMixer } from '../../workers/mixer/RoomMixer.ts';
import { badRequest, HttpError, notFound, sdpProblem } from '../errors.ts';
import { Ingest } from '../rtc/Ingest.ts';
import { Egress } from '../rtc/Egress.ts';

export interface Participant {
  id: string;
  name: string;
  audio: boolean;
  video: boolean;
  joinedAt: number;
  ingest: Ingest;
}

export interface Subscription {
  id: string;
  /** The publisher this subscription belongs to (it hears that publisher's mix-minus). */
  participantId: string | null;
  createdAt: number;
  egress: Egress;
}

export interface RoomEvents {
  empty: [];
  closed: [];
}

export const ROOM_NAME = /^[A-Za-z0-9_-]{1,64}$/;

export class Room extends EventEmitter<RoomEvents> {
  readonly participants = new Map<string, Participant>();
  readonly subscriptions = new Map<string, Subscription>();
  readonly mixer: RoomMixer;
  readonly createdAt = Date.now();
  layout: Layout;
  private _closed = false;
  private closing: Promise<void> | null = null;
  private readonly settings: MixerSettings;

  constructor(
    readonly name: string,
    private readonly iceServers: any[] = [],
    settings: MixerSettings = DEFAULT_MIXER_SETTINGS,
  ) {
    super();
    this.settings = settings;
    this.mixer = new RoomMixer(name, settings);
    this.layout = gridLayout([], settings.canvas, settings.slotSize);
    this.mixer.on('rtp', (key, buf, epoch) => this.forward(key, buf, epoch));
    this.mixer.on('error', () => {});
  }

  get closed(): boolean {
    return this._closed;
  }

  start(): Promise<void> {
    return this.mixer.start();
  }

  async addPublisher(offer: string, name: string): Promise<{ participant: Participant; answer: string }> {
    this.assertOpen();
    let media: { audio: boolean; video: boolean };
    try {
      media = checkPublishOffer(offer);
    } catch (err) {
      throw err instanceof SdpError ? sdpProblem(err) : err;
    }
    const { ingest, answer } = await Ingest.answer(offer, this.iceServers).catch((err: Error) => {
      throw badRequest(`the SDP offer was rejected: ${err.message}`);
    });
    if (this._closed) {
      ingest.close();
      throw new HttpError(409, 'room_closed', `room "${this.name}" closed while joining`);
    }
    const participant: Participant = {
      id: randomUUID(),
      name,
      audio: media.audio,
      video: media.video,
      joinedAt: Date.now(),
      ingest,
    };
    try {
      this.mixer.addParticipant(participant.id, participant.name);
    } catch (err) {
      ingest.close();
      throw new HttpError(403, 'room_full', (err as Error).message);
    }
    this.participants.set(participant.id, participant);
    ingest.on('video', (frame) => this.mixer.pushVideo(participant.id, frame));
    ingest.on('audio', (samples, rate, channels) => this.mixer.pushAudio(participant.id, samples, rate, channels));
    ingest.on('gone', () => this.removePublisher(participant.id));
    this.relayout();
    return { participant, answer };
  }

  removePublisher(id: string): boolean {
    const p = this.participants.get(id);
    if (!p) return false;
    this.participants.delete(id);
    p.ingest.close();
    this.mixer.removeParticipant(id);
    // Their subscriptions keep playing, now with the full mix.
    for (const s of this.subscriptions.values()) if (s.participantId === id) s.participantId = null;
    this.relayout();
    this.checkEmpty();
    return true;
  }

  async addSubscriber(offer: string, participantId: string | null): Promise<{ subscription: Subscription; answer: string }> {
    this.assertOpen();
    if (participantId !== null && !this.participants.has(participantId)) {
      throw notFound(`participant "${participantId}" is not in room "${this.name}"`);
    }
    let wants: { audio: boolean; video: boolean };
    try {
      wants = checkSubscribeOffer(offer, ['VP8']);
    } catch (err) {
      throw err instanceof SdpError ? sdpProblem(err) : err;
    }
    const { egress, answer } = await Egress.answer(offer, wants, this.iceServers).catch((err: Error) => {
      throw badRequest(`the SDP offer was rejected: ${err.message}`);
    });
    if (this._closed) {
      await egress.close();
      throw new HttpError(409, 'room_closed', `room "${this.name}" closed while subscribing`);
    }
    const subscription: Subscription = { id: randomUUID(), participantId, createdAt: Date.now(), egress };
    this.subscriptions.set(subscription.id, subscription);
    egress.on('keyframeRequest', () => this.mixer.requestKeyframe());
    egress.on('gone', () => void this.removeSubscriber(subscription.id));
    // A new subscriber needs a keyframe to start decoding.
    this.mixer.requestKeyframe();
    return { subscription, answer };
  }

  async removeSubscriber(id: string): Promise<boolean> {
    const s = this.subscriptions.get(id);
    if (!s) return false;
    this.subscriptions.delete(id);
    await s.egress.close();
    this.checkEmpty();
    return true;
  }

  /** Which of the mix's audio streams a subscription hears. */
  private audioKey(s: Subscription): string {
    if (s.participantId) {
      const slot = this.mixer.slotOf(s.participantId);
      if (slot >= 0) return `minus:${slot}`;
    }
    return 'full';
  }

  private forward(key: string, buf: Buffer, epoch: number): void {
    if (key === 'video') {
      let needKey = false;
      for (const s of this.subscriptions.values()) {
        if (!s.egress.video) continue;
        s.egress.video.forward(`video@${epoch}`, buf);
        if (s.egress.video.needsKeyframe) needKey = true;
      }
      if (needKey) this.mixer.requestKeyframe();
      return;
    }
    for (const s of this.subscriptions.values()) {
      if (s.egress.audio && this.audioKey(s) === key) s.egress.audio.forward(`${key}@${epoch}`, buf);
    }
  }

  private relayout(): void {
    const ids = [...this.participants.values()].sort((a, b) => a.joinedAt - b.joinedAt).map((p) => p.id);
    this.layout = gridLayout(ids, this.settings.canvas, this.settings.slotSize);
    this.mixer.setLayout(new Map(this.layout.tiles.map((t) => [t.participantId, t.video])));
  }

  private checkEmpty(): void {
    if (this.participants.size === 0 && this.subscriptions.size === 0) this.emit('empty');
  }

  private assertOpen(): void {
    if (this._closed) throw new HttpError(409, 'room_closed', `room "${this.name}" is closing`);
  }

  describe() {
    const stats = this.mixer.stats;
    return {
      name: this.name,
      createdAt: new Date(this.createdAt).toISOString(),
      participants: [...this.participants.values()].map((p) => ({
        id: p.id,
        name: p.name,
        audio: p.audio,
        video: p.video,
        joinedAt: new Date(p.joinedAt).toISOString(),
        slot: this.mixer.slotOf(p.id),
        videoSize: p.ingest.videoSize,
        framesIn: p.ingest.framesIn,
      })),
      subscriptions: [...this.subscriptions.values()].map((s) => ({
        id: s.id,
        participantId: s.participantId,
        audio: s.egress.audio ? (this.audioKey(s) === 'full' ? 'full-mix' : 'mix-minus') : null,
        video: s.egress.video ? 'composite' : null,
        createdAt: new Date(s.createdAt).toISOString(),
        videoPackets: s.egress.video?.packets ?? 0,
        audioPackets: s.egress.audio?.packets ?? 0,
      })),
      layout: {
        kind: this.layout.kind,
        canvas: this.layout.canvas,
        tiles: this.layout.tiles.map((t) => ({ participantId: t.participantId, cell: t.cell, video: t.video })),
      },
      mixer: {
        pid: this.mixer.pid ?? null,
        epoch: stats.epoch,
        capacity: stats.capacity,
        restarts: stats.restarts,
        ticks: stats.ticks,
        skippedTicks: stats.skippedTicks,
        keyframesForced: stats.keyframesForced,
      },
    };
  }

  close(): Promise<void> {
    if (this.closing) return this.closing;
    this._closed = true;
    this.closing = (async () => {
      for (const p of this.participants.values()) p.ingest.close();
      this.participants.clear();
      await Promise.all([...this.subscriptions.values()].map((s) => s.egress.close()));
      this.subscriptions.clear();
      await this.mixer.close();
      this.emit('closed');
      this.removeAllListeners();
    })();
    return this.closing;
  }
}
