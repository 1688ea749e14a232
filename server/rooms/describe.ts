// The JSON view of a room (GET /rooms/{room}, the dashboard): its publishers, subscriptions,
// settings, layout and mixer, as the OpenAPI document describes them (RoomInfo).

import type { LayoutOut } from '../../pipeline/layout/layouts.ts';
import type { RoomSettings } from '../../pipeline/room/settings.ts';
import { slotVoice, type RoomAudioSettings } from '../../pipeline/audio/voice.ts';
import { FULL_MIX_KEY, type AudioStreamKey } from '../../pipeline/mixer/streamKey.ts';
import type { RoomMixer } from '../../workers/mixer/RoomMixer.ts';
import type { TrackForwarding } from '../rtc/TrackForwarder.ts';
import type { HlsPackager } from '../broadcast/HlsPackager.ts';
import type { RtmpPush } from '../broadcast/RtmpPush.ts';
import type { Participant, Subscription } from './types.ts';

/** What the view reads of a room (Room implements it; named here so this file does not import it). */
export interface RoomView {
  readonly name: string;
  readonly settings: RoomSettings;
  readonly createdAt: number;
  readonly participants: ReadonlyMap<string, Participant>;
  readonly subscriptions: ReadonlyMap<string, Subscription>;
  readonly broadcasts: { readonly hls: HlsPackager | null; readonly streams: ReadonlyMap<string, RtmpPush> };
  readonly mixer: RoomMixer;
  readonly tracks: TrackForwarding;
  readonly layout: LayoutOut;
  readonly activeSpeaker: string | null;
  audioKeyOf(s: Subscription): AudioStreamKey;
}

/** A participant's voice processing and levels (GET /rooms/{room}, the dashboard). */
export function participantVoice(audio: RoomAudioSettings, p: Participant) {
  return { processing: p.processing, ...slotVoice(audio, p.processing), agcGainDb: p.meter.rider.gainDb, ...p.meter.levels(performance.now()) };
}

export function describeRoom(room: RoomView) {
  const stats = room.mixer.stats();
  return {
    name: room.name,
    mode: room.settings.mode,
    createdAt: new Date(room.createdAt).toISOString(),
    /** Subscribers not linked to a publisher: a webinar's audience over WebRTC. */
    viewers: [...room.subscriptions.values()].filter((s) => !s.participantId).length,
    hls: room.broadcasts.hls?.describe() ?? null,
    streams: [...room.broadcasts.streams.values()].map((p) => p.describe()),
    participants: [...room.participants.values()].map((p) => ({
      id: p.id,
      name: p.name,
      audio: p.audio,
      video: p.video,
      joinedAt: new Date(p.joinedAt).toISOString(),
      slot: room.mixer.slotOf(p.id),
      videoSize: p.ingest.videoSize,
      framesIn: p.ingest.framesIn,
      decode: p.ingest.decodeWork(),
      content: p.content,
      stalled: p.stalled,
      voice: participantVoice(room.settings.audio, p),
    })),
    subscriptions: [...room.subscriptions.values()].map((s) => ({
      id: s.id,
      participantId: s.participantId,
      audio: s.egress.audio ? (room.audioKeyOf(s) === FULL_MIX_KEY ? 'full-mix' : 'mix-minus') : null,
      video: s.egress.video ? 'composite' : s.egress.slots.length ? 'tracks' : null,
      tracks: room.tracks.describe(s.id),
      codec: s.codec,
      level: s.adapter.level,
      pinnedLevel: s.pinnedLevel,
      periodicKeyframes: s.periodicKeyframes,
      rung: s.rung,
      pendingRung: s.pendingRung,
      feedback: s.lastFeedback
        ? { lossPercent: s.lastFeedback.lossPercent, rttMs: s.lastFeedback.rttMs, estimateKbps: s.lastFeedback.estimateKbps }
        : null,
      createdAt: new Date(s.createdAt).toISOString(),
      // performance.timeOrigin + a performance time drifts from the wall clock: counted back from now.
      connectedAt: s.egress.connectedAt ? new Date(Date.now() - (performance.now() - s.egress.connectedAt)).toISOString() : null,
      firstVideoPacketAt: s.egress.video?.firstPacketAt ? new Date(s.egress.video.firstPacketAt).toISOString() : null,
      videoPackets: s.egress.video?.packets ?? 0,
      audioPackets: s.egress.audio?.packets ?? 0,
    })),
    settings: room.settings,
    activeSpeaker: room.activeSpeaker,
    layout: {
      kind: room.layout.kind,
      fit: room.settings.fit,
      canvas: room.layout.canvas,
      tiles: room.layout.tiles.map((t) => ({ participantId: t.participantId, cell: t.cell, video: t.video, crop: t.crop, large: t.large })),
    },
    mixer: {
      pid: room.mixer.pid ?? null,
      epoch: stats.epoch,
      capacity: stats.capacity,
      restarts: stats.restarts,
      processesStarted: stats.processesStarted,
      rungs: stats.rungs,
      keyframesByRung: stats.keyframesByRung,
      ticks: stats.ticks,
      skippedTicks: stats.skippedTicks,
      keyframesForced: stats.keyframesForced,
      h264Lane: stats.h264Lane,
      timing: room.mixer.timing(),
    },
  };
}
