// The RTCP the ingest sends a publisher, against a stand-in DTLS transport that records what it
// is given: keyframe requests (PLI or FIR, 300 ms apart per SSRC), NACKs, receiver reports with
// LSR/DLSR, and TWCC feedback per transport.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PublisherFeedback } from '../../server/rtc/ingest/PublisherFeedback.ts';

function transport() {
  const sent: Buffer[] = [];
  return { sent, sendRtcp: async (packets: Array<{ serialize(): Buffer }>) => void sent.push(...packets.map((p) => p.serialize())) };
}
const pt = (b: Buffer) => b[1];
const fmt = (b: Buffer) => b[0] & 0x1f;

test('keyframes: PLI (payload-specific, fmt 1), at most one per 300 ms per SSRC; another SSRC is asked at once', () => {
  const fb = new PublisherFeedback();
  assert.not.ok(fb.requestKeyframe(1111, true, 1000), 'no transport yet');
  const t = transport();
  assert.ok(fb.addTransport(t));
  assert.not.ok(fb.addTransport(t), 'once each');
  assert.not.ok(fb.requestKeyframe(1111, true, 1100), 'the request without a transport counted for the limit');
  assert.ok(fb.requestKeyframe(1111, true, 1300));
  assert.not.ok(fb.requestKeyframe(1111, true, 1599));
  assert.ok(fb.requestKeyframe(2222, true, 1599), 'a simulcast layer has its own limit');
  assert.ok(fb.requestKeyframe(1111, true, 1600));
  assert.is(fb.pliSent, 3);
  assert.equal(t.sent.map((b) => [pt(b), fmt(b), b.readUInt32BE(8)]), [[206, 1, 1111], [206, 1, 2222], [206, 1, 1111]]);
  assert.ok(t.sent.every((b) => b.readUInt32BE(4) === fb.rtcpSsrc), 'sent as our RTCP SSRC');
});

test('keyframes: FIR (fmt 4, the SSRC in its FCI, a growing sequence number) when only FIR was offered', () => {
  const fb = new PublisherFeedback();
  const t = transport();
  fb.addTransport(t);
  fb.requestKeyframe(3333, false, 0);
  fb.requestKeyframe(3333, false, 400);
  assert.is(fb.firSent, 2);
  assert.is(fb.pliSent, 0);
  assert.equal(t.sent.map((b) => [pt(b), fmt(b), b.length, b.readUInt32BE(12), b[16]]), [[206, 4, 20, 3333, 1], [206, 4, 20, 3333, 2]]);
});

test('NACK (transport-layer, fmt 1) names the media SSRC; receiver reports carry LSR and DLSR of its last SR', () => {
  const fb = new PublisherFeedback();
  const t = transport();
  fb.addTransport(t);
  fb.sendNack(4444, [10, 12]);
  assert.is(fb.nackPacketsSent, 1);
  assert.equal([pt(t.sent[0]), fmt(t.sent[0]), t.sent[0].readUInt32BE(8)], [205, 1, 4444]);
  const ntp = (0x12345678n << 32n) | 0x9abcdef0n;
  fb.onSenderReport(4444, ntp, 1000);
  const report = () => ({ ssrc: 4444, fractionLost: 0, packetsLost: 2, highestSequence: 70_000, jitter: 90 });
  fb.sendReceiverReports([{ report }], 1500);
  const rr = t.sent[1];
  assert.is(pt(rr), 201);
  assert.is(rr.readUInt32BE(8), 4444);
  assert.is(rr.readUInt32BE(8 + 16), 0x56789abc, 'LSR: the middle 32 bits of its NTP time');
  assert.is(rr.readUInt32BE(8 + 20), 32768, 'DLSR: 0.5 s in 1/65536 s');
  fb.sendReceiverReports([], 2000);
  assert.is(t.sent.length, 2, 'no streams: no report');
});

test('TWCC: feedback per transport, counted', () => {
  const fb = new PublisherFeedback();
  const a = transport();
  fb.addTransport(a);
  fb.sendTwcc(5555);
  assert.is(a.sent.length, 0, 'nothing recorded: nothing sent');
  fb.recordTwcc(a, 1, 1_000_000);
  fb.recordTwcc(a, 2, 1_005_000);
  fb.sendTwcc(5555);
  assert.is(a.sent.length, 1);
  assert.equal([pt(a.sent[0]), fmt(a.sent[0]), a.sent[0].readUInt32BE(8)], [205, 15, 5555]);
  assert.is(fb.twccFeedbackSent, 1);
});

test.run();
