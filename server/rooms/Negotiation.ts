// Turns a WHIP or WHEP offer into a connected session and its record (Participant, Subscription):
// checks the offer, answers it with an Ingest or an Egress, and names every failure from the
// error catalogue. Nothing in the room changes here; Room registers what comes back.

import { randomUUID } from 'node:crypto';
import { RungAdapter, rungFor, type Codec, type Level } from '../../pipeline/ladder.ts';
import { checkPublishOffer, checkSubscribeOffer, SdpError } from '../../pipeline/sdp.ts';
import { VoiceMeter } from '../../pipeline/audio/VoiceMeter.ts';
import { badRequest, McuError, roomClosed, sdpProblem } from '../../pipeline/errors.ts';
import type { Size } from '../../pipeline/layout/geometry.ts';
import { Ingest } from '../rtc/Ingest.ts';
import { Egress } from '../rtc/Egress.ts';
import type { IceNetwork } from '../rtc/network.ts';
import type { Participant, Subscription } from './types.ts';

export interface NegotiationContext {
  room: string;
  iceServers: () => any[];
  network: IceNetwork;
  /** A session whose ICE/DTLS has not connected by then is closed. */
  connectTimeoutMs: number;
  /** The shortest RTCP silence after which a subscriber is taken for gone. */
  subscriberSilentMs: number;
  slotSize: Size;
  sampleRate: number;
  /** The room closed while the offer was being answered: the session is closed again. */
  closed: () => boolean;
}

function checked<T>(check: () => T): T {
  try {
    return check();
  } catch (err) {
    throw err instanceof SdpError ? sdpProblem(err) : err;
  }
}

const rejected = (err: Error): never => {
  throw err instanceof McuError ? err : badRequest(`the SDP offer was rejected: ${err.message}`);
};

export async function negotiatePublisher(ctx: NegotiationContext, offer: string, name: string, ownerTokenHash: string | null): Promise<{ participant: Participant; answer: string }> {
  const media = checked(() => checkPublishOffer(offer));
  const id = randomUUID();
  const { ingest, answer } = await Ingest.answer(offer, {
    slotSize: ctx.slotSize,
    iceServers: ctx.iceServers(),
    network: ctx.network,
    name: `${ctx.room}/${id.slice(0, 8)}`,
    connectTimeoutMs: ctx.connectTimeoutMs,
  }).catch(rejected);
  if (ctx.closed()) {
    void ingest.close();
    throw roomClosed(`room "${ctx.room}" closed while joining`);
  }
  const participant: Participant = {
    id,
    name,
    audio: media.audio,
    video: media.video,
    joinedAt: Date.now(),
    ingest,
    ownerTokenHash,
    content: null,
    stalled: false,
    processing: true,
    meter: new VoiceMeter(ctx.sampleRate),
  };
  return { participant, answer };
}

export async function negotiateSubscriber(
  ctx: NegotiationContext,
  offer: string,
  participantId: string | null,
  ownerTokenHash: string | null,
  opts: { level?: Level | null; tracks?: number | null; periodicKeyframes?: boolean },
): Promise<{ subscription: Subscription; answer: string; level: Level }> {
  const wants = checked(() => checkSubscribeOffer(offer, ['VP8', 'H264']));
  const { egress, answer } = await Egress.answer(offer, { ...wants, videoSlots: opts.tracks ?? 0 }, ctx.iceServers(), {
    connectTimeoutMs: ctx.connectTimeoutMs,
    silentMinMs: ctx.subscriberSilentMs,
  }, ctx.network).catch(rejected);
  if (ctx.closed()) {
    await egress.close();
    throw roomClosed(`room "${ctx.room}" closed while subscribing`);
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
    rung: codec && egress.video ? (rungFor(level, codec)?.id ?? null) : null,
    pendingRung: null,
    adapter: new RungAdapter(level),
    pinnedLevel,
    periodicKeyframes: Boolean(opts.periodicKeyframes) || (wants.video && !wants.videoAsksKeyframes),
    lastFeedback: null,
  };
  return { subscription, answer, level };
}
