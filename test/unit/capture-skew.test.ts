import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CaptureSkew } from '../../pipeline/rtp/CaptureSkew.ts';

// A publisher whose clock is 123 456 ms off the server's: its audio leaves 25 ms after capture
// (a 20 ms Opus frame after a capture buffer), its video 3 ms after; the network adds 2 ms and
// a burst or a queue now and then holds a packet longer.
const OFFSET = 123_456;
const A_SSRC = 1111;
const V_SSRC = 2222;

function feed(skew: CaptureSkew, seconds: number, audioPathMs: number, videoPathMs: number, startMs = 0): void {
  skew.onSenderReport(A_SSRC, startMs - OFFSET, 1000);
  skew.onSenderReport(V_SSRC, startMs - OFFSET, 5000);
  for (let t = 0; t < seconds * 1000; t += 20) {
    const late = (t / 20) % 7 === 3 ? 30 : 0; // every 7th packet held
    skew.onPacket('audio', A_SSRC, (1000 + t * 48) >>> 0, startMs + t + audioPathMs + 2 + late);
  }
  for (let t = 0; t < seconds * 1000; t += 33) {
    const late = (t / 33) % 5 === 1 ? 12 : 0;
    skew.onPacket('video', V_SSRC, (5000 + t * 90) >>> 0, startMs + t + videoPathMs + 2 + late);
  }
}

test('the audio lag is the difference of the two paths, whatever the clocks\' offset and the late packets', () => {
  const skew = new CaptureSkew();
  assert.is(skew.audioLagMs(), null);
  feed(skew, 3, 25, 3);
  assert.ok(Math.abs(skew.audioLagMs()! - 22) < 0.01, String(skew.audioLagMs()));
});

test('unknown until both kinds have a report; packets before a report count for nothing', () => {
  const skew = new CaptureSkew();
  skew.onPacket('audio', A_SSRC, 1000, 50);
  skew.onSenderReport(A_SSRC, -OFFSET, 1000);
  skew.onPacket('audio', A_SSRC, 1000, 40);
  assert.is(skew.audioLagMs(), null);
  skew.onPacket('video', V_SSRC, 5000, 10); // no video report yet
  assert.is(skew.audioLagMs(), null);
  skew.onSenderReport(V_SSRC, -OFFSET, 5000);
  skew.onPacket('video', V_SSRC, 5000, 10);
  assert.ok(Math.abs(skew.audioLagMs()! - 30) < 0.01);
});

test('a path that changes is followed within two windows; a timestamp wrap comes out right', () => {
  const skew = new CaptureSkew();
  feed(skew, 3, 25, 3);
  // The publisher's audio path shortens by 10 ms (its capture buffer shrank).
  feed(skew, 10, 15, 3, 3000);
  assert.ok(Math.abs(skew.audioLagMs()! - 12) < 0.01, String(skew.audioLagMs()));
  const wrap = new CaptureSkew();
  wrap.onSenderReport(A_SSRC, 0, 4_294_967_000);
  wrap.onSenderReport(V_SSRC, 0, 4_294_967_000);
  wrap.onPacket('audio', A_SSRC, 4_704, 127 + 30); // 5 000 ticks = 104.2 ms after the report, past the wrap
  wrap.onPacket('video', V_SSRC, 4_704, (5000 / 90) + 10);
  assert.ok(Math.abs(wrap.audioLagMs()! - (127 + 30 - 5000 / 48 - 10)) < 0.01, String(wrap.audioLagMs()));
});

test('a sender that invents SSRCs cannot grow the table', () => {
  const skew = new CaptureSkew();
  for (let s = 0; s < 1000; s++) skew.onSenderReport(s, 0, 0);
  assert.is((skew as unknown as { mappings: Map<number, unknown> }).mappings.size, 16);
});

test.run();
