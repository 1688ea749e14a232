// The mix's audio runs in an FFmpeg of its own, so a stalled video mixer cannot delay it: the
// video FFmpeg is SIGSTOPped for 300 ms (fault injection) while a publisher sends a tone and a
// subscriber makes the room encode video. At the Node RTP sockets, the full mix and every
// mix-minus keep arriving with no gap over 60 ms, and the full mix still carries the tone
// (Opus packets the size of a tone, not of silence); the video does stop (the injection hit)
// and resumes, with no process replaced. And a new VP8 rung (a new video process) does not
// replace the audio process: it is handed over, with no gap; an H.264 rung starts a video-only
// process beside the VP8 one and stops it again, touching neither the VP8 process nor the audio.

import { spawn } from 'node:child_process';
import readline from 'node:readline';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startServer } from '../../server/main.ts';
import { audioFixture, videoFixture } from '../../bench/lib/fixtures.ts';
import { RtpPublisher } from '../../bench/lib/RtpPublisher.ts';
import { waitFor } from '../helpers/peers.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('video mixer SIGSTOPped 300 ms: the audio keeps flowing (no gap > 60 ms), the tone stays, video resumes', async () => {
  const server = await startServer({ port: 0, host: '127.0.0.1', demo: false });
  const room = 'split';
  const pubs: RtpPublisher[] = [];
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/frame-times-cli.ts', `${server.url}/rooms/${room}/whep`], { stdio: ['ignore', 'pipe', 'inherit'] });
  let ready = false;
  readline.createInterface({ input: child.stdout! }).on('line', (l) => {
    if (l === 'ready') ready = true;
  });
  let stopped = 0;
  try {
    const tone = await audioFixture('tone');
    const silence = await audioFixture('silence');
    pubs.push(await RtpPublisher.whip(`${server.url}/rooms/${room}/whip?name=T`, await videoFixture([220, 40, 40]), tone));
    pubs.push(await RtpPublisher.whip(`${server.url}/rooms/${room}/whip?name=S`, await videoFixture([40, 40, 220]), silence));
    // RNNoise takes a steady tone for noise; the property here is timing, not denoising.
    await fetch(`${server.url}/rooms/${room}`, {
      method: 'PATCH',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ audio: { denoise: false } }),
    });
    await waitFor(() => ready, 20_000, 'the subscriber to decode frames');
    const mixer = server.rooms.get(room)!.mixer;
    const epoch = mixer.epoch;
    const arrivals = new Map<string, number[]>();
    const fullSizes: Array<[number, number]> = [];
    mixer.on('rtp', (key, buf) => {
      const now = performance.now();
      const list = arrivals.get(key) ?? [];
      list.push(now);
      arrivals.set(key, list);
      if (key === 'full') fullSizes.push([now, buf.length - 12]);
    });
    await sleep(1500);
    const pid = (mixer.currentProcess as any).videoPid as number;
    assert.ok(pid && pid !== mixer.currentProcess!.audio!.ffmpeg.pid, 'video and audio are separate processes');
    const from = performance.now();
    process.kill(pid, 'SIGSTOP');
    stopped = pid;
    await sleep(300);
    process.kill(pid, 'SIGCONT');
    stopped = 0;
    const resumed = performance.now();
    await sleep(1500);
    const to = performance.now();

    const audioKeys = [...arrivals.keys()].filter((k) => k === 'full' || k.startsWith('minus:'));
    const seen: string[] = [];
    assert.ok(audioKeys.includes('full') && audioKeys.includes('minus:0') && audioKeys.includes('minus:1'), `audio streams seen: ${audioKeys}`);
    for (const key of audioKeys) {
      const times = arrivals.get(key)!.filter((t) => t >= from - 100 && t <= to);
      let longest = 0;
      for (let i = 1; i < times.length; i++) longest = Math.max(longest, times[i] - times[i - 1]);
      assert.ok(times.length >= ((to - from) / 20) * 0.8, `${key}: ${times.length} packets in ${(to - from).toFixed(0)} ms`);
      assert.ok(longest <= 60, `${key}: longest gap ${longest.toFixed(1)} ms across the video stall`);
      seen.push(`${key} ${longest.toFixed(1)}`);
    }
    console.log(`  longest audio gap across the 300 ms video stop (ms): ${seen.join(', ')}`);
    const during = fullSizes.filter(([t]) => t >= from && t <= resumed).map(([, n]) => n);
    const mean = during.reduce((a, b) => a + b, 0) / Math.max(1, during.length);
    assert.ok(during.length >= 10 && mean > 60, `full mix during the stall: ${during.length} packets, mean payload ${mean.toFixed(0)} bytes (a tone, not silence)`);

    const videoKey = [...arrivals.keys()].find((k) => k.startsWith('video:'))!;
    assert.ok(videoKey, 'a video rung is encoded');
    const video = arrivals.get(videoKey)!;
    let videoGap = 0;
    for (let i = 1; i < video.length; i++) if (video[i] >= from) videoGap = Math.max(videoGap, video[i] - video[i - 1]);
    console.log(`  longest video gap: ${videoGap.toFixed(0)} ms; full-mix payload during the stop: ${mean.toFixed(0)} bytes`);
    assert.ok(videoGap >= 200, `the video did stall (longest video gap ${videoGap.toFixed(0)} ms)`);
    assert.ok(video.some((t) => t > resumed + 200), 'video resumed');
    assert.is(mixer.epoch, epoch, 'no process replaced');
  } finally {
    if (stopped) process.kill(stopped, 'SIGCONT');
    child.kill('SIGTERM');
    for (const p of pubs) await p.close();
    await server.close();
  }
});

/** The longest gap between the times in `list` from `from` on, and how many there were. */
function longestGap(list: number[], from: number): { longest: number; n: number } {
  const span = list.filter((t) => t >= from);
  let longest = 0;
  for (let i = 1; i < span.length; i++) longest = Math.max(longest, span[i] - span[i - 1]);
  return { longest, n: span.length };
}

test('another VP8 rung (a new video process): the same audio process, handed over, no audio gap > 100 ms', async () => {
  const server = await startServer({ port: 0, host: '127.0.0.1', demo: false });
  const room = 'adopt';
  let pub: RtpPublisher | null = null;
  try {
    pub = await RtpPublisher.whip(`${server.url}/rooms/${room}/whip?name=T`, await videoFixture([220, 40, 40]), await audioFixture('tone'));
    const mixer = server.rooms.get(room)!.mixer;
    await waitFor(() => mixer.currentProcess !== null && mixer.currentProcess.rungs.length > 0, 10_000, 'the mixer with its always-on rung');
    const first = mixer.currentProcess!;
    const audioPid = first.audio!.ffmpeg.pid;
    const videoPid = first.ffmpeg.pid;
    const times: number[] = [];
    mixer.on('rtp', (key) => {
      if (key === 'full') times.push(performance.now());
    });
    await sleep(500);
    const from = performance.now();
    // What a change of the VP8 rungs causes (Room.updateRungs: here 360p dropped, as it is when
    // MIX_ALWAYS_ON_RUNGS leaves it out and its last watcher goes), without the watchers.
    assert.equal(mixer.activeRungs, ['720p', '360p'], 'the always-on rungs');
    mixer.setRungs(['720p']);
    await waitFor(() => mixer.currentProcess !== first, 10_000, 'the pair with the other rungs');
    await sleep(500);
    const proc = mixer.currentProcess!;
    assert.ok(proc.ffmpeg.pid !== videoPid, 'a new video process for the rungs');
    assert.is(proc.audio!.ffmpeg.pid, audioPid, 'the same audio process');
    assert.ok(proc.ownsAudioProcess && !first.ownsAudioProcess, 'handed over');
    const { longest, n } = longestGap(times, from);
    console.log(`  rung swap: audio pid kept, longest full-mix gap ${longest.toFixed(1)} ms over ${n} packets`);
    // An audio process restarted with the video would leave ~500 ms or more of nothing; what is
    // left here is the shared event loop starting the new video process beside the publisher in
    // this same process (45-109 ms on a busy 2-core box, before and after #15's queue drain; CI
    // measured under 60). The bound tells the two apart without measuring the box.
    assert.ok(n > 20 && longest <= 100, `full mix across the swap: ${n} packets, longest gap ${longest.toFixed(1)} ms (an audio restart: ≥ 500)`);
    await waitFor(() => !first.ffmpeg.running, 5000, 'the old video process stopped');
    assert.ok(proc.audio!.ffmpeg.running, 'the old pair closed without stopping the audio');
  } finally {
    await pub?.close();
    await server.close();
  }
});

test('an H.264 rung runs in a process of its own: the VP8 process and the audio are untouched, both directions', async () => {
  const server = await startServer({ port: 0, host: '127.0.0.1', demo: false });
  const room = 'h264lane';
  let pub: RtpPublisher | null = null;
  try {
    pub = await RtpPublisher.whip(`${server.url}/rooms/${room}/whip?name=T`, await videoFixture([220, 40, 40]), await audioFixture('tone'));
    const mixer = server.rooms.get(room)!.mixer;
    await waitFor(() => mixer.currentProcess !== null && mixer.currentProcess.rungs.length > 0, 10_000, 'the mixer with its always-on rungs');
    const main = mixer.currentProcess!;
    const epoch = mixer.epoch;
    const vp8: number[] = [];
    const full: number[] = [];
    let h264Packets = 0;
    mixer.on('rtp', (key) => {
      if (key === 'video:720p') vp8.push(performance.now());
      else if (key === 'full') full.push(performance.now());
      else if (key === 'video:360p-h264') h264Packets++;
    });
    await sleep(500);
    const from = performance.now();
    const vp8Rungs = [...mixer.activeRungs];
    mixer.setRungs([...vp8Rungs, '360p-h264']);
    await waitFor(() => h264Packets > 10, 10_000, 'H.264 packets from the lane');
    const lane = mixer.h264Process!;
    assert.ok(lane && lane.ffmpeg.pid !== main.ffmpeg.pid && lane.audio === null, 'a video-only process of its own');
    assert.equal(lane.rungs.map((r) => r.id), ['360p-h264']);
    assert.is(mixer.currentProcess, main, 'the VP8 process serves on');
    assert.is(mixer.epoch, epoch, 'no VP8 process replaced');
    assert.is(mixer.stats().processesStarted, 1, 'one VP8 process in the room\'s life');
    assert.equal(mixer.stats().h264Lane.rungs, ['360p-h264']);
    // The lane's last watcher goes: its process stops, the VP8 one still serves.
    mixer.setRungs(vp8Rungs);
    await waitFor(() => !lane.ffmpeg.running, 10_000, 'the H.264 process stopped');
    await sleep(300);
    assert.is(mixer.h264Process, null);
    assert.is(mixer.currentProcess, main, 'the VP8 process serves on');
    assert.ok(main.ffmpeg.running && main.audio!.ffmpeg.running, 'the VP8 and audio processes run');
    const v = longestGap(vp8, from);
    const a = longestGap(full, from);
    console.log(`  H.264 lane up and down: longest 720p gap ${v.longest.toFixed(1)} ms (${v.n}), full mix ${a.longest.toFixed(1)} ms (${a.n})`);
    // A process swap under the 720p watchers would stop their video for the new process's start
    // (~1 s); what is left is this test's own event loop starting and stopping FFmpeg.
    assert.ok(v.n > 30 && v.longest <= 200, `720p across the lane's start and stop: ${v.n} packets, longest gap ${v.longest.toFixed(1)} ms`);
    assert.ok(a.n > 30 && a.longest <= 100, `full mix: ${a.n} packets, longest gap ${a.longest.toFixed(1)} ms`);
    assert.ok(mixer.stats().h264Lane.processesStarted >= 1);
  } finally {
    await pub?.close();
    await server.close();
  }
});

test.run();
