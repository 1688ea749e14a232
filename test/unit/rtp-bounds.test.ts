// Packets from outside the process are parsed defensively: short, truncated and oversized
// headers are recognised as such, never thrown on.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import {
  ContinuousStream,
  isH264KeyframeStart,
  isVp8KeyframeStart,
  isWellFormedRtp,
  rtpPayloadOffset,
} from '../../pipeline/rtp/Continuity.ts';
import { FrameAssembler } from '../../pipeline/rtp/FrameAssembler.ts';
import { annexBNals, annexBNalTypes, av1Payload, depacketizer, vp9SsSize } from '../../pipeline/rtp/depacketize.ts';

function rtp(opts: { cc?: number; ext?: number; extLenWords?: number; payload?: number[]; padding?: number } = {}): Buffer {
  const cc = opts.cc ?? 0;
  const head = Buffer.alloc(12 + cc * 4);
  head[0] = 0x80 | cc | (opts.ext !== undefined ? 0x10 : 0) | (opts.padding ? 0x20 : 0);
  head[1] = 96;
  head.writeUInt16BE(1234, 2);
  head.writeUInt32BE(5678, 4);
  head.writeUInt32BE(0xdeadbeef, 8);
  const parts = [head];
  if (opts.ext !== undefined) {
    const ext = Buffer.alloc(4 + (opts.ext ?? 0) * 4);
    ext.writeUInt16BE(0xbede, 0);
    ext.writeUInt16BE(opts.extLenWords ?? opts.ext, 2);
    parts.push(ext);
  }
  parts.push(Buffer.from(opts.payload ?? [0x10, 0x00, 0x9d, 0x01, 0x2a]));
  if (opts.padding) {
    const pad = Buffer.alloc(opts.padding);
    pad[pad.length - 1] = opts.padding;
    parts.push(pad);
  }
  return Buffer.concat(parts);
}

test('payload offset of well-formed packets: plain, CSRCs, header extension', () => {
  assert.is(rtpPayloadOffset(rtp()), 12);
  assert.is(rtpPayloadOffset(rtp({ cc: 2 })), 20);
  assert.is(rtpPayloadOffset(rtp({ ext: 1 })), 20);
  assert.is(rtpPayloadOffset(rtp({ cc: 1, ext: 2 })), 28);
  assert.ok(isWellFormedRtp(rtp({ cc: 1, ext: 2, padding: 4 })));
});

test('short packets: under 12 bytes, or the extension bit set with no room for its header', () => {
  for (let n = 0; n < 12; n++) assert.is(rtpPayloadOffset(rtp().subarray(0, n)), -1, `${n} bytes`);
  // exactly the fixed header with X set: reading the extension length used to throw ERR_OUT_OF_RANGE
  const x = Buffer.alloc(12);
  x[0] = 0x90;
  assert.is(rtpPayloadOffset(x), -1);
  assert.is(rtpPayloadOffset(Buffer.concat([x, Buffer.from([0xbe, 0xde])])), -1);
  assert.not.ok(isWellFormedRtp(x));
});

test('truncated: CSRC count or extension length beyond the packet', () => {
  assert.is(rtpPayloadOffset(rtp({ cc: 15, payload: [] }).subarray(0, 30)), -1);
  assert.is(rtpPayloadOffset(rtp({ ext: 1, extLenWords: 0xffff })), -1);
  assert.not.ok(isWellFormedRtp(rtp({ ext: 1, extLenWords: 200 })));
  // padding longer than the packet
  const p = rtp({ padding: 1 });
  p[p.length - 1] = 255;
  assert.not.ok(isWellFormedRtp(p));
  // not version 2, or RTCP
  const v1 = rtp();
  v1[0] = 0x40;
  assert.not.ok(isWellFormedRtp(v1));
  const rtcp = rtp();
  rtcp[1] = 200;
  assert.not.ok(isWellFormedRtp(rtcp));
});

test('keyframe detection and the continuous stream never throw on garbage', () => {
  const x = Buffer.alloc(12);
  x[0] = 0x90;
  assert.not.ok(isVp8KeyframeStart(x));
  assert.not.ok(isH264KeyframeStart(x));
  const vp8 = new ContinuousStream('video', 'vp8');
  const h264 = new ContinuousStream('video', 'h264');
  const audio = new ContinuousStream('audio');
  for (let i = 0; i < 20000; i++) {
    const buf = randomBytes(i % 40);
    if (i % 3 === 0 && buf.length) buf[0] = 0x90 | (buf[0] & 0x0f); // version 2, extension bit
    isVp8KeyframeStart(buf);
    isH264KeyframeStart(buf);
    isWellFormedRtp(buf);
    vp8.next('a', buf, i);
    h264.next('a', buf, i);
    audio.next('a', buf, i);
  }
  // and a real keyframe start still counts as one after all that
  assert.ok(isVp8KeyframeStart(rtp({ ext: 1 })));
  assert.ok(isVp8KeyframeStart(rtp({ cc: 2 })));
});

test('ingest parsers (what an authenticated but hostile publisher can send): random payloads never throw', () => {
  // Deterministic pseudo-random payloads, short and long, with codec-looking first bytes.
  let seed = 12345;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  const payload = (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(rnd() * 256)));
  for (const codec of ['vp8', 'vp9', 'h264', 'av1'] as const) {
    const read = depacketizer(codec);
    const asm = new FrameAssembler(codec, { maxPackets: 64 });
    let frames = 0;
    for (let i = 0; i < 5000; i++) {
      const p = payload(Math.floor(rnd() * (i % 10 === 0 ? 1500 : 24)));
      read(p);
      if (codec === 'vp9') vp9SsSize(p);
      if (codec === 'av1') av1Payload(p);
      annexBNalTypes(p);
      annexBNals(p);
      const out = asm.push({ sequenceNumber: (i * 7 + Math.floor(rnd() * 5)) & 0xffff, timestamp: Math.floor(i / 3) * 3000, marker: rnd() < 0.3, payload: p }, i);
      frames += out.frames.length;
      asm.poll(i + 50);
    }
    assert.ok(asm.stats.packets === 5000, `${codec}: every packet counted (${frames} frames out, ${asm.stats.unreadable} unreadable)`);
  }
});

test.run();
