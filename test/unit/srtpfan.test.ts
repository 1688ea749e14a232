// native/srtpfan (the WHEP fast send path): what it sends over loopback decrypts with werift's
// own SRTP (both profiles), with the header patched (payload type, seq, timestamp, SSRC) and
// the rollover counter carried across a sequence wrap; a retransmission of the same index is
// protected again; the NACK history answers only for what it holds.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import dgram from 'node:dgram';
import { RtpPacket, SrtpSession } from 'werift';
import { fastSendAddon, FastTrackHistory, ntpNow } from '../../server/rtc/FastSend.ts';
import { skip } from '../helpers/skip.ts';

const lib = fastSendAddon();

/** A receiving and a sending socket on loopback, and the sender's fd (what FastSend takes from werift's socket). */
async function loopbackPair(): Promise<{ rx: dgram.Socket; tx: dgram.Socket; fd: number }> {
  const rx = dgram.createSocket('udp4');
  const tx = dgram.createSocket('udp4');
  await Promise.all([rx, tx].map((s) => new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()))));
  const state = Object.getOwnPropertySymbols(tx).find((k) => k.description === 'state symbol')!;
  return { rx, tx, fd: (tx as any)[state].handle.fd };
}

async function roundTrip(profile: number, saltLen: number): Promise<RtpPacket[]> {
  const key = Buffer.alloc(16, 7);
  const salt = Buffer.alloc(saltLen, 3);
  const { rx, tx, fd } = await loopbackPair();
  const got: Buffer[] = [];
  rx.on('message', (m) => got.push(m));
  const session = lib!.open(profile, key, salt);
  assert.ok(lib!.setDestination(session, fd, '127.0.0.1', rx.address().port));
  const pkt = Buffer.alloc(1000, 0xab);
  pkt[0] = 0x80;
  pkt[1] = 0x80 | 33; // marker + a payload type the addon must replace
  for (const seq of [65534, 65535, 0, 1, 1]) assert.is(lib!.send(session, pkt, 0xdeadbeef, 96, seq, 90_000 + seq), 0);
  lib!.flush();
  for (let i = 0; i < 50 && got.length < 5; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(lib!.stats(session).sent, 5);
  lib!.close(session);
  lib!.close(session); // idempotent
  rx.close();
  tx.close();
  const dec = new SrtpSession({ profile, keys: { localMasterKey: key, localMasterSalt: salt, remoteMasterKey: key, remoteMasterSalt: salt } } as any);
  return got.map((g) => RtpPacket.deSerialize(dec.decrypt(g)));
}

for (const [name, profile, saltLen] of [
  ['AES128_CM_HMAC_SHA1_80', 1, 14],
  ['AEAD_AES_128_GCM', 7, 12],
] as const) {
  test(`srtpfan ${name}: werift decrypts it, header patched, across a seq wrap`, async () => {
    if (!lib) return skip('native/srtpfan not built');
    const packets = await roundTrip(profile, saltLen);
    assert.equal(
      packets.map((p) => p.header.sequenceNumber),
      [65534, 65535, 0, 1, 1],
    );
    for (const p of packets) {
      assert.is(p.header.ssrc, 0xdeadbeef);
      assert.is(p.header.payloadType, 96);
      assert.is(p.header.marker, true);
      assert.is(p.header.timestamp, 90_000 + p.header.sequenceNumber);
      assert.is(p.payload.length, 988);
      assert.ok(p.payload.every((b) => b === 0xab));
    }
  });
}

test('srtpfan rejects what it cannot protect', () => {
  if (!lib) return skip('native/srtpfan not built');
  assert.throws(() => lib.open(2, Buffer.alloc(16), Buffer.alloc(14)), /unsupported/);
  const s = lib.open(1, Buffer.alloc(16), Buffer.alloc(14));
  assert.is(lib.send(s, Buffer.alloc(8), 1, 96, 1, 1), -1);
  assert.is(lib.setDestination(s, 0, 'not-an-ip', 1), false);
  lib.close(s);
});

test('srtpfan sends a long queue in slices of the flush limit, in order', async () => {
  if (!lib) return skip('native/srtpfan not built');
  const { rx, tx, fd } = await loopbackPair();
  const seqs: number[] = [];
  rx.on('message', (m) => seqs.push(m.readUInt16BE(2)));
  const session = lib.open(1, Buffer.alloc(16), Buffer.alloc(14));
  lib.setDestination(session, fd, '127.0.0.1', rx.address().port);
  for (let i = 0; i < 60; i++) lib.send(session, Buffer.alloc(200), 1, 96, i, 0);
  assert.is(lib.flush(24), 36);
  assert.is(lib.flush(24), 12);
  assert.is(lib.flush(24), 0);
  for (let i = 0; i < 50 && seqs.length < 60; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(seqs, Array.from({ length: 60 }, (_, i) => i));
  lib.close(session);
  rx.close();
  tx.close();
});

test('srtpfan\'s send thread: what is queued leaves in order, in slices; subscribers closed mid-send are safe', async () => {
  if (!lib) return skip('native/srtpfan not built');
  assert.ok(lib.startThread());
  assert.ok(lib.startThread()); // idempotent
  lib.takeDelays();
  const { rx, tx, fd } = await loopbackPair();
  rx.setRecvBufferSize?.(4 << 20);
  const bySsrc = new Map<number, number[]>();
  rx.on('message', (m) => {
    const ssrc = m.readUInt32BE(8);
    if (!bySsrc.has(ssrc)) bySsrc.set(ssrc, []);
    bySsrc.get(ssrc)!.push(m.readUInt16BE(2));
  });
  // 40 subscribers, 60 packets each (a keyframe's burst), kicked; half are closed at once.
  const sessions = Array.from({ length: 40 }, () => lib.open(1, Buffer.alloc(16, 1), Buffer.alloc(14, 2)));
  for (const s of sessions) lib.setDestination(s, fd, '127.0.0.1', rx.address().port);
  for (let i = 0; i < 60; i++) sessions.forEach((s, k) => assert.is(lib.send(s, Buffer.alloc(300), 1000 + k, 96, i, 0), 0));
  lib.kick(24);
  for (let k = 0; k < 40; k += 2) lib.close(sessions[k]);
  const kept = sessions.filter((_, k) => k % 2 === 1);
  for (let i = 0; i < 100 && kept.some((s) => lib.stats(s).sent < 60); i++) await new Promise((r) => setTimeout(r, 10));
  for (const s of kept) assert.is(lib.stats(s).sent, 60);
  for (let i = 0; i < 50 && [...bySsrc.keys()].filter((x) => x % 2 === 1).some((x) => (bySsrc.get(x)?.length ?? 0) < 60); i++) await new Promise((r) => setTimeout(r, 10));
  for (let k = 1; k < 40; k += 2) assert.equal(bySsrc.get(1000 + k), Array.from({ length: 60 }, (_, i) => i), `subscriber ${k}`);
  const delays = lib.takeDelays();
  assert.ok(delays.length >= 1 && delays.every((d) => d > 0 && d < 5e6), JSON.stringify(delays));
  // A closed subscriber takes nothing more.
  assert.is(lib.send(sessions[0], Buffer.alloc(300), 1, 96, 1, 0), -1);
  for (const s of kept) lib.close(s);
  rx.close();
  tx.close();
});

test('srtpfan sends a run of equal-sized packets as one GSO message, cut back into the same datagrams', async () => {
  if (!lib) return skip('native/srtpfan not built');
  const { rx, tx, fd } = await loopbackPair();
  const got: Buffer[] = [];
  rx.on('message', (m) => got.push(m));
  const run = async (gso: boolean) => {
    lib.setGso(gso);
    got.length = 0;
    const session = lib.open(1, Buffer.alloc(16, 4), Buffer.alloc(14, 5));
    lib.setDestination(session, fd, '127.0.0.1', rx.address().port);
    // A frame: 10 packets of 1100 bytes and a shorter last one, then an audio-sized packet.
    for (let i = 0; i < 10; i++) lib.send(session, Buffer.alloc(1100, i), 7, 96, i, 0);
    lib.send(session, Buffer.alloc(300, 10), 7, 96, 10, 0);
    lib.send(session, Buffer.alloc(120, 11), 7, 111, 11, 0);
    lib.flush();
    for (let i = 0; i < 50 && got.length < 12; i++) await new Promise((r) => setTimeout(r, 10));
    const stats = lib.stats(session);
    lib.close(session);
    return { stats, got: got.map((g) => ({ seq: g.readUInt16BE(2), len: g.length })) };
  };
  const withGso = await run(true);
  const without = await run(false);
  lib.setGso(true);
  rx.close();
  tx.close();
  const want = Array.from({ length: 12 }, (_, i) => ({ seq: i, len: (i < 10 ? 1100 : i === 10 ? 300 : 120) + 10 }));
  assert.equal(withGso.got, want);
  assert.equal(without.got, want);
  assert.is(withGso.stats.sent, 12);
  // The 11 packets of the frame in one message, the audio packet in another.
  assert.is(withGso.stats.messages, 2);
  assert.is(without.stats.messages, 12);
});

test('FastTrackHistory keeps the last 512 by sequence number', () => {
  const h = new FastTrackHistory();
  const a = Buffer.from([1]);
  const b = Buffer.from([2]);
  h.put(10, 1000, a);
  assert.equal(h.get(10), { packet: a, timestamp: 1000 });
  assert.is(h.get(11), null);
  h.put(10 + 512, 2000, b); // same slot, newer packet
  assert.is(h.get(10), null);
  assert.equal(h.get(522), { packet: b, timestamp: 2000 });
});

test('ntpNow is NTP time (seconds since 1900 in the high word)', () => {
  const sec = Number(ntpNow() >> 32n);
  assert.ok(Math.abs(sec - (Date.now() / 1000 + 2_208_988_800)) < 2);
});

test.run();
