// The room's routing of mixed RTP (server/rooms/MixRouter.ts) with stand-in tracks: who gets each
// packet, mix-minus by slot, and a rung switch that happens exactly on the new rung's keyframe.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { HELD_MAX_PACKETS, MixRouter, type RoutedSubscription, type RoutedTrack } from '../../server/rooms/MixRouter.ts';
import { FULL_MIX_KEY, minusStreamKey, videoStreamKey } from '../../pipeline/mixer/streamKey.ts';

/** A packet whose first byte says whether it starts a keyframe (the stand-in track reads it). */
const pkt = (key: boolean, n: number) => Buffer.from([key ? 1 : 0, n]);

class Track implements RoutedTrack {
  readonly got: Array<[string, number]> = [];
  needsKeyframe = false;
  feedbackResets = 0;
  resetFeedback(): void {
    this.feedbackResets++;
  }
  forward(source: string, packet: Buffer): boolean {
    this.got.push([source, packet[1]]);
    return true;
  }
  isKeyframeStart(packet: Buffer): boolean {
    return packet[0] === 1;
  }
}

function sub(rung: string | null, participantId: string | null = null, audio = true): RoutedSubscription & { egress: { video: Track | null; audio: Track | null; connectedAt: number } } {
  return { rung, pendingRung: null, participantId, egress: { video: rung ? new Track() : null, audio: audio ? new Track() : null, connectedAt: 1 } };
}

function setup(subs: RoutedSubscription[], slots: Record<string, number> = {}) {
  const calls = { keyframes: [] as string[], switched: 0 };
  const router = new MixRouter(() => subs, {
    slotOf: (id) => slots[id] ?? -1,
    requestKeyframe: (r) => calls.keyframes.push(r),
    switched: () => calls.switched++,
  });
  router.rebuild();
  return { router, calls };
}

test('video goes to the subscribers of its rung only, with the epoch in its source', () => {
  const a = sub('720p');
  const b = sub('360p');
  const c = sub(null);
  const { router } = setup([a, b, c]);
  router.route(videoStreamKey('720p'), pkt(true, 1), 3);
  router.route(videoStreamKey('360p'), pkt(true, 2), 3);
  assert.equal(a.egress.video!.got, [['720p@3', 1]]);
  assert.equal(b.egress.video!.got, [['360p@3', 2]]);
  assert.equal(c.egress.audio!.got, [], 'video never reaches an audio track');
});

test('audio: a linked subscriber hears its publisher’s mix-minus, everyone else the full mix', () => {
  const linked = sub('720p', 'p1');
  const viewer = sub('720p', null);
  const gone = sub(null, 'left');
  const { router } = setup([linked, viewer, gone], { p1: 2 });
  assert.is(router.audioKeyOf(linked), minusStreamKey(2));
  assert.is(router.audioKeyOf(gone), FULL_MIX_KEY, 'a publisher without a slot: the full mix');
  router.route(minusStreamKey(2), pkt(false, 7), 1);
  router.route(FULL_MIX_KEY, pkt(false, 8), 1);
  router.route(minusStreamKey(0), pkt(false, 9), 1);
  assert.equal(linked.egress.audio!.got, [['minus:2@1', 7]]);
  assert.equal(viewer.egress.audio!.got, [['full@1', 8]]);
  assert.equal(gone.egress.audio!.got, [['full@1', 8]]);
  // The publisher leaves: the room unlinks and rebuilds; the subscriber now hears the full mix.
  linked.participantId = null;
  router.rebuild();
  router.route(FULL_MIX_KEY, pkt(false, 10), 1);
  router.route(minusStreamKey(2), pkt(false, 11), 1);
  assert.equal(linked.egress.audio!.got.slice(1), [['full@1', 10]]);
});

test('rung switch: the old rung keeps flowing until the new rung’s keyframe, then only the new one', () => {
  const s = sub('720p');
  const { router, calls } = setup([s]);
  s.pendingRung = '360p';
  router.rebuild();
  router.route(videoStreamKey('360p'), pkt(false, 1), 0); // not a keyframe: no switch
  router.route(videoStreamKey('720p'), pkt(false, 2), 0);
  assert.is(s.rung, '720p');
  assert.is(calls.switched, 0);
  assert.is(s.egress.video!.feedbackResets, 0);
  router.route(videoStreamKey('360p'), pkt(true, 3), 0); // the keyframe: switch, and it is forwarded
  assert.is(s.rung, '360p');
  assert.is(s.egress.video!.feedbackResets, 1, 'the reports of the old rung are forgotten at the switch');
  assert.is(s.pendingRung, null);
  assert.is(calls.switched, 1, 'the room is told (it re-picks the rungs to encode)');
  router.route(videoStreamKey('720p'), pkt(true, 4), 0);
  router.route(videoStreamKey('360p'), pkt(false, 5), 0);
  assert.equal(s.egress.video!.got.map(([src, n]) => `${src}:${n}`), ['720p@0:2', '360p@0:3', '360p@0:5']);
});

test('rung switch: a pending rung changed again before its keyframe is not taken', () => {
  const s = sub('720p');
  const { router } = setup([s]);
  s.pendingRung = '360p';
  router.rebuild();
  s.pendingRung = null; // adaptation went back (the room rebuilds; here a packet comes first)
  router.route(videoStreamKey('360p'), pkt(true, 1), 0);
  assert.is(s.rung, '720p');
  assert.equal(s.egress.video!.got, []);
});

test('a track that needs a keyframe asks for one on its rung', () => {
  const s = sub('720p');
  const { router, calls } = setup([s]);
  s.egress.video!.needsKeyframe = true;
  router.route(videoStreamKey('720p'), pkt(false, 1), 0);
  assert.equal(calls.keyframes, ['720p']);
});

test('taps: continuous streams per rung and the full mix; removing a tap stops it', () => {
  const { router, calls } = setup([]);
  const video: number[] = [];
  const audio: number[] = [];
  const remove = router.addTap({ rungs: ['720p'], video: (_r, p) => video.push(p.length), audio: (p) => audio.push(p.length) });
  assert.equal([...router.tapRungs()], ['720p']);
  router.route(FULL_MIX_KEY, rtp(1, 960), 0);
  router.route(minusStreamKey(0), rtp(1, 960), 0);
  assert.is(audio.length, 1, 'a tap takes the full mix only');
  // A VP8 inter frame: the tap waits for a keyframe and asks for one.
  router.route(videoStreamKey('720p'), rtp(1, 3000, [0x10, 0x01]), 0);
  assert.is(video.length, 0);
  assert.equal(calls.keyframes, ['720p']);
  assert.ok(remove());
  assert.not.ok(remove(), 'idempotent');
  assert.equal([...router.tapRungs()], []);
});

/** A minimal RTP packet (VP8 payload descriptor bytes as given). */
function rtp(seq: number, ts: number, payload: number[] = [0xfc, 0xff]): Buffer {
  const b = Buffer.alloc(12 + payload.length);
  b[0] = 0x80;
  b[1] = 96;
  b.writeUInt16BE(seq, 2);
  b.writeUInt32BE(ts, 4);
  b.writeUInt32BE(1234, 8);
  Buffer.from(payload).copy(b, 12);
  return b;
}

test('a connecting subscriber: a keyframe asked at once, held from its start, sent when it connects', () => {
  const early = sub('720p');
  early.egress.connectedAt = 0;
  const { router, calls } = setup([early]);
  router.route(videoStreamKey('720p'), pkt(false, 1), 1);
  assert.equal(calls.keyframes, ['720p'], 'asked for on the first packet, before DTLS is up');
  router.route(videoStreamKey('720p'), pkt(true, 2), 1);
  router.route(videoStreamKey('720p'), pkt(false, 3), 1);
  router.route(videoStreamKey('720p'), pkt(true, 4), 1);
  router.route(videoStreamKey('720p'), pkt(false, 5), 1);
  assert.equal(early.egress.video!.got, [], 'nothing before it can receive (werift would drop it)');
  assert.equal(calls.keyframes, ['720p'], 'asked once');
  early.egress.connectedAt = 123;
  router.route(videoStreamKey('720p'), pkt(false, 6), 1);
  assert.equal(early.egress.video!.got.map(([, n]) => n), [4, 5, 6], 'from the latest keyframe start on');
  router.route(videoStreamKey('720p'), pkt(false, 7), 1);
  assert.equal(early.egress.video!.got.map(([, n]) => n), [4, 5, 6, 7]);
});

test('a connecting subscriber: an H.264 keyframe starting twice (SPS/PPS, then IDR, one timestamp) is one run', () => {
  const rtp = (key: boolean, n: number, ts: number) => {
    const b = Buffer.alloc(12);
    b[0] = key ? 1 : 0;
    b[1] = n;
    b.writeUInt32BE(ts, 4);
    return b;
  };
  const early = sub('720p-h264');
  early.egress.connectedAt = 0;
  const { router } = setup([early]);
  router.route(videoStreamKey('720p-h264'), rtp(true, 1, 1000), 1);
  router.route(videoStreamKey('720p-h264'), rtp(true, 2, 1000), 1);
  router.route(videoStreamKey('720p-h264'), rtp(false, 3, 1000), 1);
  router.route(videoStreamKey('720p-h264'), rtp(false, 4, 4000), 1);
  early.egress.connectedAt = 1;
  router.route(videoStreamKey('720p-h264'), rtp(false, 5, 7000), 1);
  assert.equal(early.egress.video!.got.map(([, n]) => n), [1, 2, 3, 4, 5]);
});

test('a connecting subscriber holds no partial run: too many packets, or none from a keyframe, and it waits', () => {
  const early = sub('720p');
  early.egress.connectedAt = 0;
  const { router } = setup([early]);
  router.route(videoStreamKey('720p'), pkt(false, 1), 1);
  router.route(videoStreamKey('720p'), pkt(true, 2), 1);
  for (let k = 0; k < HELD_MAX_PACKETS; k++) router.route(videoStreamKey('720p'), pkt(false, 3), 1);
  early.egress.connectedAt = 123;
  router.route(videoStreamKey('720p'), pkt(false, 9), 1);
  assert.equal(early.egress.video!.got.map(([, n]) => n), [9], 'the held run overflowed: dropped, not sent with a gap');
});

test.run();
