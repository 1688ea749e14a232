// Voice processing in the mix, with real speech and real noise: espeak-ng speaks, FFmpeg's
// anoisesrc adds white noise, pre-encoded Opus loops are published over WHIP as real
// participants, and WHEP subscribers record what the mix sounds like. Every figure is printed;
// each assertion also checks the opposite setting, so the test can tell processing from none.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startServer, type RunningServer } from '../../server/main.ts';
import { RtpPublisher } from '../../bench/lib/RtpPublisher.ts';
import { WhepSubscriber } from '../../workers/clients/webrtc.ts';
import { toneLevelDb } from '../helpers/media.ts';
import { waitFor } from '../helpers/peers.ts';
import * as V from '../helpers/voice.ts';
import { hasBinary, skip } from '../helpers/skip.ts';

const SENTENCES = [
  'The quick brown fox jumps over the lazy dog, then rests.',
  'Please speak a little louder, I can hardly hear you.',
  'We will meet again on Tuesday to finish the plan.',
  'Every morning the train leaves the station at seven.',
];
const LONG = [
  'Good morning everyone, thank you for joining the weekly call, we have a long list of topics today and very little time.',
  'First the budget for next year, then the hiring plan, and finally the new office that opens in the spring, so let us begin.',
  'I have a question about the numbers on the second slide, could you explain where the growth in the third quarter came from.',
  'Before we move on I would like to add that the customer survey results arrived this morning and they look very promising.',
];

/** Each scenario's fixtures, made before any room runs (espeak-ng and the Opus encode are
 * synchronous in this process, the server's: made during another room's recording they would
 * stall its event loop, and so that room's audio). */
interface Fixtures {
  denoise: { clean: Float32Array; loop: V.VoiceLoop };
  level: { loud: Float32Array; quiet: Float32Array; loudLoop: V.VoiceLoop; quietLoop: V.VoiceLoop };
  tone: { sent: number; loop: V.VoiceLoop };
  limiter: { loops: Float32Array[]; opus: V.VoiceLoop[] };
}

interface Ctx {
  server: RunningServer;
  espeak: boolean;
  /** What the bad-input test opened (each scenario closes its own). */
  open: Array<{ close(): Promise<void> }>;
  runs: { denoise: Promise<DenoiseRun>; level: Promise<LevelRun>; untouched: Promise<UntouchedRun>; limiter: Promise<LimiterRun> };
}

const test = suite<Ctx>('voice processing');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A sentence at `db` dBFS RMS (while speaking), placed at `atSec` in a 10 s loop. */
function speech(text: string, db: number, atSec = 0.5): Float32Array {
  const s = V.speechLoop(text, atSec);
  const g = 10 ** (db / 20) / V.activeSpeechRms(s);
  return s.map((v) => v * g);
}

function fixtures(): Fixtures {
  const clean = speech(SENTENCES[0], -20);
  const loud = speech(SENTENCES[1], -20);
  const quiet = speech(SENTENCES[2], -40);
  const tone = V.sine(1000, 0.1); // reads -20 dB
  // -10 dBFS each: at -16 (AGC off) the four summed to only -4.6 dBFS in the mix without the
  // limiter (2026-11-26 run), under its -5 dBFS ceiling's reach, so nothing showed it working.
  const loops = LONG.map((t) => speech(t, -10, 0.2));
  return {
    denoise: { clean, loop: V.voiceLoop(clean, V.add(clean, V.whiteNoise(-30))) },
    level: { loud, quiet, loudLoop: V.voiceLoop(loud), quietLoop: V.voiceLoop(quiet) },
    tone: { sent: toneLevelDb(Int16Array.from(tone.subarray(0, 48000), (v) => Math.round(v * 32767)), 48000, 1000), loop: V.voiceLoop(tone) },
    limiter: { loops, opus: loops.map((l) => V.voiceLoop(l)) },
  };
}

type Open = Array<{ close(): Promise<void> }>;

async function publish(server: RunningServer, open: Open, room: string, loop: V.VoiceLoop): Promise<{ pub: RtpPublisher; id: string }> {
  const pub = await RtpPublisher.whip(`${server.url}/rooms/${room}/whip`, null, loop.opus);
  open.push(pub);
  return { pub, id: pub.location.split('/').pop()! };
}

async function subscribe(server: RunningServer, open: Open, room: string, participant?: string): Promise<WhepSubscriber> {
  const q = participant ? `?participant=${participant}` : '';
  const sub = await WhepSubscriber.start({ whepUrl: `${server.url}/rooms/${room}/whep${q}`, video: false, keepAudioSec: 12 });
  open.push(sub);
  await waitFor(() => sub.audio(1000).length >= 48000 * 0.9, 15_000, `${room}: the subscriber to receive audio`);
  return sub;
}

async function patch(server: RunningServer, path: string, body: unknown): Promise<any> {
  const res = await fetch(`${server.url}${path}`, { method: 'PATCH', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  const json = await res.json();
  if (res.status !== 200) throw new Error(`PATCH ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

/** Records one 10 s loop of what `sub` hears, and measures it against the clean reference. */
async function record(sub: WhepSubscriber, clean: Float32Array) {
  await sleep(10_500);
  const rec = V.int16ToFloat(sub.audio(10_000));
  const env = V.envelope(rec);
  // Piece by piece: the mixer's queue cuts a backlog and underruns insert silence while this
  // plays, so one lag for 10 s put speech onsets into "pauses" (twice in seven CI runs:
  // pauses only 6 dB quieter, an envelope r of 0.72; drained 114-130 ms a recording in B1).
  const a = V.alignPiecewise(env, V.envelope(clean));
  let peak = 0;
  for (const v of rec) peak = Math.max(peak, Math.abs(v));
  return {
    r: a.r,
    shiftMs: a.shiftFrames * 10,
    pauseDb: V.framesLevelDb(env, V.pauseFrames(a.ref)),
    speechDb: V.framesLevelDb(env, V.speechFrames(a.ref, V.db(V.activeSpeechRms(clean)) - 25)),
    peakDb: V.db(peak),
  };
}
type Recording = Awaited<ReturnType<typeof record>>;

const fmt = (v: number) => v.toFixed(1);

async function closeAll(open: Open): Promise<void> {
  for (const p of open.splice(0).reverse()) await p.close().catch(() => {});
}

/** Runs `body` with its own list of things to close, closed when it ends, however it ends. */
async function scenario<T>(body: (open: Open) => Promise<T>): Promise<T> {
  const open: Open = [];
  try {
    return await body(open);
  } finally {
    await closeAll(open);
  }
}

// The four rooms run at once (each listens for 10 s loops, two or three times: one after the
// other they took ~95 s of a 104 s file); each test awaits its own room's recordings.

/** The room's audio path while a recording was made (timer lateness, underruns, drops): why a figure is off, when it is. */
function audioPathNote(server: RunningServer, room: string): string {
  const a = server.rooms.get(room)?.mixer.audioPath();
  if (!a) return 'no room';
  const s = a.slots.map((x) => `slot ${x.slot} underruns ${x.underruns}, drained ${x.drainedMs} ms in ${x.drains}`).join('; ');
  return `audio tick late p95 ${a.tickLateMs.p95?.toFixed(1)} max ${a.tickLateMs.max?.toFixed(1)} ms, ffmpeg p95 ${a.ffmpegMs.p95?.toFixed(1)} ms, dropped writes ${a.droppedWrites}; ${s}`;
}

interface DenoiseRun { on: Recording; off: Recording; both: Recording; voice: any; paths: string[] }
function runDenoise(server: RunningServer, fx: Fixtures['denoise']): Promise<DenoiseRun> {
  return scenario(async (open) => {
    const room = 'voice-denoise';
    const { id } = await publish(server, open, room, fx.loop);
    const sub = await subscribe(server, open, room);
    // AGC off: what is compared is the denoiser alone (the AGC would raise un-denoised noise).
    await patch(server, `/rooms/${room}`, { audio: { denoise: true, agc: false } });
    await sleep(1500);
    const paths: string[] = [];
    const on = await record(sub, fx.clean);
    paths.push(`on: ${audioPathNote(server, room)}`);
    const info = await (await fetch(`${server.url}/rooms/${room}`)).json();
    const voice = info.participants.find((p: any) => p.id === id).voice;
    await patch(server, `/rooms/${room}`, { audio: { denoise: false } });
    await sleep(1500);
    const off = await record(sub, fx.clean);
    paths.push(`off: ${audioPathNote(server, room)}`);
    await patch(server, `/rooms/${room}`, { audio: { denoise: true, agc: true } });
    await sleep(1500);
    const both = await record(sub, fx.clean);
    paths.push(`denoise+AGC: ${audioPathNote(server, room)}`);
    return { on, off, both, voice, paths };
  });
}

interface LevelRun { q: Recording; l: Recording; q0: Recording; l0: Recording }
function runLevel(server: RunningServer, fx: Fixtures['level']): Promise<LevelRun> {
  return scenario(async (open) => {
    const room = 'voice-level';
    const loud = await publish(server, open, room, fx.loudLoop);
    const quiet = await publish(server, open, room, fx.quietLoop);
    // Each mix-minus holds exactly the other speaker: the quiet one is heard in the loud one's.
    const hearsQuiet = await subscribe(server, open, room, loud.id);
    const hearsLoud = await subscribe(server, open, room, quiet.id);
    await sleep(2000);
    const [q, l] = await Promise.all([record(hearsQuiet, fx.quiet), record(hearsLoud, fx.loud)]);
    await patch(server, `/rooms/${room}`, { audio: { agc: false } });
    await sleep(1500);
    const [q0, l0] = await Promise.all([record(hearsQuiet, fx.quiet), record(hearsLoud, fx.loud)]);
    return { q, l, q0, l0 };
  });
}

interface UntouchedRun { sent: number; processed: number; untouched: number; voice: any }
function runUntouched(server: RunningServer, fx: Fixtures['tone']): Promise<UntouchedRun> {
  return scenario(async (open) => {
    const room = 'voice-music';
    const { id } = await publish(server, open, room, fx.loop);
    const sub = await subscribe(server, open, room);
    await sleep(3000);
    const processed = toneLevelDb(sub.audio(1000), 48000, 1000);
    const res = await patch(server, `/rooms/${room}/participants/${id}`, { audio: { processing: false } });
    await sleep(2000);
    const untouched = toneLevelDb(sub.audio(1000), 48000, 1000);
    return { sent: fx.sent, processed, untouched, voice: res.voice };
  });
}

interface LimiterRun { limited: Recording; unlimited: Recording }
function runLimiter(server: RunningServer, fx: Fixtures['limiter']): Promise<LimiterRun> {
  return scenario(async (open) => {
    const room = 'voice-limit';
    for (const o of fx.opus) await publish(server, open, room, o);
    const sub = await subscribe(server, open, room);
    // AGC off: it brings each talker to -20 dBFS, and four of those summed peaked at -4.9 dBFS
    // without the limiter (a 2026-11-26 run): nothing left to limit.
    await patch(server, `/rooms/${room}`, { audio: { agc: false } });
    await sleep(2000);
    const limited = await record(sub, fx.loops[0]);
    await patch(server, `/rooms/${room}`, { audio: { limiter: false } });
    await sleep(1000);
    const unlimited = await record(sub, fx.loops[0]);
    return { limited, unlimited };
  });
}

/** A scenario's promise, with its rejection left for its test to see (not an unhandled one). */
function held<T>(p: Promise<T>): Promise<T> {
  p.catch(() => {});
  return p;
}

const NO_ESPEAK = 'espeak-ng is not installed (scripts/setup.sh installs it)';

test.before(async (ctx) => {
  ctx.espeak = hasBinary('espeak-ng');
  ctx.open = [];
  if (!ctx.espeak) return skip(NO_ESPEAK);
  const fx = fixtures();
  // Rooms here are audio-only: no rung is encoded for nobody (production encodes 720p and 360p
  // while anyone publishes), so four rooms at once cost the box audio work only.
  process.env.MIX_ALWAYS_ON_RUNGS = '';
  ctx.server = await startServer({ port: 0, host: '127.0.0.1', roomIdleMs: 500, demo: false });
  ctx.runs = {
    denoise: held(runDenoise(ctx.server, fx.denoise)),
    level: held(runLevel(ctx.server, fx.level)),
    untouched: held(runUntouched(ctx.server, fx.tone)),
    limiter: held(runLimiter(ctx.server, fx.limiter)),
  };
});

test.after.each(async (ctx) => {
  await closeAll(ctx.open);
});

test.after(async (ctx) => {
  // A scenario whose test failed early may still be running: let it close what it opened.
  if (ctx.runs) await Promise.allSettled(Object.values(ctx.runs));
  await ctx.server?.close();
});

test('denoise: speech with white noise at 10 dB SNR, pauses ≥ 15 dB quieter, speech envelope kept', async (ctx) => {
  if (!ctx.espeak) return skip(NO_ESPEAK);
  const { on, off, both, voice, paths } = await ctx.runs.denoise;
  console.log(
    `  denoise on: pauses ${fmt(on.pauseDb)} dBFS, speech ${fmt(on.speechDb)}, envelope r ${on.r.toFixed(3)}; ` +
      `off: pauses ${fmt(off.pauseDb)}, speech ${fmt(off.speechDb)}, r ${off.r.toFixed(3)}; ` +
      `denoise+AGC: pauses ${fmt(both.pauseDb)}, speech ${fmt(both.speechDb)}, r ${both.r.toFixed(3)}; ` +
      `heard audio moved against the loop by up to ${on.shiftMs} / ${off.shiftMs} / ${both.shiftMs} ms`,
  );
  console.log(`  GET /rooms voice (denoise on): ${JSON.stringify(voice)}`);
  // Twice in five runs (2026-11-27) a figure was off (pauses only 6 dB lower, the server's own
  // meter agreeing; an AGC envelope r 0.72) and the second run passed: what the mixer's audio
  // path did meanwhile is printed with each run, to tell a stalled timer from the denoiser.
  console.log(`  audio path: ${paths.join(' | ')}`);
  assert.ok(off.pauseDb - on.pauseDb >= 15, `noise in pauses ${fmt(off.pauseDb - on.pauseDb)} dB lower with denoise (want ≥ 15)`);
  assert.ok(on.r >= 0.8, `speech envelope correlation with the clean speech ${on.r.toFixed(3)} (want ≥ 0.8)`);
  assert.ok(both.r >= 0.8, `with the AGC too: correlation ${both.r.toFixed(3)} (want ≥ 0.8)`);
  assert.ok(off.pauseDb - both.pauseDb >= 15, `denoise + AGC: pauses ${fmt(off.pauseDb - both.pauseDb)} dB lower than no denoise`);
  // The meter: input ~-20 dBFS while talking, and the noise floor came down by well over 10 dB.
  assert.ok(voice.denoise === true && voice.agc === false && voice.processing === true, JSON.stringify(voice));
  // The input level and the level after processing, as numbers (null: no reading).
  assert.type(voice.inputDb, 'number', JSON.stringify(voice));
  assert.type(voice.processedDb, 'number', JSON.stringify(voice));
  assert.ok(voice.inputFloorDb !== null && voice.inputFloorDb > -36 && voice.inputFloorDb < -24, `input noise floor ${voice.inputFloorDb}`);
  assert.ok(voice.noiseReductionDb >= 10, `reported noise reduction ${voice.noiseReductionDb} dB`);
});

test('level: a speaker 20 dB quieter ends within 6 dB of the other', async (ctx) => {
  if (!ctx.espeak) return skip(NO_ESPEAK);
  const { q, l, q0, l0 } = await ctx.runs.level;
  console.log(
    `  AGC on: loud ${fmt(l.speechDb)} dBFS, quiet ${fmt(q.speechDb)} dBFS (spread ${fmt(l.speechDb - q.speechDb)} dB); ` +
      `AGC off: loud ${fmt(l0.speechDb)}, quiet ${fmt(q0.speechDb)} (spread ${fmt(l0.speechDb - q0.speechDb)} dB)`,
  );
  assert.ok(Math.abs(l.speechDb - q.speechDb) <= 6, `with AGC the speech levels are ${fmt(Math.abs(l.speechDb - q.speechDb))} dB apart (want ≤ 6)`);
  assert.ok(l0.speechDb - q0.speechDb >= 14, `without AGC the 20 dB difference is still there (${fmt(l0.speechDb - q0.speechDb)} dB)`);
});

test('untouched: a 1 kHz tone from a participant marked processing=false passes within 1 dB', async (ctx) => {
  if (!ctx.espeak) return skip(NO_ESPEAK);
  const { sent, processed, untouched, voice } = await ctx.runs.untouched;
  assert.equal([voice.processing, voice.denoise, voice.agc], [false, false, false]);
  console.log(`  1 kHz tone sent ${fmt(sent)} dB; through processing ${fmt(processed)} dB; untouched ${fmt(untouched)} dB`);
  assert.ok(Math.abs(untouched - sent) < 1, `untouched tone changed by ${fmt(untouched - sent)} dB (want < 1)`);
  assert.ok(Math.abs(processed - sent) >= 1, 'the same tone through the voice chain does change (the check can fail)');
});

test('limiter: four loud speakers at once never clip the mix (peak < -1 dBFS)', async (ctx) => {
  if (!ctx.espeak) return skip(NO_ESPEAK);
  const { limited, unlimited } = await ctx.runs.limiter;
  console.log(`  four speakers at -10 dBFS, AGC off: mix peak ${fmt(limited.peakDb)} dBFS with the limiter, ${fmt(unlimited.peakDb)} dBFS without`);
  assert.ok(limited.peakDb < -1, `mix peak ${fmt(limited.peakDb)} dBFS (want < -1)`);
  assert.ok(unlimited.peakDb > -1, `without the limiter the mix peaks at ${fmt(unlimited.peakDb)} dBFS: over -1, so the check can fail`);
});

test('bad input: clear 400/404, nothing changed', async (ctx) => {
  if (!ctx.espeak) return skip(NO_ESPEAK);
  const room = 'voice-bad';
  const { id } = await publish(ctx.server, ctx.open, room, V.voiceLoop(V.sine(440, 0.1)));
  const send = (path: string, body: unknown) =>
    fetch(`${ctx.server.url}${path}`, { method: 'PATCH', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  for (const [path, body, status] of [
    [`/rooms/${room}`, { audio: { denoise: 'yes' } }, 400],
    [`/rooms/${room}`, { audio: { reverb: true } }, 400],
    [`/rooms/${room}/participants/${id}`, { audio: { processing: 'off' } }, 400],
    [`/rooms/${room}/participants/${id}`, { volume: 2 }, 400],
    [`/rooms/${room}/participants/nobody`, { audio: { processing: false } }, 404],
    ['/rooms/no-such-room/participants/x', { audio: { processing: false } }, 404],
  ] as const) {
    const res = await send(path, body);
    assert.is(res.status, status, `${path} ${JSON.stringify(body)} → ${res.status} ${await res.text()}`);
    assert.match(res.headers.get('content-type') ?? '', /problem\+json/);
  }
  const info = await (await fetch(`${ctx.server.url}/rooms/${room}`)).json();
  assert.equal(info.settings.audio, { highpass: true, denoise: true, agc: true, limiter: true });
  assert.is(info.participants[0].voice.processing, true);
  // The high-pass has its own switch, per room, like the others.
  const res = await send(`/rooms/${room}`, { audio: { highpass: false } });
  assert.is(res.status, 200, await res.clone().text());
  const after = await (await fetch(`${ctx.server.url}/rooms/${room}`)).json();
  assert.equal(after.settings.audio, { highpass: false, denoise: true, agc: true, limiter: true });
  assert.equal([after.participants[0].voice.highpass, after.participants[0].voice.denoise], [false, true]);
});

test.run();
