import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { adaptiveDrain, JitterBuffer, toMono } from '../../pipeline/audio/JitterBuffer.ts';
import { StageLatency } from '../../pipeline/audio/StageLatency.ts';
import { isVp8KeyframeStart, RtpContinuity } from '../../pipeline/rtp/Continuity.ts';
import { ivfFileHeader, ivfFrame, isVp8Keyframe, parseIvf } from '../../pipeline/mixer/ivf.ts';

const chunk = (n: number, v: number) => new Int16Array(n).fill(v);

test('jitter buffer: silence until primed, then audio in order', () => {
  const jb = new JitterBuffer(960, 4800);
  jb.push(chunk(480, 1));
  assert.equal([...jb.pull(4)], [0, 0, 0, 0], 'not primed yet');
  jb.push(chunk(480, 2));
  const out = jb.pull(960);
  assert.is(out[0], 1);
  assert.is(out[479], 1);
  assert.is(out[480], 2);
  assert.is(out[959], 2);
});

test('jitter buffer: underrun pads with silence and counts it', () => {
  const jb = new JitterBuffer(480, 4800);
  jb.push(chunk(600, 7));
  const out = jb.pull(1600);
  assert.is(out.length, 1600);
  assert.is(out[599], 7);
  assert.is(out[600], 0);
  assert.is(jb.underruns, 1);
});

test('jitter buffer: backlog beyond max is trimmed to the target (latency stays bounded)', () => {
  const jb = new JitterBuffer(1000, 3000);
  for (let i = 0; i < 10; i++) jb.push(chunk(480, i));
  assert.ok(jb.queuedSamples <= 3000);
  assert.ok(jb.trimmedSamples > 0);
  // the newest audio survives
  const out = jb.pull(jb.queuedSamples);
  assert.is(out[out.length - 1], 9);
});

const tone = (from: number, n: number, period = 48) => Int16Array.from({ length: n }, (_, i) => Math.round(10000 * Math.sin((2 * Math.PI * (from + i)) / period)));

test('jitter buffer (adaptive drain): a burst while playing is cut back to the margin in crossfaded steps, a tone keeps its phase', () => {
  const d = adaptiveDrain(48000);
  const jb = new JitterBuffer(1440, 5760, d);
  let sent = 0;
  const send = () => jb.push(tone((sent += 960) - 960, 960));
  send();
  send();
  const out: number[] = [];
  for (let t = 0; t < 400; t++) {
    send();
    if (t === 50) for (let i = 0; i < 4; i++) send(); // 80 ms at once: the clock skipped ticks
    out.push(...jb.pull(960));
  }
  assert.is(jb.underruns, 0);
  // Before each pull now: the 20 ms it takes + the 5 ms margin (+ less than one step).
  const before = jb.queuedSamples + 960;
  assert.ok(before >= 960 + d.marginSamples && before < 960 + d.marginSamples + d.minStepSamples, `queued before a pull ${before}`);
  assert.ok(jb.drains >= 4 && jb.drainedSamples >= 3840, `drained ${jb.drainedSamples} in ${jb.drains}`);
  // The splices matched the waveform: no sample jumps more than a clean 1 kHz sine's step.
  let worst = 0;
  for (let i = 1; i < out.length; i++) worst = Math.max(worst, Math.abs(out[i] - out[i - 1]));
  assert.ok(worst < 1400, `largest step ${worst}`);
});

test('jitter buffer (adaptive drain): a backlog that lands on a primed-again buffer is cut to the target; quiet audio is cut at once', () => {
  const d = adaptiveDrain(48000);
  const jb = new JitterBuffer(1440, 5760, d);
  // A stall: the late ticks ran first and found nothing, then 100 ms of packets at once.
  for (let i = 0; i < 5; i++) jb.push(chunk(960, 1000), i);
  jb.pull(960, 10);
  assert.is(jb.queuedSamples, 1440 - 960, 'started from the newest 30 ms');
  assert.ok(jb.waitMs.summary().n > 0);
  // Quiet audio standing deep (a burst during a pause) goes in one cut.
  const q = new JitterBuffer(1440, 5760, d);
  for (let i = 0; i < 2; i++) q.push(chunk(960, 10));
  for (let t = 0; t < 150; t++) {
    q.push(chunk(960, 10));
    if (t === 1) for (let i = 0; i < 4; i++) q.push(chunk(960, 10));
    q.pull(960);
  }
  // One cut at the first pull (primed with 60 ms), a 5 ms one (the history held a window from
  // before the burst), then the rest of the burst's 80 ms in one cut.
  assert.ok(q.drains <= 3 && q.drainedSamples >= 3840 + 1440 - 240, `drained ${q.drainedSamples} in ${q.drains}`);
  assert.ok(q.queuedSamples + 960 < 960 + d.marginSamples + d.minStepSamples, `queued ${q.queuedSamples}`);
});

test('jitter buffer (adaptive drain): underruns widen the margin, no cut in that window', () => {
  const d = adaptiveDrain(48000);
  const jb = new JitterBuffer(1440, 5760, d);
  for (let i = 0; i < 2; i++) jb.push(chunk(960, 1));
  jb.pull(960);
  jb.pull(960);
  jb.pull(960); // underrun
  assert.is(jb.underruns, 1);
  assert.is(jb.marginSamples, d.marginSamples + d.marginGrowSamples);
});

test('jitter buffer without drain keeps its depth (the old behaviour)', () => {
  const jb = new JitterBuffer(1440, 5760);
  for (let i = 0; i < 4; i++) jb.push(chunk(960, 1));
  for (let t = 0; t < 300; t++) {
    jb.push(chunk(960, 1));
    jb.pull(960);
  }
  assert.is(jb.queuedSamples, 3840);
  assert.is(jb.drains, 0);
});

test('stage latency: p50 / p95 / max of the recent samples', () => {
  const s = new StageLatency(100);
  for (let i = 1; i <= 200; i++) s.add(i);
  assert.equal(s.summary(), { n: 100, p50: 151, p95: 196, max: 200 });
  s.add(NaN);
  assert.is(s.summary().n, 100);
});

test('toMono averages interleaved channels', () => {
  assert.equal([...toMono(new Int16Array([10, 20, -4, 4]), 2)], [15, 0]);
});

test('RTP continuity: a new source continues sequence numbers and advances timestamps with wall time', () => {
  const c = new RtpContinuity(90000);
  assert.equal(c.next(1, 100, 5000, 0), { sequenceNumber: 100, timestamp: 5000 });
  assert.equal(c.next(1, 101, 8000, 33), { sequenceNumber: 101, timestamp: 8000 });
  // source replaced: its numbering starts anywhere
  const r = c.next(2, 40000, 123, 133);
  assert.is(r.sequenceNumber, 102);
  assert.is(r.timestamp, 8000 + 9000);
  assert.equal(c.next(2, 40001, 3123, 166), { sequenceNumber: 103, timestamp: 17000 + 3000 });
});

test('RTP continuity: a new source within a millisecond of the old one still starts a millisecond later (distinct in a WebM)', () => {
  const video = new RtpContinuity(90000);
  video.next(1, 100, 5000, 1000);
  assert.is(video.next(2, 7, 0, 1000.2).timestamp, 5000 + 90, '0.2 ms later: one millisecond of 90 kHz');
  const audio = new RtpContinuity(48000);
  audio.next(1, 100, 960, 1000);
  assert.is(audio.next(2, 7, 0, 1000).timestamp, 960 + 48);
});

test('RTP continuity wraps sequence numbers', () => {
  const c = new RtpContinuity(48000);
  c.next(1, 65535, 0, 0);
  assert.is(c.next(1, 0, 960, 20).sequenceNumber, 0);
  assert.is(c.next(2, 500, 0, 40).sequenceNumber, 1);
});

function vp8Rtp(descriptor: number[], firstPayloadByte: number): Buffer {
  const header = Buffer.alloc(12);
  header[0] = 0x80;
  header[1] = 96;
  return Buffer.concat([header, Buffer.from(descriptor), Buffer.from([firstPayloadByte, 0, 0])]);
}

test('VP8 keyframe detection from the RTP payload descriptor', () => {
  assert.ok(isVp8KeyframeStart(vp8Rtp([0x10], 0x00)), 'S=1, P=0');
  assert.not.ok(isVp8KeyframeStart(vp8Rtp([0x10], 0x01)), 'inter frame');
  assert.not.ok(isVp8KeyframeStart(vp8Rtp([0x00], 0x00)), 'not a partition start');
  // extended descriptor with a 15-bit picture id
  assert.ok(isVp8KeyframeStart(vp8Rtp([0x90, 0x80, 0x81, 0x23], 0x00)));
});

test('IVF framing roundtrip', () => {
  const key = Buffer.from([0x50, 1, 2]);
  const delta = Buffer.from([0x51, 3]);
  const file = Buffer.concat([ivfFileHeader(16, 16, 30), ivfFrame(key, 0), ivfFrame(delta, 1)]);
  const parsed = parseIvf(file);
  assert.is(parsed.width, 16);
  assert.equal(parsed.frames.map((f) => [...f]), [[...key], [...delta]]);
  assert.ok(isVp8Keyframe(parsed.frames[0]));
  assert.not.ok(isVp8Keyframe(parsed.frames[1]));
  assert.throws(() => parseIvf(Buffer.from('nope')), /not an IVF/);
});

test.run();
