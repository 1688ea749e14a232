// A room: its publishers (ingest), its subscriptions (egress), its layout and its mixer.
// Closing a room closes everything it owns.

import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { computeLayout, FIT_MODES, LAYOUT_KINDS, type FitMode, type LayoutKind, type LayoutOut } from '../../pipeline/layout/layouts.ts';
import { ActiveSpeakerDetector, levelDbfs } from '../../pipeline/audio/ActiveSpeaker.ts';
import { RungAdapter, rungFor, type Codec, type Feedback, type Level } from '../../pipeline/ladder.ts';
import { DEFAULT_MIXER_SETTINGS, type MixerSettings } from '../../pipeline/mixer/graph.ts';
import { checkPublishOffer, checkSubscribeOffer, SdpError } from '../../pipeline/sdp.ts';
import { ContinuousStream } from '../../pipeline/rtp/Continuity.ts';
import { RoomMixer } from '../../workers/mixer/RoomMixer.ts';
import { badRequest, HttpError, notFound, sdpProblem } from '../errors.ts';
import { Ingest } from '../rtc/Ingest.ts';
import { Egress } from '../rtc/Egress.ts';
import { HlsPackager, type HlsOptions } from '../broadcast/HlsPackager.ts';
import { RtmpPush } from '../broadcast/RtmpPush.ts';

export interface Participant {
  id: string;
  name: string;
  audio: boolean;
  video: boolean;
  joinedAt: number;
  ingest: Ingest;
  /** Hash of the token that created the session (null in open mode). */
  ownerTokenHash: string | null;
}

export interface Subscription {
  id: string;
  /** Video codec negotiated ('vp8' | 'h264'), null when the subscriber takes no video. */
  codec: Codec | null;
  /** The rung forwarded now (null: audio only), and one being switched to at its next keyframe. */
  rung: string | null;
  pendingRung: string | null;
  adapter: RungAdapter;
  /** A level the subscriber asked for (?level=): no adaptation. */
  pinnedLevel: Level | null;
  lastFeedback: Feedback | null;
  /** The publisher this subscription belongs to (it hears that publisher's mix-minus). */
  participantId: string | null;
  createdAt: number;
  egress: Egress;
  ownerTokenHash: string | null;
}

export const ROOM_MODES = ['conference', 'webinar'] as const;
export type RoomMode = (typeof ROOM_MODES)[number];

export interface RoomSettings {
  /** conference: everyone may publish; webinar: only hosts are mixed, everyone else watches. */
  mode: RoomMode;
  layout: LayoutKind;
  fit: FitMode;
  /** The participant shown large in the presentation layout (and preferred in speaker). */
  pinned: string | null;
}

export const DEFAULT_ROOM_SETTINGS: RoomSettings = { mode: 'conference', layout: 'grid', fit: 'fit', pinned: null };

/** Something inside the server that takes the mix as RTP (HLS packager, RTMP push). */
export interface MixTap {
  /** Video rungs it takes, e.g. ['720p-h264', '360p-h264']. */
  rungs: string[];
  /** A packet of `rung`, continuous across mixer restarts and starting on a keyframe. */
  video(rung: string, packet: Buffer): void;
  /** A packet of the full audio mix. */
  audio(packet: Buffer): void;
}

interface TapEntry {
  tap: MixTap;
  video: Map<string, ContinuousStream>;
  audio: ContinuousStream;
}

/** What happens in a room, as published on GET /rooms/{room}/events. */
export interface RoomEvent {
  type:
    | 'participant-joined'
    | 'participant-left'
    | 'layout-changed'
    | 'speaker-changed'
    | 'subscription-started'
    | 'subscription-ended'
    | 'subscription-rung-changed'
    | 'host-promoted'
    | 'stream-started'
    | 'stream-stopped';
  at: string;
  [key: string]: unknown;
}

export interface RoomEvents {
  empty: [];
  closed: [];
  event: [RoomEvent];
}

/** Validates a settings patch (PUT/PATCH bodies); returns a message for the first problem. */
export function parseSettingsPatch(body: unknown): Partial<RoomSettings> | string {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return 'the body must be a JSON object';
  const b = body as Record<string, unknown>;
  const out: Partial<RoomSettings> = {};
  for (const key of Object.keys(b)) {
    if (!['mode', 'layout', 'fit', 'pinned'].includes(key)) return `unknown setting "${key}" (known: mode, layout, fit, pinned)`;
  }
  if (b.mode !== undefined) {
    if (!ROOM_MODES.includes(b.mode as RoomMode)) return `"mode" must be one of ${ROOM_MODES.join(', ')}`;
    out.mode = b.mode as RoomMode;
  }
  if (b.layout !== undefined) {
    if (!LAYOUT_KINDS.includes(b.layout as LayoutKind)) return `"layout" must be one of ${LAYOUT_KINDS.join(', ')}`;
    out.layout = b.layout as LayoutKind;
  }
  if (b.fit !== undefined) {
    if (!FIT_MODES.includes(b.fit as FitMode)) return `"fit" must be one of ${FIT_MODES.join(', ')}`;
    out.fit = b.fit as FitMode;
  }
  if (b.pinned !== undefined) {
    if (b.pinned !== null && typeof b.pinned !== 'string') return '"pinned" must be a participant id or null';
    out.pinned = b.pinned as string | null;
  }
  return out;
}

export const ROOM_NAME = /^[A-Za-z0-9_-]{1,64}$/;

export class Room extends EventEmitter<RoomEvents> {
  readonly participants = new Map<string, Participant>();
  readonly subscriptions = new Map<string, Subscription>();
  /** Webinar host grants: secret → who it was given to (a promoted viewer, or a named host). */
  readonly hostGrants = new Map<string, { subscriptionId: string | null; name: string | null; createdAt: number }>();
  private readonly taps = new Set<TapEntry>();
  /** HLS, while someone watches it; RTMP pushes by id. */
  hls: HlsPackager | null = null;
  private hlsStarting: Promise<HlsPackager> | null = null;
  readonly streams = new Map<string, RtmpPush>();
  readonly mixer: RoomMixer;
  readonly createdAt = Date.now();
  layout: LayoutOut;
  settings: RoomSettings;
  private readonly speakers = new ActiveSpeakerDetector();
  private readonly speakerTimer: NodeJS.Timeout;
  private readonly adaptTimer: NodeJS.Timeout;
  private _closed = false;
  private closing: Promise<void> | null = null;
  private readonly mixerSettings: MixerSettings;

  constructor(
    readonly name: string,
    private readonly iceServers: () => any[] = () => [],
    settings: Partial<RoomSettings> = {},
    mixerSettings: MixerSettings = DEFAULT_MIXER_SETTINGS,
    private readonly limits = { maxParticipants: 16, maxSubscribers: 500 },
  ) {
    super();
    this.setMaxListeners(100);
    this.mixerSettings = mixerSettings;
    this.settings = { ...DEFAULT_ROOM_SETTINGS, ...settings };
    this.mixer = new RoomMixer(name, mixerSettings);
    this.layout = { kind: this.settings.layout, canvas: mixerSettings.canvas, tiles: [] };
    this.speakerTimer = setInterval(() => {
      const now = performance.now();
      const switched = this.speakers.tick(now);
      if (switched) {
        this.publish({ type: 'speaker-changed', participantId: switched, name: this.participants.get(switched)?.name ?? null });
        this.relayout();
      }
    }, 100);
    this.adaptTimer = setInterval(() => this.adapt(), 1000);
    this.mixer.on('rtp', (key, buf, epoch) => this.forward(key, buf, epoch));
    this.mixer.on('error', () => {});
  }

  get closed(): boolean {
    return this._closed;
  }

  start(): Promise<void> {
    return this.mixer.start();
  }

  async addPublisher(offer: string, name: string, ownerTokenHash: string | null = null): Promise<{ participant: Participant; answer: string }> {
    this.assertOpen();
    if (this.participants.size >= this.limits.maxParticipants) {
      throw new HttpError(403, 'room_full', `room "${this.name}" already has its maximum of ${this.limits.maxParticipants} participants`);
    }
    let media: { audio: boolean; video: boolean };
    try {
      media = checkPublishOffer(offer);
    } catch (err) {
      throw err instanceof SdpError ? sdpProblem(err) : err;
    }
    const { ingest, answer } = await Ingest.answer(offer, this.iceServers()).catch((err: Error) => {
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
      ownerTokenHash,
    };
    try {
      this.mixer.addParticipant(participant.id, participant.name);
    } catch (err) {
      ingest.close();
      throw new HttpError(403, 'room_full', (err as Error).message);
    }
    this.participants.set(participant.id, participant);
    ingest.on('video', (frame) => this.mixer.pushVideo(participant.id, frame));
    ingest.on('audio', (samples, rate, channels) => {
      this.mixer.pushAudio(participant.id, samples, rate, channels);
      this.speakers.update(participant.id, levelDbfs(samples), performance.now());
    });
    ingest.on('gone', () => this.removePublisher(participant.id));
    this.publish({ type: 'participant-joined', participantId: participant.id, name, audio: media.audio, video: media.video });
    this.relayout();
    return { participant, answer };
  }

  removePublisher(id: string): boolean {
    const p = this.participants.get(id);
    if (!p) return false;
    this.participants.delete(id);
    p.ingest.close();
    this.mixer.removeParticipant(id);
    this.speakers.remove(id);
    if (this.settings.pinned === id) this.settings.pinned = null;
    // Their subscriptions keep playing, now with the full mix.
    for (const s of this.subscriptions.values()) if (s.participantId === id) s.participantId = null;
    this.publish({ type: 'participant-left', participantId: id, name: p.name });
    this.relayout();
    this.checkEmpty();
    return true;
  }

  async addSubscriber(
    offer: string,
    participantId: string | null,
    ownerTokenHash: string | null = null,
    opts: { level?: Level | null } = {},
  ): Promise<{ subscription: Subscription; answer: string }> {
    this.assertOpen();
    if (this.subscriptions.size >= this.limits.maxSubscribers) {
      throw new HttpError(403, 'room_full', `room "${this.name}" already has its maximum of ${this.limits.maxSubscribers} subscribers`);
    }
    if (participantId !== null && !this.participants.has(participantId)) {
      throw notFound(`participant "${participantId}" is not in room "${this.name}"`);
    }
    let wants: { audio: boolean; video: boolean; videoCodec: string | null };
    try {
      wants = checkSubscribeOffer(offer, ['VP8', 'H264']);
    } catch (err) {
      throw err instanceof SdpError ? sdpProblem(err) : err;
    }
    const { egress, answer } = await Egress.answer(offer, wants, this.iceServers()).catch((err: Error) => {
      throw badRequest(`the SDP offer was rejected: ${err.message}`);
    });
    if (this._closed) {
      await egress.close();
      throw new HttpError(409, 'room_closed', `room "${this.name}" closed while subscribing`);
    }
    const codec: Codec | null = wants.video ? (wants.videoCodec === 'H264' ? 'h264' : 'vp8') : null;
    const pinnedLevel = opts.level ?? null;
    const level: Level = codec ? (pinnedLevel ?? '720p') : 'audio';
    const subscription: Subscription = {
      id: randomUUID(),
      participantId,
      createdAt: Date.now(),
      egress,
      ownerTokenHash,
      codec,
      rung: codec ? (rungFor(level, codec)?.id ?? null) : null,
      pendingRung: null,
      adapter: new RungAdapter(level),
      pinnedLevel,
      lastFeedback: null,
    };
    this.subscriptions.set(subscription.id, subscription);
    this.updateRungs();
    // PLI/FIR: a keyframe on the rung this subscriber watches (rate-limited per rung).
    egress.on('keyframeRequest', () => {
      if (subscription.rung) this.mixer.requestKeyframe(subscription.rung);
    });
    egress.on('gone', () => void this.removeSubscriber(subscription.id));
    // A new subscriber needs a keyframe to start decoding.
    if (subscription.rung) this.mixer.requestKeyframe(subscription.rung);
    this.publish({ type: 'subscription-started', subscriptionId: subscription.id, participantId });
    return { subscription, answer };
  }

  async removeSubscriber(id: string): Promise<boolean> {
    const s = this.subscriptions.get(id);
    if (!s) return false;
    this.subscriptions.delete(id);
    this.updateRungs();
    await s.egress.close();
    this.publish({ type: 'subscription-ended', subscriptionId: id });
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
    if (key.startsWith('video:')) {
      const rung = key.slice(6);
      for (const s of this.subscriptions.values()) {
        const v = s.egress.video;
        if (!v) continue;
        // A rung switch happens on the new rung's keyframe, so the decoder never sees a gap.
        if (s.pendingRung === rung && v.isKeyframeStart(buf)) {
          s.rung = rung;
          s.pendingRung = null;
          this.updateRungs();
        }
        if (s.rung !== rung) continue;
        v.forward(`${rung}@${epoch}`, buf);
        if (v.needsKeyframe) this.mixer.requestKeyframe(rung);
      }
      if (this.taps.size) {
        const now = performance.now();
        for (const t of this.taps) {
          const stream = t.video.get(rung);
          if (!stream) continue;
          const out = stream.next(`${rung}@${epoch}`, buf, now);
          if (out) t.tap.video(rung, out);
          else this.mixer.requestKeyframe(rung);
        }
      }
      return;
    }
    for (const s of this.subscriptions.values()) {
      if (s.egress.audio && this.audioKey(s) === key) s.egress.audio.forward(`${key}@${epoch}`, buf);
    }
    if (key === 'full' && this.taps.size) {
      const now = performance.now();
      for (const t of this.taps) {
        const out = t.audio.next(`full@${epoch}`, buf, now);
        if (out) t.tap.audio(out);
      }
    }
  }

  /** Starts feeding a tap with the mix; returns the function that stops it. */
  addTap(tap: MixTap): () => void {
    this.assertOpen();
    const entry: TapEntry = {
      tap,
      video: new Map(tap.rungs.map((r) => [r, new ContinuousStream('video', r.endsWith('-h264') ? 'h264' : 'vp8')])),
      audio: new ContinuousStream('audio'),
    };
    this.taps.add(entry);
    this.updateRungs();
    for (const r of tap.rungs) this.mixer.requestKeyframe(r);
    return () => {
      if (!this.taps.delete(entry)) return;
      if (!this._closed) this.updateRungs();
    };
  }

  /** The room's HLS packager, started on first use (concurrent callers share one start). */
  async hlsPackager(opts: HlsOptions): Promise<HlsPackager> {
    this.assertOpen();
    if (this.hls?.running) return this.hls;
    if (!this.hlsStarting) {
      this.hlsStarting = (async () => {
        await this.stopHls();
        const p = await HlsPackager.start(this, opts, () => void this.stopHls(p));
        if (this._closed) {
          await p.close();
          throw new HttpError(409, 'room_closed', `room "${this.name}" closed`);
        }
        this.hls = p;
        return p;
      })().finally(() => (this.hlsStarting = null));
    }
    return this.hlsStarting;
  }

  /** Stops HLS (unwatched, failed, or the room closing). */
  async stopHls(which: HlsPackager | null = this.hls): Promise<void> {
    if (!which) return;
    if (this.hls === which) this.hls = null;
    await which.close();
  }

  startStream(url: string): RtmpPush {
    this.assertOpen();
    const push = new RtmpPush(this, url);
    this.streams.set(push.id, push);
    this.publish({ type: 'stream-started', streamId: push.id });
    return push;
  }

  async stopStream(id: string): Promise<boolean> {
    const push = this.streams.get(id);
    if (!push) return false;
    this.streams.delete(id);
    await push.close();
    this.publish({ type: 'stream-stopped', streamId: id });
    return true;
  }

  /** Encodes exactly the rungs someone watches or is switching to. */
  private updateRungs(): void {
    const ids = new Set<string>();
    for (const s of this.subscriptions.values()) {
      if (s.rung) ids.add(s.rung);
      if (s.pendingRung) ids.add(s.pendingRung);
    }
    for (const t of this.taps) for (const r of t.video.keys()) ids.add(r);
    this.mixer.setRungs(ids);
  }

  /** Once a second: each subscriber's own RTCP feedback decides its level. */
  private adapt(): void {
    const now = performance.now();
    for (const s of this.subscriptions.values()) {
      const v = s.egress.video;
      if (!v || !s.codec || !v.firstPacketAt || s.pinnedLevel) continue;
      const fb: Feedback = { atMs: now, ...v.feedback() };
      s.lastFeedback = fb;
      const level = s.adapter.update(fb);
      if (level) this.switchLevel(s, level);
    }
  }

  private switchLevel(s: Subscription, level: Level): void {
    const target = rungFor(level, s.codec ?? 'vp8');
    s.egress.video?.resetFeedback();
    if (!target) {
      // Audio only: stop video now; nothing to wait for.
      s.rung = null;
      s.pendingRung = null;
    } else if (target.id !== s.rung) {
      s.pendingRung = target.id;
      this.mixer.requestKeyframe(target.id);
    } else {
      s.pendingRung = null;
    }
    this.updateRungs();
    this.publish({ type: 'subscription-rung-changed', subscriptionId: s.id, level, rung: target?.id ?? null });
  }

  /** Applies a settings patch (already validated by parseSettingsPatch). */
  updateSettings(patch: Partial<RoomSettings>): RoomSettings {
    if (patch.pinned && !this.participants.has(patch.pinned)) {
      throw notFound(`participant "${patch.pinned}" is not in room "${this.name}"`);
    }
    this.settings = { ...this.settings, ...patch };
    this.relayout();
    return this.settings;
  }

  get activeSpeaker(): string | null {
    return this.speakers.current;
  }

  private relayout(): void {
    const before = JSON.stringify(this.layout);
    const ids = [...this.participants.values()].sort((a, b) => a.joinedAt - b.joinedAt).map((p) => p.id);
    this.layout = computeLayout({
      kind: this.settings.layout,
      fit: this.settings.fit,
      canvas: this.mixerSettings.canvas,
      source: this.mixerSettings.slotSize,
      participants: ids,
      recentSpeakers: this.speakers.recent(),
      activeSpeaker: this.speakers.current,
      pinned: this.settings.pinned,
    });
    this.mixer.setLayout(new Map(this.layout.tiles.map((t) => [t.participantId, { rect: t.video, crop: t.crop }])));
    if (JSON.stringify(this.layout) !== before) {
      this.publish({ type: 'layout-changed', layout: this.layout.kind, fit: this.settings.fit, pinned: this.settings.pinned, tiles: this.layout.tiles });
    }
  }

  private publish(e: Omit<RoomEvent, 'at'>): void {
    this.emit('event', { ...e, at: new Date().toISOString() } as RoomEvent);
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
      mode: this.settings.mode,
      createdAt: new Date(this.createdAt).toISOString(),
      /** Subscribers not linked to a publisher: a webinar's audience over WebRTC. */
      viewers: [...this.subscriptions.values()].filter((s) => !s.participantId).length,
      hls: this.hls?.describe() ?? null,
      streams: [...this.streams.values()].map((p) => p.describe()),
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
        codec: s.codec,
        level: s.adapter.level,
        pinnedLevel: s.pinnedLevel,
        rung: s.rung,
        pendingRung: s.pendingRung,
        feedback: s.lastFeedback
          ? { lossPercent: s.lastFeedback.lossPercent, rttMs: s.lastFeedback.rttMs, estimateKbps: s.lastFeedback.estimateKbps }
          : null,
        createdAt: new Date(s.createdAt).toISOString(),
        videoPackets: s.egress.video?.packets ?? 0,
        audioPackets: s.egress.audio?.packets ?? 0,
      })),
      settings: this.settings,
      activeSpeaker: this.speakers.current,
      layout: {
        kind: this.layout.kind,
        fit: this.settings.fit,
        canvas: this.layout.canvas,
        tiles: this.layout.tiles.map((t) => ({ participantId: t.participantId, cell: t.cell, video: t.video, crop: t.crop, large: t.large })),
      },
      mixer: {
        pid: this.mixer.pid ?? null,
        epoch: stats.epoch,
        capacity: stats.capacity,
        restarts: stats.restarts,
        rungs: this.mixer.activeRungs,
        keyframesByRung: stats.keyframesByRung,
        ticks: stats.ticks,
        skippedTicks: stats.skippedTicks,
        keyframesForced: stats.keyframesForced,
      },
    };
  }

  close(): Promise<void> {
    if (this.closing) return this.closing;
    this._closed = true;
    clearInterval(this.speakerTimer);
    clearInterval(this.adaptTimer);
    this.closing = (async () => {
      await Promise.all([this.stopHls(), ...[...this.streams.values()].map((p) => p.close())]);
      this.streams.clear();
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
