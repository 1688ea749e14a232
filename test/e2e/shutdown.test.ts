// SIGTERM / SIGINT: the server closes its sessions, ends every FFmpeg process and exits 0.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { startPublisher, waitFor } from '../helpers/peers.ts';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  test(`${signal}: every mixer process ends and the server exits cleanly`, async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
      env: { ...process.env, PORT: '0', HOST: '127.0.0.1', DEMO: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    const port = await waitFor(() => /listening on http:\/\/[^:]+:(\d+)/.exec(out)?.[1], 15_000, 'the server to listen');
    const baseUrl = `http://127.0.0.1:${port}`;
    const pub = await startPublisher({ baseUrl, room: 'bye', color: [200, 0, 0], toneHz: 440 });
    const pids = await waitFor(async () => {
      const info = await (await fetch(`${baseUrl}/rooms/bye`)).json();
      return info.mixer.pid ? [info.mixer.pid as number] : null;
    }, 5000, 'a mixer pid');
    assert.ok(alive(pids[0]));
    child.kill(signal);
    const code = await Promise.race([exited, new Promise<string>((r) => setTimeout(() => r('timeout'), 12_000))]);
    assert.is(code, 0, `exit code (output: ${out.slice(-500)})`);
    assert.match(out, /stopped/);
    for (const pid of pids) assert.not.ok(alive(pid), `ffmpeg ${pid} still running`);
    await pub.close();
  });
}

test.run();
