// Session-creation rate limits, and health under a flood of rejected requests (in a process of
// its own, with no media running, so the figure is the HTTP path's alone).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { startServer } from '../../server/main.ts';
import { signToken, type Role } from '../../pipeline/auth/tokens.ts';

const SECRET = 'test-secret-0123456789';
const token = (role: Role, room: string) =>
  signToken({ room, role, exp: Math.floor(Date.now() / 1000) + 600, jti: randomUUID() }, SECRET);
const bearer = (t: string) => ({ Authorization: `Bearer ${t}` });
const dummySdp = 'v=0\r\n';

test('rate limit on session creation → 429 with Retry-After; the server stays healthy under 200 rejected requests/s', async () => {
  const server = await startServer({
    port: 0,
    host: '127.0.0.1',
    authSecret: SECRET,
    limits: { maxRooms: 5, maxParticipantsPerRoom: 16, maxSubscribersPerRoom: 5, sessionsPerSecPerClient: 2, sessionBurstPerClient: 3 },
  });
  try {
    const t = token('publisher', 'rl');
    const responses = await Promise.all(
      Array.from({ length: 6 }, () => fetch(`${server.url}/rooms/rl/whip`, { method: 'POST', headers: { ...bearer(t), 'Content-Type': 'application/sdp' }, body: dummySdp })),
    );
    const statuses = responses.map((r) => r.status).sort();
    for (const r of responses) {
      if (r.status === 429) assert.ok(Number(r.headers.get('retry-after')) >= 1);
      await r.arrayBuffer();
    }
    assert.equal(statuses, [400, 400, 400, 429, 429, 429], 'the burst passes (then the bad SDP is refused); the rest wait');
    // 200 unauthenticated requests a second for 10 s from another process, while this one
    // checks /healthz every 200 ms on its own connection.
    const load = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/load.ts', `${server.url}/rooms/rl/whip`, '200', '10'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    load.stdout!.on('data', (d) => (out += d));
    const done = new Promise<void>((r) => load.once('exit', () => r()));
    const healthLatencies: number[] = [];
    let loadRunning = true;
    void done.then(() => (loadRunning = false));
    while (loadRunning) {
      const h0 = performance.now();
      const status = await new Promise<number>((resolve) => {
        http.get(`${server.url}/healthz`, { agent: false }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        }).on('error', () => resolve(0));
      });
      assert.is(status, 200);
      healthLatencies.push(performance.now() - h0);
      await new Promise((r) => setTimeout(r, 200));
    }
    await done;
    const summary = JSON.parse(out);
    healthLatencies.sort((a, b) => a - b);
    const p95 = healthLatencies[Math.floor(healthLatencies.length * 0.95)];
    console.log(`  rejected load: ${JSON.stringify(summary.statuses)} in ${summary.seconds.toFixed(1)} s; /healthz p95 ${p95.toFixed(0)} ms over ${healthLatencies.length} checks`);
    assert.equal(Object.keys(summary.statuses), ['401'], 'every request answered 401');
    assert.ok(summary.statuses['401'] >= 1900);
    assert.ok(p95 < 500, `/healthz p95 ${p95} ms`);
  } finally {
    await server.close();
  }
});

test.run();
