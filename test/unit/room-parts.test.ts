// The room's parts split out of Room and Monitor, with stand-ins for the mixer and the sessions:
// MixDelivery (which rungs are encoded: watched, switching, tapped, always-on; a rung switch on
// its keyframe), RoomVoices (voice commands, AGC gains and the speaker on its 100 ms tick),
// roomOptions (defaults, the environment), CallSetup (sessions to first media, the ratio).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { MixDelivery } from '../../server/rooms/MixDelivery.ts';
import { RoomVoices } from '../../server/rooms/RoomVoices.ts';
import { roomOptions } from '../../server/rooms/options.ts';
import { CallSetup } from '../../server/stats/CallSetup.ts';
import { monitorMetrics } from '../../server/stats/metrics.ts';
import { DEFAULT_ALWAYS_ON_RUNGS, parseAlwaysOnRungs } from '../../pipeline/ladder.ts';

const ALWAYS_ON_RUNG = '720p';
import { videoStreamKey } from '../../pipeline/mixer/streamKey.ts';
import { DEFAULT_ROOM_AUDIO, type SlotVoice } from '../../pipeline/audio/voice.ts';
import type { Participant, Subscription } from '../../server/rooms/types.ts';

/** A packet whose first byte says whether it starts a keyframe (the stand-in track reads it). */
const pkt = (key: boolean) => Buffer.from([key ? 1 : 0, 0]);

function subscription(rung: string | null): Subscription {
  const video = { forward: () => true, isKeyframeStart: (p: Buffer) => p[0] === 1, needsKeyframe: false, resetFeedback: () => {} };
  return { id: `s-${rung}`, rung, pendingRung: null, participantId: null, egress: { video, audio: null, connectedAt: 1 } } as unknown as Subscription;
}

function delivery(subs: Subscription[], publishers = 1) {
  const calls = { rungs: [] as string[][], periodic: [] as string[][], keyframes: [] as string[] };
  const d = new MixDelivery(
    () => ({
      slotOf: () => -1,
      setRungs: (ids) => calls.rungs.push([...ids].sort()),
      setPeriodicKeyframes: (ids) => calls.periodic.push([...ids].sort()),
      requestKeyframe: (r) => calls.keyframes.push(r),
    }),
    { subscriptions: () => subs, alwaysOnRungs: () => (publishers > 0 ? [ALWAYS_ON_RUNG] : []), publish: () => {} },
    0, // no linger: an unwatched rung goes at once (the linger has its own test, rung-linger)
  );
  d.rebuildRoutes();
  return { d, calls };
}

test('MixDelivery: periodic keyframes only on rungs a subscription that cannot ask watches (or switches to)', () => {
  const browser = subscription('720p');
  const recorder = subscription('360p');
  (recorder as any).periodicKeyframes = true;
  const { d, calls } = delivery([browser, recorder]);
  d.updateRungs();
  assert.equal(calls.periodic.at(-1), ['360p'], 'the browser asks with PLI: its rung gets none unasked');
  recorder.pendingRung = '180p';
  d.updateRungs();
  assert.equal(calls.periodic.at(-1), ['180p', '360p']);
});

test('MixDelivery encodes the watched rungs, the pending ones and the always-on one while anyone publishes', () => {
  const a = subscription('360p');
  const b = subscription(null);
  b.pendingRung = '180p';
  const { d, calls } = delivery([a, b]);
  d.updateRungs();
  assert.equal(calls.rungs.at(-1), ['180p', '360p', ALWAYS_ON_RUNG].sort());
  const empty = delivery([a], 0);
  empty.d.updateRungs();
  assert.equal(empty.calls.rungs.at(-1), ['360p'], 'no publisher: only what is watched');
});

test('MIX_ALWAYS_ON_RUNGS: 720p and 360p by default, a list, none, and an unknown rung named', () => {
  assert.equal(parseAlwaysOnRungs(undefined), [...DEFAULT_ALWAYS_ON_RUNGS]);
  assert.equal(DEFAULT_ALWAYS_ON_RUNGS, ['720p', '360p'], 'the step-down rung is encoded before anyone needs it');
  assert.equal(parseAlwaysOnRungs(' 360p-h264, 720p ,360p'), ['720p', '360p', '360p-h264']);
  assert.equal(parseAlwaysOnRungs(''), []);
  assert.throws(() => parseAlwaysOnRungs('720p,1080p'), /MIX_ALWAYS_ON_RUNGS: unknown rung "1080p"/);
  assert.equal(roomOptions({}, { MIX_ALWAYS_ON_RUNGS: '720p' }).alwaysOnRungs, ['720p']);
});

test('MixDelivery: a tap’s rungs are encoded from a keyframe while it is fed, and no longer after', () => {
  const { d, calls } = delivery([], 0);
  const remove = d.addTap({ rungs: ['720p-h264'], video: () => {}, audio: () => {} });
  assert.equal(calls.rungs.at(-1), ['720p-h264']);
  assert.equal(calls.keyframes, ['720p-h264']);
  assert.ok(remove());
  d.updateRungs();
  assert.equal(calls.rungs.at(-1), []);
});

test('MixDelivery: a rung switch on the new rung’s keyframe re-picks the encoded rungs', () => {
  const s = subscription(ALWAYS_ON_RUNG);
  s.pendingRung = '360p';
  const { d, calls } = delivery([s], 0);
  d.updateRungs();
  assert.equal(calls.rungs.at(-1), ['360p', ALWAYS_ON_RUNG].sort());
  d.route(videoStreamKey('360p'), pkt(false), 0, null);
  assert.is(s.rung, ALWAYS_ON_RUNG, 'not on an inter frame');
  d.route(videoStreamKey('360p'), pkt(true), 0, null);
  assert.is(s.rung, '360p');
  assert.equal(calls.rungs.at(-1), ['360p'], 'the old rung is no longer encoded');
});

function participant(id: string, processing: boolean): Participant {
  return { id, processing, meter: { rider: { gainDb: id === 'a' ? 4.5 : -2 } } } as unknown as Participant;
}

function voices(ps: Participant[], audio = { ...DEFAULT_ROOM_AUDIO }) {
  const calls = { voice: new Map<string, SlotVoice>(), gains: new Map<string, number>(), limiter: [] as boolean[], speakers: [] as string[], ticks: 0 };
  const v = new RoomVoices(
    { setVoice: (id, x) => calls.voice.set(id, x), setGain: (id, db) => calls.gains.set(id, db), setLimiter: (on) => calls.limiter.push(on) },
    { participants: () => ps, audio: () => audio, speakerChanged: (id) => calls.speakers.push(id), ticked: () => calls.ticks++ },
  );
  return { v, calls, audio };
}

async function until(what: string, ok: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('RoomVoices: processing from the room’s switches and each participant’s flag; the limiter', () => {
  const a = participant('a', true);
  const b = participant('b', false);
  const { v, calls, audio } = voices([a, b]);
  try {
    v.joined(a);
    assert.equal(calls.voice.get('a'), { highpass: true, denoise: true, agc: true });
    audio.denoise = false;
    audio.limiter = false;
    v.apply();
    assert.equal(calls.voice.get('a'), { highpass: true, denoise: false, agc: true });
    assert.equal(calls.voice.get('b'), { highpass: false, denoise: false, agc: false }, 'processing off: untouched');
    assert.equal(calls.limiter, [false]);
  } finally {
    v.close();
  }
});

test('RoomVoices: each tick rides every AGC gain to the mixer; a voice that dominates becomes the speaker', async () => {
  const a = participant('a', true);
  const b = participant('b', true);
  const { v, calls } = voices([a, b]);
  // Levels as PublisherLink feeds them: a loud, b silent, refreshed well within the detector's hold.
  const feed = setInterval(() => {
    v.level('a', -20, performance.now());
    v.level('b', -90, performance.now());
  }, 20);
  try {
    await until('a tick', () => calls.ticks > 0);
    assert.equal([...calls.gains], [['a', 4.5], ['b', -2]]);
    await until('a speaker change', () => calls.speakers.length > 0);
    assert.equal(calls.speakers, ['a']);
    assert.is(v.current, 'a');
    assert.is(v.recent()[0], 'a');
    v.left('a');
    assert.is(v.current, null, 'a speaker who leaves is no longer the speaker');
  } finally {
    clearInterval(feed);
    v.close();
  }
  const ticks = calls.ticks;
  await new Promise((r) => setTimeout(r, 250));
  assert.is(calls.ticks, ticks, 'close() stops the tick');
});

test('roomOptions: defaults, the timeouts from the environment, given values (undefined: the default)', () => {
  const o = roomOptions({ limits: undefined, stalledRemoveMs: 123 }, { SESSION_CONNECT_TIMEOUT_MS: '3000' });
  assert.equal(o.limits, { maxParticipants: 16, maxSubscribers: 500 });
  assert.is(o.stalledRemoveMs, 123);
  assert.is(o.connectTimeoutMs, 3000);
  assert.is(o.subscriberSilentMs, 5000);
  assert.is(roomOptions({}, { PUBLISHER_STALLED_REMOVE_MS: '2000' }).stalledRemoveMs, 2000);
  assert.throws(() => roomOptions({}, { SUBSCRIBER_SILENT_MIN_MS: 'soon' }), /SUBSCRIBER_SILENT_MIN_MS/);
});

test('CallSetup: sessions reaching media, failing after 10 s, pending; the ratio over those decided', async () => {
  const m = monitorMetrics();
  const setup = new CallSetup(m);
  setup.created('w1', 'whip');
  setup.created('w2', 'whep');
  setup.created('w3', 'whep');
  const t = Date.now();
  setup.media('w1', t, t, t);
  setup.media('w1', t, t, t); // once only
  assert.equal(setup.summary(), { reachedMedia: 1, failed: 0, pending: 2, successRate: 1 });
  setup.expire(t + 11_000); // w2 and w3 had no media within 10 s
  assert.equal(setup.summary(), { reachedMedia: 1, failed: 2, pending: 0, successRate: 1 / 3 });
  assert.is((await m.setupSuccess.get()).values[0].value, 1 / 3);
  assert.is((await m.reached.get()).values.find((x) => x.labels.session === 'whip')?.value, 1);
  assert.is((await m.attempted.get()).values.find((x) => x.labels.session === 'whep')?.value, 2);
  setup.media('w2', t, t, t);
  assert.is(setup.summary().reachedMedia, 1, 'a decided session is forgotten');
});

test.run();
