import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CaptureSkew } from '../../pipeline/rtp/CaptureSkew.ts';

// A publisher whose clock is 123 456 ms off the server's: its audio leaves 25 ms after capture
// (a 20 ms Opus frame after a capture buffer), its video 3 ms after; the network adds 2 ms and
// a burst or a queue now and then holds a packet longer. Media time t (ms) is RTP timestamp
// base + t × rate; the sender reports it every second, on its own clock.
const OFFSET = 123_456;
const A = { ssrc: 1111, kind: 'audio' as const, base: 1000, perMs: 48 };
const V = { ssrc: 2222, kind: 'video' as const, base: 5000, perMs: 90 };

function report(skew: CaptureSkew, s: typeof A | typeof V, t: number, ntpError = 0): void {
  skew.onSenderReport(s.ssrc, t - OFFSET + ntpError, (s.base + t * s.perMs) >>> 0, s.kind);
}

function feed(skew: CaptureSkew, fromMs: number, toMs: number, audioPathMs: number, videoPathMs: number): void {
  for (let t = fromMs; t < toMs; t += 1000) {
    report(skew, A, t);
    report(skew, V, t);
  }
  for (let t = fromMs; t < toMs; t += 20) {
    const late = (t / 20) % 7 === 3 ? 30 : 0; // every 7th packet held
    skew.onPacket('audio', A.ssrc, (A.base + t * 48) >>> 0, t + audioPathMs + 2 + late);
  }
  for (let t = fromMs; t < toMs; t += 33) {
    const late = Math.round(t / 33) % 5 === 1 ? 12 : 0;
    skew.onPacket('video', V.ssrc, (V.base + t * 90) >>> 0, t + videoPathMs + 2 + late);
  }
}

test('the audio lag is the difference of the two paths, whatever the clocks\' offset and the late packets', () => {
  const skew = new CaptureSkew();
  assert.is(skew.audioLagMs(), null);
  feed(skew, 0, 3000, 25, 3);
  assert.ok(Math.abs(skew.audioLagMs()! - 22) < 0.01, String(skew.audioLagMs()));
});

test('unknown until both kinds have two reports that agree; packets before count for nothing', () => {
  const skew = new CaptureSkew();
  report(skew, A, 0);
  report(skew, V, 0);
  skew.onPacket('audio', A.ssrc, A.base + 100 * 48, 100 + 30);
  skew.onPacket('video', V.ssrc, V.base + 100 * 90, 100 + 5);
  assert.is(skew.audioLagMs(), null); // one report each: not yet trusted
  report(skew, A, 1000);
  skew.onPacket('audio', A.ssrc, A.base + 1100 * 48, 1100 + 30);
  skew.onPacket('video', V.ssrc, V.base + 1100 * 90, 1100 + 5);
  assert.is(skew.audioLagMs(), null); // the video's not yet
  report(skew, V, 1000);
  skew.onPacket('video', V.ssrc, V.base + 1200 * 90, 1200 + 5);
  assert.ok(Math.abs(skew.audioLagMs()! - 25) < 0.01, String(skew.audioLagMs()));
});

test('reports whose NTP time does not follow their RTP time are not believed (werift\'s fraction)', () => {
  const skew = new CaptureSkew();
  // The audio's reports jump by hundreds of ms against its RTP clock, as werift's do.
  const jumps = [0, 370, -120, 610, 45, -300];
  for (let k = 0; k < 6; k++) {
    report(skew, A, k * 1000, jumps[k]);
    report(skew, V, k * 1000);
    for (let t = k * 1000; t < k * 1000 + 1000; t += 20) skew.onPacket('audio', A.ssrc, (A.base + t * 48) >>> 0, t + 27);
    for (let t = k * 1000; t < k * 1000 + 1000; t += 33) skew.onPacket('video', V.ssrc, (V.base + t * 90) >>> 0, t + 5);
  }
  assert.is(skew.audioLagMs(), null);
});

test('a lag no client has (over 150 ms, under -50) is not believed', () => {
  const skew = new CaptureSkew();
  feed(skew, 0, 3000, 400, 3);
  assert.is(skew.audioLagMs(), null);
});

test('a path that changes is followed within two windows; a timestamp wrap comes out right', () => {
  const skew = new CaptureSkew();
  feed(skew, 0, 3000, 25, 3);
  // The publisher's audio path shortens by 10 ms (its capture buffer shrank).
  feed(skew, 3000, 13000, 15, 3);
  assert.ok(Math.abs(skew.audioLagMs()! - 12) < 0.01, String(skew.audioLagMs()));
  const wrap = new CaptureSkew();
  for (const t of [0, 1000]) {
    wrap.onSenderReport(A.ssrc, t, (4_294_967_000 + t * 48) >>> 0, 'audio');
    wrap.onSenderReport(V.ssrc, t, (4_294_967_000 + t * 90) >>> 0, 'video');
  }
  // 5 000 ticks past the second report, across the wrap: audio 104.2 ms, video 55.6 ms of media.
  wrap.onPacket('audio', A.ssrc, (4_294_967_000 + 48_000 + 5000) >>> 0, 1000 + 5000 / 48 + 30);
  wrap.onPacket('video', V.ssrc, (4_294_967_000 + 90_000 + 5000) >>> 0, 1000 + 5000 / 90 + 10);
  assert.ok(Math.abs(wrap.audioLagMs()! - 20) < 0.01, String(wrap.audioLagMs()));
});

test('a sender that invents SSRCs cannot grow the table', () => {
  const skew = new CaptureSkew();
  for (let s = 0; s < 1000; s++) skew.onSenderReport(s, 0, 0, 'audio');
  assert.is((skew as unknown as { mappings: Map<number, unknown> }).mappings.size, 16);
});

test.run();
