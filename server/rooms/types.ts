// What a room holds: its publishers (Participant), its subscriptions (Subscription), and the events
// it publishes on GET /rooms/{room}/events.

import type { Rect } from '../../pipeline/layout/geometry.ts';
import type { Codec, Feedback, Level, RungAdapter } from '../../pipeline/ladder.ts';
import type { VoiceMeter } from '../../pipeline/audio/VoiceMeter.ts';
import type { Ingest } from '../rtc/Ingest.ts';
import type { Egress } from '../rtc/Egress.ts';

export interface Participant {
  id: string;
  name: string;
  audio: boolean;
  video: boolean;
  joinedAt: number;
  ingest: Ingest;
  /** Hash of the token that created the session (null in open mode). */
  ownerTokenHash: string | null;
  /** Where the picture is inside the decoder's slot-sized frame (null: no video yet). */
  content: Rect | null;
  /** Connected, but no media for a while (Ingest `stalled`); removed after `stalledRemoveMs`. */
  stalled: boolean;
  clearTimers?: () => void;
  /** Voice processing (high-pass, denoise, AGC) on this participant's audio; false: untouched. */
  processing: boolean;
  meter: VoiceMeter;
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
  /**
   * Its rung gets a keyframe every 2 s unasked: it asked (?keyframes=periodic: a recorder, a
   * segmenter) or its offer has no PLI or FIR to ask with.
   */
  periodicKeyframes: boolean;
  lastFeedback: Feedback | null;
  /** The publisher this subscription belongs to (it hears that publisher's mix-minus). */
  participantId: string | null;
  createdAt: number;
  egress: Egress;
  ownerTokenHash: string | null;
}

/** What happens in a room, as published on GET /rooms/{room}/events. */
export interface RoomEvent {
  type:
    | 'participant-joined'
    | 'participant-left'
    | 'participant-stalled'
    | 'participant-resumed'
    | 'layout-changed'
    | 'speaker-changed'
    | 'subscription-started'
    | 'subscription-ended'
    | 'subscription-rung-changed'
    | 'tracks-changed'
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

