import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { figures, ingestCounters, intervalLossPercent, parseTelemetry, zeroCounters } from '../../pipeline/quality/figures.ts';

test('interval loss, bitrate and fps from two samples', () => {
  const a = { atMs: 0, bytes: 0, packets: 0, packetsLost: 0, frames: 0 };
  const b = { atMs: 2000, bytes: 250_000, packets: 190, packetsLost: 10, frames: 60 };
  assert.is(intervalLossPercent(a, b), 5);
  const f = figures(a, b, { rttMs: 20, jitterMs: 2 });
  assert.is(f.bitrateKbps, 1000);
  assert.is(f.fps, 30);
  assert.ok(f.mos < 4.3 && f.mos > 3.5, String(f.mos));
});

test('reads wrtc-style stats', () => {
  const r = ingestCounters(
    [
      { type: 'inbound-rtp', kind: 'video', bytesReceived: 1000, packetsReceived: 10, packetsLost: 1, framesDecoded: 30, jitter: 0.004 },
      { type: 'inbound-rtp', kind: 'audio', bytesReceived: 500, packetsReceived: 50, packetsLost: 0, jitter: 0.002 },
      { type: 'candidate-pair', nominated: true, state: 'succeeded', currentRoundTripTime: 0.012 },
    ],
    5,
  );
  assert.equal(r.counters, { atMs: 5, bytes: 1500, packets: 60, packetsLost: 1, frames: 30 });
  assert.is(r.rttMs, 12);
  assert.ok(Math.abs(r.jitterMs! - 3) < 1e-9);
  assert.equal(zeroCounters(1).bytes, 0);
});

test('telemetry validation says what is wrong', () => {
  assert.equal(parseTelemetry({ role: 'subscriber', session: 'abc-1', rttMs: 30, lossPercent: 1 }), {
    role: 'subscriber', session: 'abc-1', rttMs: 30, lossPercent: 1,
  });
  assert.match(parseTelemetry(null) as string, /JSON object/);
  assert.match(parseTelemetry({ role: 'x', session: 'a' }) as string, /role/);
  assert.match(parseTelemetry({ role: 'publisher', session: '../x' }) as string, /session/);
  assert.match(parseTelemetry({ role: 'publisher', session: 'a', lossPercent: 150 }) as string, /lossPercent/);
  assert.match(parseTelemetry({ role: 'publisher', session: 'a', rttMs: 'fast' }) as string, /rttMs/);
  assert.match(parseTelemetry({ role: 'publisher', session: 'a', evil: 1 }) as string, /unknown field/);
});

test.run();
