import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DEFAULT_MIXER_SETTINGS } from '../../pipeline/mixer/graph.ts';
import { buildAudioMixerSpec } from '../../pipeline/mixer/audioGraph.ts';
import {
  gainCommand,
  limiterCommands,
  parseAudioPatch,
  parseParticipantPatch,
  slotVoice,
  voiceCommands,
  VOICE_ON,
} from '../../pipeline/audio/voice.ts';
import { LevelTrack, PcmLevelMeter, VoiceMeter } from '../../pipeline/audio/VoiceMeter.ts';
import { GainRider } from '../../pipeline/audio/GainRider.ts';

const endpoints = { socketDir: '/tmp/mcu-x', fullMixRtpPort: 5002, mixMinusRtpPorts: [6000, 6002, 6004, 6006] };
const cmd = (c: { target: string; command: string; arg: string }) => `${c.target} ${c.command} ${c.arg}`;

test('graph: every slot is processed before the mix, every output limited, levels metered', () => {
  const model = '/opt/mcu/models/rnnoise/sh.rnnn';
  const g = buildAudioMixerSpec({ ...DEFAULT_MIXER_SETTINGS, denoiseModel: model }, endpoints, 4).filterComplex;
  for (let k = 0; k < 4; k++) {
    assert.match(g, new RegExp(`\\[in${k}\\]pan=mono\\|c0=c${k},highpass@hp${k}=f=80:enable=1,arnndn@nr${k}=m=/opt/mcu/models/rnnoise/sh\\.rnnn:mix=1,volume@agc${k}=volume=1:eval=frame:enable=1,aformat=sample_fmts=flt:channel_layouts=mono\\[vp${k}\\]`));
    assert.match(g, new RegExp(`acompressor@lim${k}=threshold=0\\.5:ratio=20:attack=0\\.01:release=100:knee=1:detection=peak,asoftclip@clip${k}=type=hard:threshold=0\\.562\\[amm${k}\\]`));
  }
  assert.match(g, /\[vp0\]\[vp1\]\[vp2\]\[vp3\]amerge=inputs=4,aformat=sample_fmts=flt,asplit=6\[mfull\]\[meter\]\[m0\]/);
  // The meter: the processed slots as PCM on the last output (Node measures them), no filter.
  assert.not.match(g, /astats|asetnsamples/);
  const outs = buildAudioMixerSpec({ ...DEFAULT_MIXER_SETTINGS, denoiseModel: model }, endpoints, 4).outputs;
  assert.is(outs.length, 6);
  assert.equal(outs[5].options.slice(0, 4), ['-map', '[meter]', '-c:a', 'pcm_s16le']);
  const fallback = buildAudioMixerSpec(DEFAULT_MIXER_SETTINGS, endpoints, 4).filterComplex;
  assert.match(fallback, /highpass@hp0=f=80:enable=1,afftdn@nr0=nr=30:nf=-20,volume@agc0=/);
  assert.not.match(fallback, /arnndn/);
});

test('VOICE_PROCESSING=off: no voice chain and no limiter (the CPU baseline)', () => {
  const g = buildAudioMixerSpec({ ...DEFAULT_MIXER_SETTINGS, voiceChain: false }, endpoints, 4).filterComplex;
  assert.not.match(g, /highpass|arnndn|afftdn|volume@agc|acompressor|asoftclip|alimiter/);
  assert.match(g, /\[in1\]pan=mono\|c0=c1,aformat=sample_fmts=flt:channel_layouts=mono\[vp1\]/);
});

test('a model path with a colon is escaped for the graph and option parsers', () => {
  const g = buildAudioMixerSpec({ ...DEFAULT_MIXER_SETTINGS, denoiseModel: '/m/a:b.rnnn' }, endpoints, 4).filterComplex;
  assert.ok(g.includes('arnndn@nr0=m=/m/a\\\\\\:b.rnnn:mix=1'));
});

test('commands: only what changed; denoise by mix (arnndn) or enable (afftdn)', () => {
  const off = { highpass: false, denoise: false, agc: false };
  assert.equal(voiceCommands([VOICE_ON, VOICE_ON], [VOICE_ON, VOICE_ON], 'm'), []);
  assert.equal(voiceCommands([VOICE_ON, VOICE_ON], [VOICE_ON, off], 'm').map(cmd), [
    'arnndn@nr1 mix 0',
    'volume@agc1 enable 0',
    'highpass@hp1 enable 0',
  ]);
  assert.equal(voiceCommands([off], [{ highpass: true, denoise: true, agc: false }], null).map(cmd), ['afftdn@nr0 enable 1', 'highpass@hp0 enable 1']);
  // a fresh process starts all on: absent previous states count as on
  assert.equal(voiceCommands([], [{ highpass: true, denoise: true, agc: false }], 'm').map(cmd), ['volume@agc0 enable 0']);
  // the high-pass has a switch of its own
  assert.equal(voiceCommands([VOICE_ON], [{ highpass: false, denoise: true, agc: true }], 'm').map(cmd), ['highpass@hp0 enable 0']);
  assert.equal(voiceCommands([off], [{ highpass: true, denoise: false, agc: false }], 'm').map(cmd), ['highpass@hp0 enable 1']);
  assert.equal(limiterCommands(2, false).map(cmd), [
    'acompressor@limfull mix 0', // no timeline: `enable` is not a command of acompressor
    'asoftclip@clipfull enable 0',
    'acompressor@lim0 mix 0', // no timeline: `enable` is not a command of acompressor
    'asoftclip@clip0 enable 0',
    'acompressor@lim1 mix 0', // no timeline: `enable` is not a command of acompressor
    'asoftclip@clip1 enable 0',
  ]);
});

test('AGC gain command: a per-frame ramp towards the target, never a step', () => {
  const c = gainCommand(2, 6);
  assert.is(c.target, 'volume@agc2');
  assert.is(c.command, 'volume');
  assert.is(c.arg, 'if(lt(volume,1.9953),min(1.9953,volume*1.02329),max(1.9953,volume/1.02329))');
  // The expression, as FFmpeg evaluates it frame after frame from a gain of 1 (0 dB).
  const step = (v: number, g: number, r: number) => (v < g ? Math.min(g, v * r) : Math.max(g, v / r));
  let v = 1;
  const frames: number[] = [];
  for (let i = 0; i < 40; i++) frames.push((v = step(v, 1.9953, 1.02329)));
  const db = [1, ...frames].map((g) => 20 * Math.log10(g));
  for (let i = 1; i < db.length; i++) assert.ok(db[i] - db[i - 1] <= 0.2001, `frame ${i} moves ${db[i] - db[i - 1]} dB`);
  const at = frames.indexOf(1.9953);
  assert.ok(at >= 29 && at <= 31, `6 dB reached in ${at + 1} frames of 10 ms (~30)`);
  assert.ok(frames.slice(at).every((g) => g === 1.9953), 'then it stays');
});

test('slot state: the participant flag overrides the room', () => {
  assert.equal(slotVoice({ highpass: false, denoise: true, agc: false }, true), { highpass: false, denoise: true, agc: false });
  assert.equal(slotVoice({ highpass: true, denoise: true, agc: true }, false), { highpass: false, denoise: false, agc: false });
});

test('patch validation', () => {
  assert.equal(parseAudioPatch({ denoise: false }), { denoise: false });
  assert.equal(parseAudioPatch({ highpass: false, limiter: true }), { highpass: false, limiter: true });
  assert.type(parseAudioPatch({ denoise: 'yes' }), 'string');
  assert.type(parseAudioPatch({ volume: 3 }), 'string');
  assert.type(parseAudioPatch([]), 'string');
  assert.equal(parseParticipantPatch({ audio: { processing: false } }), { processing: false });
  assert.equal(parseParticipantPatch({}), {});
  assert.type(parseParticipantPatch({ audio: { processing: 1 } }), 'string');
  assert.type(parseParticipantPatch({ name: 'x' }), 'string');
  assert.type(parseParticipantPatch(null), 'string');
});

test('meter: 100 ms input windows, current level, floor and reduction', () => {
  const m = new VoiceMeter(48000);
  const loud = new Int16Array(4800).fill(3277); // -20 dBFS
  const quiet = new Int16Array(4800).fill(33); // -60 dBFS
  for (let i = 0; i < 40; i++) m.pushInput(i % 4 === 0 ? quiet : loud, i * 100);
  for (let i = 0; i < 40; i++) m.processed.add(i % 4 === 0 ? -80 : -18, i * 100);
  const l = m.levels(3900);
  assert.ok(Math.abs(l.inputDb! - -20) < 1, String(l.inputDb)); // one quiet window in the last 500 ms
  assert.ok(Math.abs(l.inputFloorDb! - -60) < 0.5, String(l.inputFloorDb));
  assert.is(l.processedFloorDb, -80);
  assert.ok(Math.abs(l.noiseReductionDb! - 20) < 0.5);
  assert.is(new LevelTrack().floor(0), null);
});

test('AGC gain rider: quiet speech raised, loud lowered, pauses and noise hold the gain', () => {
  const quiet = new GainRider();
  for (let i = 0; i < 30; i++) quiet.update(-40, -70);
  assert.is(quiet.gainDb, 20);
  for (let i = 0; i < 30; i++) quiet.update(-68, -70); // a pause: below floor + 10
  assert.is(quiet.gainDb, 20);
  const loud = new GainRider();
  for (let i = 0; i < 30; i++) loud.update(-8, -50);
  assert.is(loud.gainDb, -12);
  const steady = new GainRider();
  for (let i = 0; i < 30; i++) steady.update(-23, -23); // a steady tone is its own floor: not speech
  assert.is(steady.gainDb, 0);
  const step = new GainRider();
  step.update(-40, -70);
  assert.is(step.gainDb, 2, 'at most 2 dB per 100 ms window');
});

test('the meter output: interleaved s16 per slot, one RMS reading per channel per window, bytes in any pieces', () => {
  const got: Array<[number, number]> = [];
  const m = new PcmLevelMeter(2, (ch, db) => got.push([ch, Math.round(db * 10) / 10]), 4);
  // Channel 0 at 3277 (-20 dBFS RMS), channel 1 silent; 2 windows of 4 frames = 32 bytes.
  const b = Buffer.alloc(32);
  for (let f = 0; f < 8; f++) b.writeInt16LE(f % 2 ? -3277 : 3277, f * 4);
  m.push(b.subarray(0, 5));
  m.push(b.subarray(5, 19));
  assert.equal(got, [[0, -20], [1, -100]], 'one window after 4 frames (the odd byte kept for later)');
  m.push(b.subarray(19));
  assert.equal(got.length, 4);
});

test.run();
