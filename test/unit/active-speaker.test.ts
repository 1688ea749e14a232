import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ActiveSpeakerDetector, levelDbfs } from '../../pipeline/audio/ActiveSpeaker.ts';

/** Feeds levels every 20 ms from `from` to `to` ms; returns the switches that happened. */
function run(d: ActiveSpeakerDetector, from: number, to: number, levels: (t: number) => Record<string, number>) {
  const switches: Array<[number, string]> = [];
  for (let t = from; t < to; t += 20) {
    for (const [id, l] of Object.entries(levels(t))) d.update(id, l, t);
    const s = d.tick(t);
    if (s) switches.push([t, s]);
  }
  return switches;
}

test('levelDbfs: full-scale sine ≈ -3 dB, zeros = -100', () => {
  const sine = new Int16Array(4800).map((_, i) => Math.round(32767 * Math.sin((2 * Math.PI * 1000 * i) / 48000)));
  assert.ok(Math.abs(levelDbfs(sine) + 3.01) < 0.1, String(levelDbfs(sine)));
  assert.is(levelDbfs(new Int16Array(480)), -100);
});

test('a loud participant becomes the speaker within about a second', () => {
  const d = new ActiveSpeakerDetector();
  const s = run(d, 0, 3000, () => ({ a: -20, b: -45, c: -60 }));
  assert.is(s.length, 1);
  assert.is(s[0][1], 'a');
  assert.ok(s[0][0] >= 1000 && s[0][0] <= 1600, `switched at ${s[0][0]}`);
  assert.is(d.current, 'a');
});

test('a short cough does not take the floor; a sustained louder voice does after ~1 s', () => {
  const d = new ActiveSpeakerDetector();
  run(d, 0, 3000, () => ({ a: -25, b: -70 }));
  const cough = run(d, 3000, 6000, (t) => ({ a: -25, b: t >= 4000 && t < 4300 ? -10 : -70 }));
  assert.equal(cough, []);
  const takeover = run(d, 6000, 9000, () => ({ a: -40, b: -15 }));
  assert.is(takeover.length, 1);
  assert.is(takeover[0][1], 'b');
  assert.ok(takeover[0][0] - 6000 <= 1600, `after ${takeover[0][0] - 6000} ms`);
});

test('alternating loud bursts switch at most once per 2 s', () => {
  const d = new ActiveSpeakerDetector();
  const s = run(d, 0, 20_000, (t) => (Math.floor(t / 1300) % 2 ? { a: -15, b: -60 } : { a: -60, b: -15 }));
  for (let i = 1; i < s.length; i++) assert.ok(s[i][0] - s[i - 1][0] >= 2000, JSON.stringify(s));
});

test('silence keeps the last speaker; removal clears it; recent speakers are ordered', () => {
  const d = new ActiveSpeakerDetector();
  run(d, 0, 2000, () => ({ a: -20, b: -70 }));
  run(d, 2000, 6000, () => ({ a: -20, b: -10 }));
  assert.is(d.current, 'b');
  run(d, 6000, 9000, () => ({ a: -90, b: -90 }));
  assert.is(d.current, 'b');
  assert.equal(d.recent(), ['b', 'a']);
  d.remove('b');
  assert.is(d.current, null);
  assert.equal(d.recent(), ['a']);
});

test.run();
