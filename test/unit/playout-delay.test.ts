import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { addHeaderExtension, parsePlayoutDelay, playoutDelayBytes } from '../../pipeline/rtp/PlayoutDelay.ts';

function rtp(opts: { csrcs?: number; ext?: Buffer } = {}): Buffer {
  const csrcs = opts.csrcs ?? 0;
  const head = Buffer.alloc(12 + csrcs * 4);
  head[0] = 0x80 | csrcs | (opts.ext ? 0x10 : 0);
  head[1] = 96;
  head.writeUInt16BE(4242, 2);
  head.writeUInt32BE(90000, 4);
  head.writeUInt32BE(0xdeadbeef, 8);
  for (let i = 0; i < csrcs; i++) head.writeUInt32BE(100 + i, 12 + i * 4);
  return Buffer.concat([head, opts.ext ?? Buffer.alloc(0), Buffer.from('payload!')]);
}

/** The one-byte-header elements of a packet: id → data. */
function elements(p: Buffer): Map<number, Buffer> {
  const start = 12 + (p[0] & 0x0f) * 4;
  assert.is(p.readUInt16BE(start), 0xbede);
  const end = start + 4 + p.readUInt16BE(start + 2) * 4;
  const out = new Map<number, Buffer>();
  for (let i = start + 4; i < end; ) {
    if (p[i] === 0) { i++; continue; }
    const id = p[i] >> 4;
    const len = (p[i] & 0x0f) + 1;
    out.set(id, p.subarray(i + 1, i + 1 + len));
    i += 1 + len;
  }
  return out;
}

test('min and max in 10 ms units, 12 bits each, max never below min', () => {
  assert.equal([...playoutDelayBytes(0, 0)], [0, 0, 0]);
  assert.equal([...playoutDelayBytes(100, 400)], [0x00, 0xa0, 0x28]); // 10, 40
  assert.equal([...playoutDelayBytes(50, 10)], [0x00, 0x50, 0x05]); // max raised to min
  assert.equal([...playoutDelayBytes(1e9, 1e9)], [0xff, 0xff, 0xff]);
});

test('a packet without extensions gets the element; header, CSRCs and payload are kept', () => {
  for (const csrcs of [0, 2]) {
    const p = rtp({ csrcs });
    const out = addHeaderExtension(p, 5, playoutDelayBytes(0, 0));
    assert.is(out[0] & 0x10, 0x10);
    assert.is(out.length, p.length + 8);
    assert.equal([...elements(out).get(5)!], [0, 0, 0]);
    assert.equal(out.subarray(1, 12 + csrcs * 4), p.subarray(1, 12 + csrcs * 4));
    assert.is(out.subarray(out.length - 8).toString(), 'payload!');
  }
});

test('a packet with one-byte extensions keeps them and gets the new one after them', () => {
  // mid "1" (id 4) and a 2-byte element (id 3), padded to 8 bytes.
  const ext = Buffer.from([0xbe, 0xde, 0x00, 0x02, 0x40, 0x31, 0x31, 0xaa, 0xbb, 0, 0, 0]);
  const p = rtp({ ext });
  const out = addHeaderExtension(p, 5, playoutDelayBytes(0, 100));
  const el = elements(out);
  assert.is(el.get(4)!.toString(), '1');
  assert.equal([...el.get(3)!], [0xaa, 0xbb]);
  assert.equal([...el.get(5)!], [0, 0, 10]);
  assert.is(out.subarray(out.length - 8).toString(), 'payload!');
});

test('what it cannot extend comes back as it was', () => {
  const twoByte = rtp({ ext: Buffer.from([0x10, 0x00, 0x00, 0x01, 1, 1, 0, 0]) });
  assert.is(addHeaderExtension(twoByte, 5, Buffer.from([0])), twoByte);
  const short = Buffer.alloc(8);
  assert.is(addHeaderExtension(short, 5, Buffer.from([0])), short);
  const p = rtp();
  assert.is(addHeaderExtension(p, 15, Buffer.from([0])), p);
  assert.is(addHeaderExtension(p, 5, Buffer.alloc(17)), p);
});

test('EGRESS_PLAYOUT_DELAY: "min,max" in ms; unset means off; anything else is refused', () => {
  assert.is(parsePlayoutDelay(undefined), null);
  assert.is(parsePlayoutDelay(' '), null);
  assert.equal(parsePlayoutDelay('0,0'), { minMs: 0, maxMs: 0 });
  assert.equal(parsePlayoutDelay(' 0 , 100 '), { minMs: 0, maxMs: 100 });
  for (const bad of ['0', '100,0', '-1,0', '0,50000', 'a,b', '0,0,0']) assert.throws(() => parsePlayoutDelay(bad), /EGRESS_PLAYOUT_DELAY/);
});

test.run();
