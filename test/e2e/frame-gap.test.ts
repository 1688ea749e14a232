// Every change reaches subscribers without a frame gap over 100 ms: layout switches, fit,
// pinning, speaker switches, a join and a leave, measured by a decoding subscriber in its own process while
// pre-encoded publishers (no encoder in the test process) keep the room busy.

import { spawn } from 'node:child_process';
import readline from 'node:readline';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startServer } from '../../server/main.ts';
import { audioFixture, videoFixture } from '../../bench/lib/fixtures.ts';
import { RtpPublisher } from '../../bench/lib/RtpPublisher.ts';
import { waitFor } from '../helpers/peers.ts';

test('10 layout changes, 2 speaker switches, a join and a leave: no frame gap over 100 ms, same mixer', async () => {
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
    for (const change of changes) {
      await change();
      await new Promise((r) => setTimeout(r, 500));
    }
    const to = Date.now();
    const window = times.filter((t) => t >= from && t <= to);
    const gaps = window.slice(1).map((t, i) => t - window[i]);
    const longest = Math.max(to - window[window.length - 1], window[0] - from, ...gaps);
    const sorted = [...gaps].sort((a, b) => a - b);
    console.log(
      `  ${window.length} frames in ${((to - from) / 1000).toFixed(1)} s; gap p50 ${sorted[sorted.length >> 1].toFixed(0)} ms, p99 ${sorted[Math.floor(sorted.length * 0.99)].toFixed(0)} ms, longest ${longest.toFixed(0)} ms`,
    );
    assert.ok(window.length > ((to - from) / 1000) * 25, 'about 30 frames a second throughout');
    assert.ok(longest <= 100, `no frame gap over 100 ms (longest ${longest.toFixed(0)} ms)`);
    assert.is((await info()).mixer.epoch, epochBefore, 'the same mixer process throughout (commands, not restarts)');
  } finally {
    child.kill('SIGTERM');
    for (const p of pubs) await p.close();
    await server.close();
  }
});

test.run();
