// The ingest's RTP cores on synthetic packet sequences: frame assembly with loss, reorder,
// duplicates and sequence wrap-around; depacketizing; NACK; TWCC feedback; Opus reordering;
// routing without SSRC lines.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FrameAssembler, type RtpIn } from '../../pipeline/rtp/FrameAssembler.ts';
import { annexBNalTypes, av1Payload, av1TemporalUnit, h264Payload, vp8Payload, vp9Payload } from '../../pipeline/rtp/depacketize.ts';
import { NackTracker } from '../../pipeline/rtp/NackTracker.ts';
import { encodeChunks, TwccFeedback } from '../../pipeline/rtp/TwccFeedback.ts';
import { AudioReorder } from '../../pipeline/rtp/AudioReorder.ts';
import { IngestRouter } from '../../pipeline/rtp/IngestRouter.ts';
import { ReceiveStats } from '../../pipeline/rtp/ReceiveStats.ts';

/** A VP8 frame as `n` packets: descriptor S bit on the first, marker on the last. */
function vp8Frame(seq: number, ts: number, key: boolean, n = 3, tag = 0): RtpIn[] {
  return Array.from({ length: n }, (_, i) => ({
    sequenceNumber: (seq + i) & 0xffff,
    timestamp: ts >>> 0,
    marker: i === n - 1,
    payload: Buffer.from([i === 0 ? 0x10 : 0x00, i === 0 ? (key ? 0x00 : 0x01) : 0xaa, tag, i]),
  }));
}

function feed(a: FrameAssembler, pkts: RtpIn[], now: number) {
  const frames = [];
  let asked = 0;
  for (const p of pkts) {
    const out = a.push(p, now);
    frames.push(...out.frames);
    if (out.requestKeyframe) asked++;
  }
  return { frames, asked };
}

test('frames in order: whole frames out, a keyframe asked for at the start', () => {
  const a = new FrameAssembler('vp8');
  const r = feed(a, [...vp8Frame(100, 0, true), ...vp8Frame(103, 3000, false), ...vp8Frame(106, 6000, false)], 0);
  assert.is(r.frames.length, 3);
  assert.ok(r.frames[0].keyframe);
  assert.is(r.frames[1].timestamp, 3000);
  assert.is(r.frames[0].data.length, 9, 'descriptors stripped');
  assert.is(r.asked, 1);
});

test('reordered and duplicated packets: each frame once, complete', () => {
  const a = new FrameAssembler('vp8');
  const f1 = vp8Frame(10, 0, true, 4);
  const f2 = vp8Frame(14, 3000, false, 4);
  const r = feed(a, [f1[2], f1[0], f1[3], f1[1], f1[1], f2[3], f2[0], f2[1], f2[0], f2[2]], 0);
  assert.is(r.frames.length, 2);
  assert.equal(r.frames[0].data, Buffer.concat(f1.map((p) => p.payload.subarray(1))));
  assert.is(a.stats.duplicates, 2);
});

test('a hole repaired within the wait: nothing dropped', () => {
  const a = new FrameAssembler('vp8', { waitMs: 100 });
  const f1 = vp8Frame(0, 0, true);
  const f2 = vp8Frame(3, 3000, false);
  const f3 = vp8Frame(6, 6000, false);
  let r = feed(a, [...f1, f2[0], f2[2], ...f3], 0);
  assert.is(r.frames.length, 1, 'frame 2 waits for its packet, frame 3 waits behind it');
  assert.is(a.poll(50).frames.length, 0);
  r = feed(a, [f2[1]], 60);
  assert.equal(r.frames.map((f) => f.timestamp), [3000, 6000]);
  assert.is(a.stats.framesDropped, 0);
});

test('a hole not repaired: frame dropped, later frames held until a keyframe, keyframe asked (rate-limited)', () => {
  const a = new FrameAssembler('vp8', { waitMs: 100, keyframeRetryMs: 500 });
  feed(a, vp8Frame(0, 0, true), 0);
  const f2 = vp8Frame(3, 3000, false);
  feed(a, [f2[0], f2[2], ...vp8Frame(6, 6000, false)], 10);
  const timeout = a.poll(111);
  assert.is(timeout.frames.length, 0);
  assert.ok(timeout.requestKeyframe, 'keyframe asked at the loss');
  assert.is(a.stats.framesDropped, 1);
  assert.ok(a.waitingForKeyframe);
  const held = feed(a, vp8Frame(9, 9000, false), 150);
  assert.is(held.frames.length, 0);
  assert.is(held.asked, 0, 'not again within 500 ms');
  assert.ok(a.poll(620).requestKeyframe, 'again after 500 ms');
  const key = feed(a, [...vp8Frame(12, 12000, true), ...vp8Frame(15, 15000, false)], 700);
  assert.equal(key.frames.map((f) => [f.timestamp, f.keyframe]), [[12000, true], [15000, false]]);
  assert.ok(!a.waitingForKeyframe);
});

test('sequence numbers wrap around 65535 → 0', () => {
  const a = new FrameAssembler('vp8');
  const r = feed(a, [...vp8Frame(65533, 0, true), ...vp8Frame(0, 3000, false), ...vp8Frame(3, 6000, false)], 0);
  assert.equal(r.frames.map((f) => f.timestamp), [0, 3000, 6000]);
  const lost = new FrameAssembler('vp8', { waitMs: 10 });
  feed(lost, vp8Frame(65534, 0, true), 0);
  const f2 = vp8Frame(1, 3000, false);
  feed(lost, [f2[1], f2[2]], 1); // 65535, 0 (wrapped) — seq 0 was f2's first? no: f2 is 1..3; 65535..0 missing
  assert.ok(lost.poll(20).requestKeyframe);
});

test('joining mid-stream: only from the first keyframe on', () => {
  const a = new FrameAssembler('vp8');
  const tail = vp8Frame(50, 0, false, 3).slice(1); // a frame's tail
  const r = feed(a, [...tail, ...vp8Frame(53, 3000, false), ...vp8Frame(56, 6000, true), ...vp8Frame(59, 9000, false)], 0);
  assert.equal(r.frames.map((f) => f.timestamp), [6000, 9000]);
  assert.is(a.stats.framesHeldBack, 1);
});

test('a frame without a marker bit ends when the timestamp moves on', () => {
  const a = new FrameAssembler('vp8');
  const f1 = vp8Frame(0, 0, true).map((p) => ({ ...p, marker: false }));
  const r = feed(a, [...f1, ...vp8Frame(3, 3000, false)], 0);
  assert.equal(r.frames.map((f) => f.timestamp), [0, 3000]);
});

test('H.264: single NAL, STAP-A and FU-A become one Annex B access unit; SPS/PPS from the SDP go first', () => {
  const sps = Buffer.from([0x67, 0x42, 0xc0, 0x1e]);
  const pps = Buffer.from([0x68, 0xce, 0x3c, 0x80]);
  const idr = Buffer.concat([Buffer.from([0x65]), Buffer.alloc(3000, 7)]);
  // FU-A of the IDR in 3 pieces
  const body = idr.subarray(1);
  const fu = [0, 1, 2].map((k) => {
    const hdr = Buffer.from([0x7c, (k === 0 ? 0x80 : k === 2 ? 0x40 : 0) | 5]);
    return Buffer.concat([hdr, body.subarray(k * 1000, (k + 1) * 1000)]);
  });
  const a = new FrameAssembler('h264', { parameterSets: Buffer.concat([Buffer.from([0, 0, 0, 1]), sps, Buffer.from([0, 0, 0, 1]), pps]) });
  const r = feed(a, fu.map((payload, i) => ({ sequenceNumber: 10 + i, timestamp: 90, marker: i === 2, payload })), 0);
  // FU-A alone cannot show where the frame begins: without an earlier packet it waits; the next frame settles it.
  const slice = Buffer.from([0x41, 0x9a, 0x01]);
  const r2 = feed(a, [{ sequenceNumber: 9, timestamp: 0, marker: true, payload: slice }], 1);
  const frames = [...r.frames, ...r2.frames];
  assert.is(frames.length, 1);
  assert.ok(frames[0].keyframe);
  assert.equal(annexBNalTypes(frames[0].data), [7, 8, 5]);
  const stap = h264Payload(Buffer.concat([Buffer.from([0x18, 0, 4]), sps, Buffer.from([0, 4]), pps]))!;
  assert.ok(stap.keyframe && stap.begin);
  assert.equal(annexBNalTypes(stap.data), [7, 8]);
  assert.is(h264Payload(Buffer.from([0x1a, 0, 0])), null, 'MTAP (mode 2) is not read');
  assert.is(h264Payload(Buffer.from([0x18, 0, 9, 1])), null, 'truncated STAP-A');
});

test('H.264 packetization-mode 0 (one NAL per packet), with SPS/PPS in band', () => {
  const a = new FrameAssembler('h264');
  const pkts = [Buffer.from([0x67, 1, 2]), Buffer.from([0x68, 3]), Buffer.from([0x65, 9, 9, 9])].map((payload, i) => ({ sequenceNumber: i, timestamp: 0, marker: i === 2, payload }));
  const r = feed(a, pkts, 0);
  assert.is(r.frames.length, 1);
  assert.equal(annexBNalTypes(r.frames[0].data), [7, 8, 5]);
});

test('VP8, VP9 descriptors', () => {
  // X=1, I=1 with 15-bit picture id, L, T/K
  const p = vp8Payload(Buffer.from([0x90, 0xe0, 0x81, 0x23, 0x05, 0x20, 0x9c, 0x01]))!;
  assert.equal([...p.data], [0x9c, 0x01]);
  assert.ok(p.begin && p.keyframe);
  assert.is(vp8Payload(Buffer.from([0x90, 0x80])), null, 'truncated');
  // VP9: I (7-bit pid), B, E, V with SS Y (one layer 1280x720)
  const v = vp9Payload(Buffer.from([0x8e, 0x05, 0x10, 0x05, 0x00, 0x02, 0xd0, 0xaa]))!;
  assert.ok(v.begin && v.keyframe);
  assert.equal([...v.data], [0xaa]);
  const inter = vp9Payload(Buffer.from([0xcc, 0x05, 0xbb]))!; // I, P, B, E
  assert.ok(inter.begin && !inter.keyframe);
});

test('AV1: OBU fragments across packets become one temporal unit with size fields', () => {
  const seqHdr = Buffer.from([0x08, 1, 2, 3]); // type 1, no size field
  const frame = Buffer.concat([Buffer.from([0x30]), Buffer.alloc(300, 5)]); // type 6
  const p1 = Buffer.concat([Buffer.from([0x68, seqHdr.length]), seqHdr, frame.subarray(0, 100)]); // W=2, Y=1, N=1
  const p2 = Buffer.concat([Buffer.from([0x90]), frame.subarray(100)]); // Z=1, W=1
  const parts = [av1Payload(p1)!, av1Payload(p2)!];
  assert.ok(parts[0].keyframe && parts[0].y && parts[1].z);
  const tu = av1TemporalUnit(parts)!;
  assert.equal([...tu.subarray(0, 2)], [0x12, 0x00], 'temporal delimiter first');
  assert.equal([...tu.subarray(2, 4)], [0x0a, 3], 'sequence header with a size field');
  assert.equal([...tu.subarray(7, 10)], [0x32, 0xac, 0x02], 'frame OBU: size 300 in LEB128');
  assert.is(tu.length, 2 + 2 + 3 + 3 + 300);
});

test('NACK: a hole is asked for at once, again after an RTT, never once repaired', () => {
  const n = new NackTracker({ minRetryMs: 20 });
  n.setRtt(40);
  n.onPacket(100, 0);
  n.onPacket(103, 1);
  assert.equal(n.due(1), [101, 102]);
  assert.equal(n.due(20), [], 'too soon');
  n.onPacket(101, 30);
  assert.equal(n.due(50), [102]);
  assert.is(n.recovered, 1);
  const w = new NackTracker();
  w.onPacket(65534, 0);
  w.onPacket(1, 0);
  assert.equal(w.due(0), [65535, 0], 'across the wrap');
  assert.is(new NackTracker({ maxMissing: 10 }).onPacket(0, 0) && new NackTracker({ maxMissing: 10 }).onPacket(0, 0), true);
  const wide = new NackTracker({ maxMissing: 10 });
  wide.onPacket(0, 0);
  assert.is(wide.onPacket(50, 0), false, 'too wide: a keyframe instead');
});

test('TWCC feedback: statuses, deltas, losses, the header', () => {
  const fb = new TwccFeedback(0x1111, 0x2222);
  fb.record(65534, 1_000_000);
  fb.record(65535, 1_001_000);
  fb.record(1, 1_003_000); // 0 lost
  const pkt = fb.build()!;
  assert.is(pkt[0] & 0x1f, 15);
  assert.is(pkt[1], 205);
  assert.is((pkt.readUInt16BE(2) + 1) * 4, pkt.length);
  assert.is(pkt.readUInt16BE(12), 65534, 'base sequence number');
  assert.is(pkt.readUInt16BE(14), 4, 'status count');
  const chunk = pkt.readUInt16BE(20);
  assert.is(chunk >> 14, 3, 'two-bit status vector');
  assert.equal([(chunk >> 12) & 3, (chunk >> 10) & 3, (chunk >> 8) & 3, (chunk >> 6) & 3], [1, 1, 0, 1]);
  assert.equal([pkt[22], pkt[23], pkt[24]], [(1_000_000 / 250) % 256, 4, 8], 'deltas in 250 µs');
  assert.is(fb.build(), null, 'nothing new');
  fb.record(2, 1_004_000);
  assert.is(fb.build()!.readUInt16BE(12), 2, 'continues after the last report');
  assert.equal([...encodeChunks(new Array(20).fill(1))], [0x20, 20], 'run length');
});

test('Opus reorder: late packet waits briefly, a loss is concealed (FEC from the next), DTX is not a loss', () => {
  const r = new AudioReorder(30);
  const pk = (n: number) => Buffer.from([n]);
  assert.is(r.push(10, 0, pk(10), 0).length, 1);
  assert.is(r.push(12, 1920, pk(12), 20).length, 0, '11 may still come');
  const late = r.push(11, 960, pk(11), 25);
  assert.equal(late.map((s) => s.kind), ['packet', 'packet']);
  r.push(14, 3840, pk(14), 60);
  const lost = r.poll(95);
  assert.equal(lost.map((s) => s.kind), ['lost', 'packet']);
  assert.equal(lost[0].kind === 'lost' && [lost[0].samples, lost[0].fec?.[0]], [960, 14]);
  const dtx = r.push(15, 3840 + 960 * 20, pk(15), 500);
  assert.equal(dtx.map((s) => s.kind), ['packet'], 'a timestamp jump with contiguous sequence numbers is DTX');
});

test('routing without SSRC lines: MID extension, payload type, RTX unwrapped', () => {
  const plan: any = {
    audio: { mid: 'a0', pt: 111, midExtId: 9, twccExtId: 3, ssrcs: [], channels: 2 },
    video: { mid: 'v1', pt: 96, rtxPt: 97, midExtId: 9, twccExtId: 3, ssrcs: [], codec: 'vp8', fmtp: '', parameterSets: null, feedback: {} },
    refused: [],
  };
  const router = new IngestRouter(plan);
  const pkt = (ssrc: number, pt: number, seq: number, payload: Buffer, mid?: string) => ({
    header: { ssrc, payloadType: pt, sequenceNumber: seq, extensions: mid ? [{ id: 9, payload: Buffer.from(mid) }] : [] },
    payload,
  });
  assert.equal(router.route(pkt(5, 96, 1, Buffer.from([1]), 'v1'))?.kind, 'video');
  assert.equal(router.route(pkt(6, 111, 1, Buffer.from([1])))?.kind, 'audio');
  const rtx = router.route(pkt(7, 97, 50, Buffer.from([0x12, 0x34, 0xaa])))!;
  assert.equal([rtx.ssrc, rtx.sequenceNumber, rtx.retransmit, rtx.payload.length], [5, 0x1234, true, 1]);
  assert.is(router.route(pkt(7, 97, 51, Buffer.alloc(0))), null, 'padding-only RTX');
  assert.is(router.route(pkt(8, 100, 1, Buffer.from([1]))), null);
  assert.is(router.unroutable, 1);
});

test('routing a simulcast section: layers by the RID extension, RTX by the repaired-RID one to its layer', () => {
  const plan: any = {
    audio: null,
    video: { mid: '1', pt: 96, rtxPt: 97, midExtId: 4, twccExtId: 3, ssrcs: [], codec: 'vp8', fmtp: '', parameterSets: null, feedback: {}, simulcast: { rids: ['q', 'h', 'f'], ridExtId: 10, repairedRidExtId: 11, limits: new Map() } },
    refused: [],
  };
  const router = new IngestRouter(plan);
  const ext = (id: number, v: string) => ({ id, payload: Buffer.from(v) });
  const pkt = (ssrc: number, pt: number, seq: number, payload: Buffer, extensions: Array<{ id: number; payload: Buffer }>) => ({ header: { ssrc, payloadType: pt, sequenceNumber: seq, extensions }, payload });
  const q = router.route(pkt(100, 96, 1, Buffer.from([1]), [ext(4, '1'), ext(10, 'q')]))!;
  assert.equal([q.kind, q.ssrc, q.rid, q.retransmit], ['video', 100, 'q', false]);
  const f = router.route(pkt(300, 96, 7, Buffer.from([1]), [ext(4, '1'), ext(10, 'f')]))!;
  assert.equal([f.ssrc, f.rid], [300, 'f']);
  assert.equal(router.route(pkt(300, 96, 8, Buffer.from([1]), []))!.rid, 'f', 'the extension stops once acknowledged: the SSRC it taught');
  const rtx = router.route(pkt(301, 97, 50, Buffer.from([0x00, 0x07, 0xaa]), [ext(11, 'f')]))!;
  assert.equal([rtx.ssrc, rtx.rid, rtx.sequenceNumber, rtx.retransmit, rtx.payload.length], [300, 'f', 7, true, 1]);
  assert.is(router.route(pkt(555, 96, 1, Buffer.from([1]), [ext(4, '1')])), null, 'a video SSRC no RID named');
  assert.is(router.route(pkt(556, 97, 1, Buffer.from([0, 1, 2]), [ext(11, 'h')])), null, 'RTX of a layer not seen yet');
});

test('receive stats: loss, duplicates, jitter', () => {
  const s = new ReceiveStats(1, 90000);
  for (const seq of [1, 2, 4, 5]) s.add(seq, seq * 3000, 100, seq * 33.3333);
  assert.is(s.add(5, 15000, 100, 200), false);
  assert.is(s.lost, 1);
  const r = s.report();
  assert.is(r.fractionLost, Math.floor((1 << 8) / 5));
  assert.ok(s.jitterMs < 1);
});

test.run();
