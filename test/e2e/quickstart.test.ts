// The README's first command as a newcomer runs it: `npm run demo` starts the server with room
// "demo", whose three synthetic publishers show as red, green and blue tiles and beep their own
// tones; the lobby and the room page answer; Ctrl-C stops it cleanly.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { startSubscriber, waitFor, type Subscriber } from '../helpers/peers.ts';
import { colorAt, colorDistance } from '../helpers/media.ts';

// server/demo.ts's people: colour and tone.
const PEOPLE = [
  { name: 'Ada', rgb: [220, 60, 60] as [number, number, number], hz: 440 },
  { name: 'Grace', rgb: [60, 170, 80] as [number, number, number], hz: 660 },
  { name: 'Linus', rgb: [60, 110, 220] as [number, number, number], hz: 880 },
];

test('npm run demo: a live room "demo" with three coloured, beeping publishers; pages answer; Ctrl-C stops it all', async () => {
  const child = spawn('npm', ['run', '-s', 'demo'], {
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // its own process group: npm, tsx and the server are stopped together
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  // 'close', not 'exit': npm's exit comes before the server's last lines are read from the pipe
  // they share (run F1 missed its "stopped" line that way though every process had exited).
  const closed = new Promise<number | null>((r) => child.once('close', (code) => r(code)));
  let sub: Subscriber | undefined;
  try {
    const port = await waitFor(() => /listening on http:\/\/[^:]+:(\d+)/.exec(out)?.[1], 60_000, 'the server to listen');
    const base = `http://127.0.0.1:${port}`;
    const info = await waitFor(async () => {
      const res = await fetch(`${base}/rooms/demo`);
      if (res.status !== 200) return null;
      const j = (await res.json()) as any;
      return j.participants.length === 3 && j.participants.every((p: any) => p.video && p.audio) ? j : null;
    }, 30_000, 'room demo with three publishers sending audio and video');
    assert.equal(info.participants.map((p: any) => p.name).sort(), PEOPLE.map((p) => p.name));

    const lobby = await fetch(`${base}/`, { headers: { Accept: 'text/html' } });
    assert.is(lobby.status, 200);
    assert.match(lobby.headers.get('content-type') ?? '', /text\/html/);
    const page = await fetch(`${base}/rooms/demo`, { headers: { Accept: 'text/html' } });
    assert.is(page.status, 200);
    assert.match(await page.text(), /<script[^>]+room\.js/);
    const listed = (await (await fetch(`${base}/rooms`)).json()) as any;
    assert.ok(JSON.stringify(listed).includes('"demo"'), `GET /rooms lists demo: ${JSON.stringify(listed)}`);

    // What a watcher gets: each publisher's colour at its tile, each tone in the mix.
    sub = await startSubscriber({ baseUrl: base, room: 'demo' });
    await sub.waitForFrames(10, 15_000);
    const tiles = await waitFor(async () => {
      const j = (await (await fetch(`${base}/rooms/demo`)).json()) as any;
      const frame = sub!.lastFrame();
      if (!frame) return null;
      const seen = PEOPLE.map((who) => {
        const id = j.participants.find((p: any) => p.name === who.name).id;
        const t = j.layout.tiles.find((x: any) => x.participantId === id);
        const sx = frame.width / j.layout.canvas.width;
        const sy = frame.height / j.layout.canvas.height;
        const c = colorAt(frame, (t.video.x + t.video.width / 2) * sx, (t.video.y + t.video.height / 2) * sy, 6);
        return { who: who.name, c, ok: colorDistance(c, who.rgb) < 60 };
      });
      return seen.every((s) => s.ok) ? seen : null;
    }, 10_000, 'each demo publisher\'s colour at the centre of its tile');
    console.log(`  tiles: ${tiles.map((t) => `${t.who} ${t.c.join(',')}`).join('; ')}`);
    // The voices take turns (400 ms in every 1.5 s): 3 s of the mix holds each one's beeps. Read
    // every second until all three are there (a loaded box can start one voice late); every
    // reading is printed, and the server's warnings with them when they never all are.
    await new Promise((r) => setTimeout(r, 3000));
    const readings: string[] = [];
    let voices: string[] = [];
    const levels = await waitFor(
      async () => {
        const l = PEOPLE.map((who) => sub!.toneDb(who.hz, 3000));
        readings.push(PEOPLE.map((who, i) => `${who.hz} Hz ${l[i].toFixed(1)} dB`).join(', '));
        if (l.every((x) => x > -45)) return l;
        voices = ((await (await fetch(`${base}/rooms/demo`)).json()) as any).participants.map((p: any) => `${p.name} ${JSON.stringify(p.voice)}`);
        await new Promise((r) => setTimeout(r, 1000));
        return null;
      },
      15_000,
      () => {
        const warnings = out.split('\n').filter((l) => /"level":"(warn|error)"|mixer|audio/.test(l)).slice(-30);
        return `each demo tone above -45 dB in the mix; readings, a second apart:\n  ${readings.join('\n  ')}\nvoices: ${voices.join('; ')}\nserver:\n${warnings.join('\n')}`;
      },
    );
    console.log(`  tones in the mix: ${PEOPLE.map((who, i) => `${who.hz} Hz ${levels[i].toFixed(1)} dB`).join(', ')}${readings.length > 1 ? ` (after ${readings.length} readings: ${readings.join(' | ')})` : ''}`);
  } finally {
    await sub?.close();
    // Ctrl-C in the terminal: SIGINT to the whole foreground group (npm, tsx, the server).
    if (child.exitCode === null) process.kill(-child.pid!, 'SIGINT');
  }
  // npm may exit first; the server and its FFmpeg processes finish their shutdown after it.
  const t0 = performance.now();
  while (groupAlive(child.pid!) && performance.now() - t0 < 20_000) await new Promise((r) => setTimeout(r, 100));
  const left = groupAlive(child.pid!);
  if (left) process.kill(-child.pid!, 'SIGKILL');
  await closed;
  assert.not.ok(left, `everything npm run demo started has exited within 20 s of Ctrl-C (output: ${out.slice(-800)})`);
  console.log(`  Ctrl-C: every process gone after ${(performance.now() - t0).toFixed(0)} ms`);
  assert.match(out, /stopped/, `the server says it stopped (the output's end: ${out.slice(-600)})`);
});

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

test.run();
