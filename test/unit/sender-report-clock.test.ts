import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ntpFromUnixMs, SenderReportClock, unixMsFromNtp } from '../../pipeline/rtp/SenderReportClock.ts';

test('NTP from Unix ms: seconds since 1900 and a true 2^-32 fraction', () => {
  const ntp = ntpFromUnixMs(1_000_000_000_250);
  assert.is(Number(ntp >> 32n), 1_000_000_000 + 2_208_988_800);
  assert.is(Number(ntp & 0xffffffffn), 2 ** 30, 'a quarter of a second');
  for (const ms of [0, 1764150000123.4, 1764150000999.9]) assert.ok(Math.abs(unixMsFromNtp(ntpFromUnixMs(ms)) - ms) < 0.001);
});

test('bursty sends: the mapping follows the earliest packets, not the late ones', () => {
  const clock = new SenderReportClock(48000);
  const t0 = 1_764_150_000_000;
  const base = 4_294_000_000; // wraps during the run
  const mapped: number[] = [];
  for (let i = 0; i < 200; i++) {
    // Every 16th packet leaves 0-40 ms late (bursts), the rest on time.
    const late = i % 16 === 15 ? 40 : i % 16 === 0 && i ? 0 : (i * 7) % 3;
    const ts = (base + i * 960) >>> 0;
    mapped.push(clock.map(ts, t0 + i * 20 + late) - (t0 + i * 20));
  }
  // After the first on-time packet the mapping sits within the on-time jitter (≤ 2 ms).
  for (const m of mapped.slice(2)) assert.ok(m >= -0.5 && m <= 2.01, `mapping error ${m.toFixed(2)} ms`);
});

test('audio and video sent with different delays map to their own send lines on one clock', () => {
  const a = new SenderReportClock(48000);
  const v = new SenderReportClock(90000);
  const t0 = 1_764_150_000_000;
  let va = 0;
  let vv = 0;
  for (let i = 0; i < 100; i++) va = a.map(i * 960, t0 + i * 20 + 5) - (t0 + i * 20);
  for (let i = 0; i < 60; i++) vv = v.map(i * 3000, t0 + i * (100 / 3) + 30) - (t0 + i * (100 / 3));
  assert.ok(Math.abs(va - 5) < 0.01 && Math.abs(vv - 30) < 0.01, `audio ${va}, video ${vv}`);
});

test('a jump of timestamps against the clock starts the mapping over', () => {
  const c = new SenderReportClock(90000);
  const t0 = 1000;
  for (let i = 0; i < 30; i++) c.map(i * 3000, t0 + i * 33.333);
  // The source switched: timestamps jump 10 s ahead with no wall time passing.
  const m = c.map(30 * 3000 + 900_000, t0 + 30 * 33.333);
  assert.ok(Math.abs(m - (t0 + 30 * 33.333)) < 0.01, `remapped to the send time: ${m}`);
});

test.run();
