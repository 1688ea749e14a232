// Every change reaches subscribers without a frame gap: layout switches, fit, pinning, speaker switches,
// a join and a leave, measured by a decoding subscriber in its own process while pre-encoded publishers
// (no encoder in the test process) keep the room busy.
//
// The bounds: 99% of frame gaps ≤ 100 ms, the longest ≤ 200 ms (a join: 250 ms), the same mixer process
// throughout. A rebuilt pipeline or a restarted mixer costs a second or more, so these catch any change that
// is not a runtime command. Why not "longest ≤ 100 ms": on this 2-core VM the mixer's FFmpeg stops emitting
// every output (video and audio alike) for 80-190 ms now and then when another FFmpeg process starts, even
// one started from an unrelated shell (`ffmpeg -version`; measured with marker-bit timestamps on the mixer's
// RTP sockets while the Node clock ticked on time); a join starts one (the joiner's decoder), and CI's
// first run of this test failed on such a 155 ms gap.

import { spawn } from 'node:child_process';
import readline from 'node:readline';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startServer } from '../../server/main.ts';
import { audioFixture, videoFixture } from '../../bench/lib/fixtures.ts';
import { RtpPublisher } from '../../bench/lib/RtpPublisher.ts';
import { waitFor } from '../helpers/peers.ts';

test('10 layout changes, 2 speaker switches, a join and a leave: no frame gap beyond scheduling noise, same mixer', async () => {
  const server = await startServer({ port: 0, host: '127.0.0.1', demo: false });
  const room = 'gap';
  const tone = await audioFixture('tone');
  const silence = await audioFixture('silence');
  const colours: Array<[number, number, number]> = [
    [220, 40, 40],
    [40, 180, 40],
    [40, 40, 220],
    [220, 200, 40],
  ];
  const videos = await Promise.all(colours.map((c) => videoFixture(c)));
  const pubs: RtpPublisher[] = [];
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/frame-times-cli.ts', `${server.url}/rooms/${room}/whep`], { stdio: ['ignore', 'pipe', 'inherit'] });
  const times: number[] = [];
  let ready = false;
  readline.createInterface({ input: child.stdout! }).on('line', (l) => {
    if (l === 'ready') ready = true;
    else if (l.startsWith('f ')) times.push(Number(l.slice(2)));
  });
  try {
    for (let i = 0; i < 3; i++) pubs.push(await RtpPublisher.whip(`${server.url}/rooms/${room}/whip?name=P${i}`, videos[i], i === 0 ? tone : silence));
    await waitFor(() => ready, 20_000, 'the subscriber to decode frames');
    const info = async () => (await (await fetch(`${server.url}/rooms/${room}`)).json()) as any;
    const ids = (await info()).participants.map((p: any) => p.id);
    const epochBefore = (await info()).mixer.epoch;
    await new Promise((r) => setTimeout(r, 1500)); // past the subscriber's start-up
    /** Another participant starts talking; resolves once the room has switched to them. */
    const talk = async (k: number) => {
      pubs.forEach((p, i) => p.setAudio(i === k ? tone : silence));
      await waitFor(async () => (await info()).activeSpeaker === ids[k], 8000, `speaker switch to P${k}`, 100);
    };
    const patch = (body: unknown) =>
      fetch(`${server.url}/rooms/${room}`, { method: 'PATCH', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    // A join starts the joiner's ICE/DTLS and its FFmpeg decoder on this 2-core box, which the
    // encoder feels for a moment; layout, fit, pin and speaker changes are commands only.
    const JOIN = 5;
    const changes: Array<() => Promise<unknown>> = [
      () => patch({ layout: 'speaker' }),
      () => talk(1),
      () => patch({ layout: 'presentation', pinned: ids[0] }),
      () => patch({ fit: 'crop' }),
      () => patch({ layout: 'grid' }),
      async () => pubs.push(await RtpPublisher.whip(`${server.url}/rooms/${room}/whip?name=Joiner`, videos[3], silence)),
      () => patch({ layout: 'presentation', pinned: ids[1] }),
      () => patch({ fit: 'fit' }),
      async () => pubs.pop()!.close(),
      () => patch({ layout: 'speaker' }),
      () => talk(2),
      () => patch({ layout: 'grid', fit: 'crop' }),
      () => patch({ layout: 'presentation', pinned: ids[2] }),
      () => patch({ layout: 'grid', fit: 'fit' }),
    ];
    const from = Date.now();
    let joinFrom = 0;
    let joinTo = 0;
    const startedAt: number[] = [];
    for (const [i, change] of changes.entries()) {
      startedAt.push(Date.now());
      if (i === JOIN) joinFrom = Date.now();
      await change();
      if (i === JOIN) joinTo = Date.now() + 500;
      await new Promise((r) => setTimeout(r, 500));
    }
    const to = Date.now();
    const window = times.filter((t) => t >= from && t <= to);
    const gaps = window.slice(1).map((t, i) => t - window[i]);
    const longest = Math.max(to - window[window.length - 1], window[0] - from, ...gaps);
    const duringJoin = (i: number) => window[i + 1] >= joinFrom && window[i] <= joinTo;
    const longestCommands = Math.max(to - window[window.length - 1], window[0] - from, ...gaps.filter((_, i) => !duringJoin(i)));
    const longestJoin = Math.max(0, ...gaps.filter((_, i) => duringJoin(i)));
    for (const [i, g] of gaps.entries()) {
      if (g <= 100) continue;
      const k = startedAt.filter((t) => t <= window[i]).length - 1;
      console.log(`  gap ${g.toFixed(0)} ms at +${(window[i] - from).toFixed(0)} ms, ${(window[i] - (startedAt[k] ?? from)).toFixed(0)} ms after change ${k}`);
    }
    const sorted = [...gaps].sort((a, b) => a - b);
    console.log(
      `  ${window.length} frames in ${((to - from) / 1000).toFixed(1)} s; gap p50 ${sorted[sorted.length >> 1].toFixed(0)} ms, p99 ${sorted[Math.floor(sorted.length * 0.99)].toFixed(0)} ms, longest ${longest.toFixed(0)} ms (join ${longestJoin.toFixed(0)} ms)`,
    );
    assert.ok(window.length > ((to - from) / 1000) * 25, 'about 30 frames a second throughout');
    const p99 = sorted[Math.floor(sorted.length * 0.99)];
    assert.ok(p99 <= 100, `99% of frame gaps ≤ 100 ms (p99 ${p99.toFixed(0)} ms)`);
    assert.ok(longestCommands <= 200, `no frame gap over 200 ms on layout/speaker changes and the leave (longest ${longestCommands.toFixed(0)} ms)`);
    assert.ok(longestJoin <= 250, `a join costs at most a 250 ms gap (${longestJoin.toFixed(0)} ms)`);
    assert.is((await info()).mixer.epoch, epochBefore, 'the same mixer process throughout (commands, not restarts)');
  } finally {
    child.kill('SIGTERM');
    for (const p of pubs) await p.close();
    await server.close();
  }
});

test.run();
