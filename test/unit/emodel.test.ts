import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { effectiveLatencyMs, estimateMos, mosFromR, mosGrade, rFactor } from '../../pipeline/quality/emodel.ts';

test('R = 93.2 maps to MOS ≈ 4.41 (G.107 default)', () => {
  assert.ok(Math.abs(mosFromR(93.2) - 4.41) < 0.01, String(mosFromR(93.2)));
});

test('0 % loss, 20 ms RTT, 2 ms jitter: MOS ≈ 4.4', () => {
  const mos = estimateMos({ rttMs: 20, jitterMs: 2, lossPercent: 0 });
  assert.ok(mos > 4.35 && mos < 4.45, String(mos));
  assert.is(mosGrade(mos), 'good');
});

test('worked value: 100 ms RTT, 10 ms jitter, 1 % loss', () => {
  // latency = 50 + 20 + 10 = 80 ms; R = 93.2 - 2 - 2.5 = 88.7
  assert.is(effectiveLatencyMs({ rttMs: 100, jitterMs: 10 }), 80);
  assert.ok(Math.abs(rFactor({ rttMs: 100, jitterMs: 10, lossPercent: 1 }) - 88.7) < 1e-9);
  const mos = estimateMos({ rttMs: 100, jitterMs: 10, lossPercent: 1 });
  assert.ok(Math.abs(mos - mosFromR(88.7)) < 1e-9);
  assert.ok(mos > 4.2 && mos < 4.35, String(mos));
});

test('long delay is penalised past 160 ms', () => {
  const r = rFactor({ rttMs: 400, jitterMs: 0, lossPercent: 0 }); // latency 210 ms
  assert.ok(Math.abs(r - (93.2 - 9)) < 1e-9);
});

test('heavy loss → poor; total loss → 1', () => {
  const mos = estimateMos({ rttMs: 50, jitterMs: 5, lossPercent: 20 });
  assert.ok(mos < 3, String(mos));
  assert.is(mosGrade(mos), 'poor');
  assert.is(estimateMos({ rttMs: 50, jitterMs: 5, lossPercent: 100 }), 1);
  assert.is(mosFromR(120), 4.5);
});

test.run();
