// Connects one publisher's Ingest to its room: pictures and PCM into the mixer (a new picture
// shape re-lays the tiles), levels to the speaker detector and the voice meter, and the
// publisher's end: gone at once, or removed once stalled (connected, no media) for too long.

import { levelDbfs } from '../../pipeline/audio/ActiveSpeaker.ts';
import type { SlotFrame } from '../../workers/decoder/VideoDecoder.ts';
import type { Participant, RoomEvent } from './types.ts';

export interface PublisherRoom {
  /** `contentAt`: where the media stands on the mix's content clock (Ingest's 'video' and 'audio' events). */
  pushVideo(id: string, frame: SlotFrame, contentAt: number): void;
  pushAudio(id: string, samples: Int16Array, rate: number, channels: number, contentAt: number): void;
  /** The speaker detector's input: a level (dBFS) at a time. */
  level(id: string, db: number, now: number): void;
  /** The publisher's picture changed shape: the tiles follow. */
  relayout(): void;
  remove(id: string, reason: string): void;
  publish(e: Omit<RoomEvent, 'at'>): void;
  /** A stalled publisher is removed after this long. */
  stalledRemoveMs: number;
}

export function linkPublisher(participant: Participant, room: PublisherRoom): void {
  const { ingest, id } = participant;
  ingest.on('video', (frame, contentAt) => {
    const c = frame.content;
    const was = participant.content;
    if (!was || was.x !== c.x || was.y !== c.y || was.width !== c.width || was.height !== c.height) {
      // A new picture size (a camera that is not 16:9, a resolution change): the tile follows.
      participant.content = { ...c };
      room.relayout();
    }
    room.pushVideo(id, frame, contentAt);
  });
  ingest.on('audio', (samples, rate, channels, contentAt) => {
    room.pushAudio(id, samples, rate, channels, contentAt);
    const now = performance.now();
    room.level(id, levelDbfs(samples), now);
    participant.meter.pushInput(samples, now, channels);
  });
  ingest.on('gone', (reason) => room.remove(id, reason));
  let stalledTimer: NodeJS.Timeout | null = null;
  ingest.on('stalled', () => {
    participant.stalled = true;
    stalledTimer = setTimeout(() => room.remove(id, `stalled: no media for ${Math.round(room.stalledRemoveMs / 1000)} s`), room.stalledRemoveMs);
    stalledTimer.unref();
    room.publish({ type: 'participant-stalled', participantId: id });
  });
  ingest.on('resumed', () => {
    participant.stalled = false;
    if (stalledTimer) clearTimeout(stalledTimer);
    room.publish({ type: 'participant-resumed', participantId: id });
  });
  ingest.once('gone', () => stalledTimer && clearTimeout(stalledTimer));
  participant.clearTimers = () => stalledTimer && clearTimeout(stalledTimer);
  if (ingest.goneReason) queueMicrotask(() => room.remove(id, ingest.goneReason ?? 'gone'));
}
