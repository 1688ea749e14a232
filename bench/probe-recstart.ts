// Probe: a fresh worker's consecutive recording jobs, start delay of each, with the worker's log.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServer } from '../server/main.ts';
import { startPublisher } from '../test/helpers/peers.ts';
import { startWorker } from '../test/helpers/recorder.ts';
import { testRedis } from '../test/helpers/redis.ts';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const room = 'rec-room';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcu-rec-probe-'));
const queue = `probe-${process.pid}`;
const redis = await testRedis();
const server = await startServer({ port: 0, host: '127.0.0.1', roomIdleMs: 500, demo: false, redisUrl: redis.url, recordingsDir: dir, recordingsQueue: queue });
const a = await startPublisher({ baseUrl: server.url, room, color: [220, 30, 30], toneHz: 440, name: 'Ann' });
const b = await startPublisher({ baseUrl: server.url, room, color: [30, 30, 220], toneHz: 1200, name: 'Bob' });
const JOBS = Number(process.env.JOBS ?? 3);
const formats = (process.env.FORMATS ?? 'webm,mp4').split(',');
try {
  for (const format of formats) {
    const w = await startWorker({ REDIS_URL: redis.url, RECORDINGS_QUEUE: queue, RECORDINGS_DIR: dir, RECORDER_CONCURRENCY: '1', LOG_FILE: '' });
    const from = w.output.length;
    for (let k = 1; k <= JOBS; k++) {
      const t0 = Date.now();
      const res = await fetch(`${server.url}/rooms/${room}/recordings`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ format, maxDurationSec: 3 }) });
      const { id } = (await res.json()) as any;
      let r: any;
      for (;;) { r = await (await fetch(`${server.url}/recordings/${id}`)).json(); if (r.state === 'done' || r.state === 'failed') break; await sleep(100); }
      console.log(`${format} job ${k}: ${r.state} startDelaySec ${r.result?.startDelaySec} (request at ${new Date(t0).toISOString()}) ${r.error ?? ''}`);
      await fetch(`${server.url}/recordings/${id}`, { method: 'DELETE' });
      if (process.env.GAP_MS) await sleep(Number(process.env.GAP_MS));
    }
    for (const l of w.output.slice(from)) if (/taken|part \d|warmed|done/.test(l)) console.log('   w', (/"time":"([^"]*)"/.exec(l)?.[1] ?? '') , /"msg":"([^"]*)"/.exec(l)?.[1] ?? l.slice(0, 200));
    await w.stop();
  }
} finally {
  await a.close(); await b.close(); await server.close(); await redis.stop();
  fs.rmSync(dir, { recursive: true, force: true });
}
process.exit(0);
