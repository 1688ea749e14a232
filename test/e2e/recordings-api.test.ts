// The recording API against real Redis and a real BullMQ worker, without media: a job read just
// before its worker finished it must still be described with its outcome. In full runs the API
// once answered `failed` with the error "failed" (the disk-full reason lost) and once `done`
// with `result: null`: the job was read while active, its state a moment later.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker, type Job } from 'bullmq';
import { Recordings } from '../../server/recordings/Recordings.ts';
import { catchOrphanErrors, redisOptions } from '../../workers/recorder/jobs.ts';
import { redisUnavailableReason, testRedis, type TestRedis } from '../helpers/redis.ts';
import { skip } from '../helpers/skip.ts';
import { waitFor } from '../helpers/peers.ts';

interface Ctx {
  redis?: TestRedis;
  dir?: string;
}
const ctx: Ctx = {};

test.before(async () => {
  const reason = redisUnavailableReason();
  if (reason) return skip(reason);
  ctx.redis = await testRedis();
  ctx.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcu-rec-api-'));
});
test.after(async () => {
  await ctx.redis?.stop();
  if (ctx.dir) fs.rmSync(ctx.dir, { recursive: true, force: true });
});

/** A job read while still waiting, then finished by a worker that runs `outcome`. */
async function staleJobFinished(queue: string, outcome: (job: Job) => Promise<unknown>) {
  const recordings = new Recordings({ redisUrl: ctx.redis!.url, queue, recordingsDir: ctx.dir!, publicUrl: () => 'http://127.0.0.1:1', authSecret: null });
  const created = await recordings.create('room-a', { format: 'webm', maxDurationSec: 60 });
  const q = (recordings as unknown as { queue: { getJob(id: string): Promise<Job> } }).queue;
  const stale = await q.getJob(created.id);
  const worker = new Worker(queue, outcome, { connection: redisOptions(ctx.redis!.url) });
  try {
    await waitFor(async () => ['completed', 'failed'].includes(await stale.getState()), 10_000, 'the worker to finish the job');
  } finally {
    await worker.close();
  }
  return { recordings, stale };
}

test('a job read before its worker failed it is described with the failure\'s reason, not "failed"', async () => {
  if (!ctx.redis) return skip('no Redis');
  const { recordings, stale } = await staleJobFinished('rec-api-failed', async () => {
    throw new Error('disk full writing part-000.webm in RECORDINGS_DIR (ENOSPC); the partial recording is kept');
  });
  try {
    assert.is(stale.failedReason, undefined, 'the job object was read before the failure');
    const [job, state] = await (recordings as unknown as { consistent(j: Job): Promise<[Job, string]> }).consistent(stale);
    const described = (recordings as unknown as { describe(j: Job, s: string): { state: string; error: string | null } }).describe(job, state);
    assert.is(described.state, 'failed');
    assert.match(described.error ?? '', /disk full/);
  } finally {
    await recordings.close();
  }
});

test('a job read before its worker completed it is described with its result', async () => {
  if (!ctx.redis) return skip('no Redis');
  const { recordings, stale } = await staleJobFinished('rec-api-done', async () => ({ durationSec: 3, bytes: 1000, parts: 1, gapsSec: 0, endReason: 'stopped' }));
  try {
    const [job, state] = await (recordings as unknown as { consistent(j: Job): Promise<[Job, string]> }).consistent(stale);
    const described = (recordings as unknown as { describe(j: Job, s: string): { state: string; result: { durationSec: number } | null } }).describe(job, state);
    assert.is(described.state, 'done');
    assert.is(described.result?.durationSec, 3);
  } finally {
    await recordings.close();
  }
});

// Run D4 (2026-11-27): the server exited with code 1 while stopping, on BullMQ's INFO failing
// after the queue had closed (its connection's listeners gone). Here that late failure is
// injected: the connection emits 'error' after close() as BullMQ's start would.
test("the queue's connection failing after close() does not end the process", async () => {
  if (!ctx.redis) return skip('no Redis');
  const recordings = new Recordings({ redisUrl: ctx.redis.url, queue: 'rec-api-late', recordingsDir: ctx.dir!, publicUrl: () => 'http://127.0.0.1:1', authSecret: null });
  await recordings.list(); // connected and started
  const conn = (recordings as unknown as { queue: { connection: import('node:events').EventEmitter } }).queue.connection;
  await recordings.close();
  assert.is(conn.listenerCount('error'), 0, 'BullMQ removed the connection\'s listeners on close');
  assert.not.throws(() => conn.emit('error', new Error("Stream isn't writeable and enableOfflineQueue options is false")));
  // A Worker's connections alike (the recorder process).
  const worker = new Worker('rec-api-late', async () => null, { connection: redisOptions(ctx.redis.url), autorun: false });
  const seen: string[] = [];
  catchOrphanErrors(worker, (err) => seen.push(err.message));
  await worker.close();
  const wconn = (worker as unknown as { connection: import('node:events').EventEmitter }).connection;
  assert.not.throws(() => wconn.emit('error', new Error('late')));
  assert.equal(seen, ['late']);
});

test.run();
