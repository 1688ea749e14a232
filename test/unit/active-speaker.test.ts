import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ActiveSpeakerDetector, DEFAULT_SPEAKER_CONFIG, levelDbfs } from '../../pipeline/audio/ActiveSpeaker.ts';

/** Feeds levels every 20 ms from `from` to `to` ms (ticking after each step); returns the switches. */
function run(d: ActiveSpeakerDetector, from: number, to: number, levels: (t: number) => Record<string, number>) {
  const switches: Array<[number, string]> = [];
  for (let t = from; t < to; t += 20) {
    for (const [id, l] of Object.entries(levels(t))) d.update(id, l, t);
    const s = d.tick(t);
    if (s) switches.push([t, s]);
  }
  return switches;
}

test('defaults', () => {
  assert.equal(
    { ...DEFAULT_SPEAKER_CONFIG, smoothingMs: undefined },
    { windowMs: 1000, minSwitchIntervalMs: 2000, voiceThresholdDb: -50, marginDb: 6, smoothingMs: undefined },
  );
});

test('levelDbfs: full-scale sine ≈ -3 dB, half scale ≈ -9 dB, zeros and empty = -100', () => {
  const sine = (amp: number) => new Int16Array(4800).map((_, i) => Math.round(amp * Math.sin((2 * Math.PI * 1000 * i) / 48000)));
  assert.ok(Math.abs(levelDbfs(sine(32767)) + 3.01) < 0.1, String(levelDbfs(sine(32767))));
  assert.ok(Math.abs(levelDbfs(sine(16384)) + 9.03) < 0.1, String(levelDbfs(sine(16384))));
  assert.is(levelDbfs(new Int16Array(480)), -100);
  assert.is(levelDbfs(new Int16Array(0)), -100);
  assert.ok(Math.abs(levelDbfs(new Int16Array([1])) + 90.3) < 0.1, 'one LSB ≈ -90 dBFS');
});

test('a loud participant becomes the speaker within about a second', () => {
  const d = new ActiveSpeakerDetector();
  assert.is(d.current, null);
  const s = run(d, 0, 3000, () => ({ a: -20, b: -45, c: -60 }));
  assert.is(s.length, 1);
  assert.is(s[0][1], 'a');
  assert.ok(s[0][0] >= 1000 && s[0][0] <= 1300, `switched at ${s[0][0]}`);
  assert.is(d.current, 'a');
});

test('silence everywhere from the start: nobody is the speaker', () => {
  const d = new ActiveSpeakerDetector();
  assert.equal(run(d, 0, 5000, () => ({ a: -70, b: -100 })), []);
  assert.is(d.current, null);
  assert.equal(d.recent(), []);
});

test('a short cough does not take the floor; a sustained louder voice does after ~1 s', () => {
  const d = new ActiveSpeakerDetector();
  run(d, 0, 3000, () => ({ a: -25, b: -70 }));
  const cough = run(d, 3000, 6000, (t) => ({ a: -25, b: t >= 4000 && t < 4300 ? -10 : -70 }));
  assert.equal(cough, []);
  assert.is(d.current, 'a');
  const takeover = run(d, 6000, 9000, () => ({ a: -40, b: -15 }));
  assert.equal(takeover.map(([, id]) => id), ['b']);
  const after = takeover[0][0] - 6000;
  assert.ok(after >= 1000 && after <= 1500, `after ${after} ms`);
});

test('a louder voice within the margin does not take over', () => {
  const d = new ActiveSpeakerDetector();
  run(d, 0, 2000, () => ({ a: -25, b: -70 }));
  assert.equal(run(d, 2000, 8000, () => ({ a: -25, b: -21 })), []);
  assert.is(d.current, 'a');
});

test('a pause shorter than the window keeps the speaker; a longer silence hands over to a quieter voice', () => {
  const d = new ActiveSpeakerDetector();
  run(d, 0, 3000, () => ({ a: -20, b: -45 }));
  assert.is(d.current, 'a');
  // a pauses for 600 ms while b keeps talking quietly.
  assert.equal(run(d, 3000, 6000, (t) => ({ a: t >= 4000 && t < 4600 ? -90 : -20, b: -45 })), []);
  // a stops talking: b, though quiet, is the only voice and takes the floor.
  const s = run(d, 6000, 9000, () => ({ a: -90, b: -45 }));
  assert.equal(s.map(([, id]) => id), ['b']);
  assert.ok(s[0][0] - 6000 <= 1600, `after ${s[0][0] - 6000} ms`);
});

test('alternating loud bursts switch at most once per 2 s', () => {
  const d = new ActiveSpeakerDetector();
  const s = run(d, 0, 20_000, (t) => (Math.floor(t / 1300) % 2 ? { a: -15, b: -60 } : { a: -60, b: -15 }));
  assert.ok(s.length >= 2, JSON.stringify(s));
  for (let i = 1; i < s.length; i++) assert.ok(s[i][0] - s[i - 1][0] >= 2000, JSON.stringify(s));
});

test('silence keeps the last speaker; removal clears it; recent speakers are ordered', () => {
  const d = new ActiveSpeakerDetector();
  run(d, 0, 2000, () => ({ a: -20, b: -70, c: -80 }));
  run(d, 2000, 6000, () => ({ a: -20, b: -10, c: -80 }));
  assert.is(d.current, 'b');
  run(d, 6000, 9000, () => ({ a: -90, b: -90, c: -90 }));
  assert.is(d.current, 'b');
  assert.equal(d.recent(), ['b', 'a'], 'c never spoke');
  d.remove('b');
  assert.is(d.current, null);
  assert.equal(d.recent(), ['a']);
});

test('after the speaker leaves, the loudest remaining voice takes over after the window', () => {
  const d = new ActiveSpeakerDetector();
  run(d, 0, 3000, () => ({ a: -20, b: -35 }));
  assert.is(d.current, 'a');
  d.remove('a');
  assert.is(d.current, null);
  const s = run(d, 3000, 6000, () => ({ b: -35 }));
  assert.equal(s.map(([, id]) => id), ['b']);
  assert.ok(s[0][0] - 3000 >= 1000 && s[0][0] - 3000 <= 1300, `after ${s[0][0] - 3000} ms`);
});

test('a participant whose audio stops arriving counts as silent', () => {
  const d = new ActiveSpeakerDetector();
  run(d, 0, 3000, () => ({ a: -20, b: -30 }));
  assert.is(d.current, 'a');
  const s = run(d, 3000, 6000, () => ({ b: -30 }));
  assert.equal(s.map(([, id]) => id), ['b']);
});

test('a brief dominant voice counts as a recent speaker without taking the floor', () => {
  const d = new ActiveSpeakerDetector();
  run(d, 0, 3000, () => ({ a: -25, b: -70, c: -70 }));
  assert.equal(d.recent(), ['a']);
  // b shouts over a for 500 ms: the loudest voice, but not for long enough to take the floor.
  run(d, 3000, 3500, () => ({ a: -25, b: -10, c: -70 }));
  assert.is(d.current, 'a');
  assert.equal(d.recent(), ['a', 'b'], 'both heard at the last tick: the current speaker first');
  // a falls silent, b keeps the (quieter) floor-less voice going for a moment.
  run(d, 3500, 3700, () => ({ a: -90, b: -30, c: -70 }));
  assert.is(d.current, 'a');
  assert.equal(d.recent(), ['b', 'a']);
});

test('config is honoured', () => {
  const d = new ActiveSpeakerDetector({ windowMs: 200, voiceThresholdDb: -30 });
  assert.equal(run(d, 0, 2000, () => ({ a: -35 })), [], 'below the custom threshold');
  const s = run(d, 2000, 3000, () => ({ a: -20 }));
  assert.equal(s.map(([, id]) => id), ['a']);
  assert.ok(s[0][0] - 2000 <= 500, `after ${s[0][0] - 2000} ms`);
});

test('non-finite levels are treated as silence', () => {
  const d = new ActiveSpeakerDetector();
  assert.equal(run(d, 0, 3000, () => ({ a: -Infinity, b: Number.NaN })), []);
  assert.is(d.current, null);
});

test.run();
