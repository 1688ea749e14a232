// A decoder that falls behind drops until a keyframe instead of queueing: with its FFmpeg
// stopped (SIGSTOP) while frames keep coming, the oldest frame inside must not get older than
// MAX_BEHIND_MS before it drops and asks for a keyframe; once it runs again, it is fed from a
// keyframe and its pictures are current again (not the backlog played late).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { videoFixture } from '../../bench/lib/fixtures.ts';
import { MAX_BEHIND_MS, VideoDecoder } from '../../workers/decoder/VideoDecoder.ts';
import { readStamp } from '../../bench/lib/stamp.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const isKeyframe = (frame: Buffer) => (frame[0] & 1) === 0; // VP8 payload header: P bit 0

test('a stopped decoder drops until a keyframe and asks for one; its pictures are current again after', async () => {
  const frames = await videoFixture([200, 40, 40]);
  const decoder = new VideoDecoder('behind', 'vp8', { width: 640, height: 360 });
  const needs: string[] = [];
  decoder.on('needKeyframe', (why) => needs.push(why));
  /** Frame index last written, and the stamp of each picture out against it. */
  let n = 0;
  let lagFrames: number[] = [];
  decoder.on('frame', (f) => {
    const stamp = readStamp({ width: f.width, height: f.height, data: f.data }, f.content);
    if (stamp !== null) lagFrames.push((n - 1 - stamp + frames.length) % frames.length);
  });
  let wantKey = false;
  const feed = setInterval(() => {
    // Asked for a keyframe: the loop's next one goes out now (a publisher answering a PLI).
    if (wantKey) while (!isKeyframe(frames[n % frames.length])) n++;
    wantKey = false;
    decoder.write({ data: frames[n % frames.length], keyframe: isKeyframe(frames[n % frames.length]), timestamp: n * 3000 });
    n++;
  }, 1000 / 30);
  decoder.on('needKeyframe', () => (wantKey = true));
  try {
    await sleep(1500);
    assert.ok(decoder.stats.framesOut > 20, `decoding before the stop: ${JSON.stringify(decoder.stats)}`);
    assert.is(decoder.stats.droppedBehind, 0);
    const pid = decoder.pid!;
    process.kill(pid, 'SIGSTOP');
    await sleep(MAX_BEHIND_MS + 1000);
    const dropped = decoder.stats.droppedBehind;
    process.kill(pid, 'SIGCONT');
    assert.ok(dropped > 0, `no frame dropped while stopped: ${JSON.stringify(decoder.stats)}`);
    assert.ok(needs.includes('decoder behind'), `needKeyframe: ${needs.join(', ')}`);
    assert.is(decoder.stats.restarts, 0, 'behind is not a restart');
    // Running again: after the backlog (at most MAX_BEHIND_MS of it) comes out, pictures are current.
    await sleep(1500);
    lagFrames = [];
    await sleep(1000);
    assert.ok(lagFrames.length > 15, `pictures after: ${lagFrames.length}`);
    const worst = Math.max(...lagFrames);
    assert.ok(worst <= 3, `pictures lag the writes by up to ${worst} frames: ${lagFrames.join(',')}`);
  } finally {
    clearInterval(feed);
    await decoder.close();
  }
});

test('frame buffers come back: a holder that releases each picture when the next arrives sees a few buffers, not one per frame', async () => {
  const frames = await videoFixture([40, 200, 40]);
  const decoder = new VideoDecoder('reuse', 'vp8', { width: 640, height: 360 });
  const seen = new Set<ArrayBufferLike>();
  let held: (() => void) | undefined;
  let out = 0;
  let sameContent = true;
  decoder.on('frame', (f) => {
    seen.add(f.data.buffer);
    out++;
    held?.();
    held = f.release;
    // The picture is a whole one of its own: its stamp reads (a buffer reused while held would tear).
    if (readStamp({ width: f.width, height: f.height, data: f.data }, f.content) === null) sameContent = false;
  });
  let n = 0;
  const feed = setInterval(() => {
    const data = frames[n % frames.length];
    decoder.write({ data, keyframe: isKeyframe(data), timestamp: n * 3000 });
    n++;
  }, 1000 / 30);
  try {
    await sleep(2500);
    assert.ok(out > 40, `frames out: ${out}`);
    assert.ok(seen.size <= 3, `${seen.size} buffers for ${out} frames`);
    assert.ok(sameContent, 'every picture read whole');
  } finally {
    clearInterval(feed);
    await decoder.close();
  }
});

test.run();
