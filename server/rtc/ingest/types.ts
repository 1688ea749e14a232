// What an Ingest (one publisher's connection) takes and tells: its options, its events, the
// video packets it hands the track forwarder, and the decode work it reports.

import type { Size } from '../../../pipeline/layout/geometry.ts';
import type { SlotFrame } from '../../../workers/decoder/VideoDecoder.ts';
import type { Logger } from '../../../workers/log.ts';
import type { IceNetwork } from '../network.ts';
import type { SimulcastStats } from './stats.ts';

export interface DecodeWork {
  fps: number;
  /** Decoded frames per second × their pixels as sent. */
  pixelsPerSec: number;
  simulcast: SimulcastStats | null;
}

export interface IngestEvents {
  /** A decoded picture at the mixer's slot size, with where the picture is inside it. */
  /** …and when its content stands (the server's clock, `performance.now()`): the frame's arrival. */
  video: [SlotFrame, number];
  /** PCM, rate, channels, and when its first sample stands on the same content clock as the video (NaN: concealment). */
  audio: [Int16Array, number, number, number];
  /** The peer is gone (closed, failed, silent, or never connected). */
  gone: [string];
  /** Connected, but no media for a while. */
  stalled: [];
  resumed: [];
  /** Each video RTP packet as received (RTX unwrapped), for forwarding to tracks subscribers. */
  videoRtp: [ForwardablePacket];
}

/** A publisher's video packet, as the track forwarder takes it. */
export interface ForwardablePacket {
  /** Its simulcast layer (null: the publisher sends one stream). */
  rid: string | null;
  sequenceNumber: number;
  timestamp: number;
  marker: boolean;
  payload: Buffer;
}

export interface IngestOptions {
  slotSize: Size;
  iceServers?: Array<{ urls: string; username?: string; credential?: string }>;
  /** Announced address and UDP port range of the server's ICE sockets. */
  network?: IceNetwork;
  connectTimeoutMs?: number;
  stalledAfterMs?: number;
  silentGoneMs?: number;
  log?: Logger;
  name?: string;
}
