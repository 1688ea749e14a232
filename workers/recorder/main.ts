// The recording worker process (`npm run worker`): takes recording jobs from the BullMQ queue on
// Redis and runs them (RecordingJob.ts). Run any number, on any host that reaches Redis, the
// MCU's HTTP address and RECORDINGS_DIR (shared storage when workers run on several hosts).
//
// A worker that dies mid-recording stops renewing its job's lock; after RECORDER_LOCK_MS another
// worker's stalled-job check moves the job back to the queue and it continues into a next part.
// SIGTERM/SIGINT: stop taking jobs, finish the files being recorded, then exit.

import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { runRecording } from './RecordingJob.ts';
import { catchOrphanErrors, DEFAULT_QUEUE, redisOptions, type RecordingJobData, type RecordingResult } from './jobs.ts';
import { stopAllFfmpeg } from '../ffmpeg/FfmpegProcess.ts';
import { envInt } from '../../pipeline/env.ts';
import { log as rootLog, type Logger } from '../log.ts';
import { sweepStaleTempDirs } from '../tmp.ts';
import { warmUp } from './warm.ts';

export interface RecorderConfig {
  redisUrl: string;
  queue: string;
  recordingsDir: string;
  concurrency: number;
  lockMs: number;
  stalledCheckMs: number;
}

export function loadRecorderConfig(env = process.env): RecorderConfig {
  return {
    redisUrl: env.REDIS_URL || 'redis://127.0.0.1:6379',
    queue: env.RECORDINGS_QUEUE || DEFAULT_QUEUE,
    recordingsDir: path.resolve(env.RECORDINGS_DIR || 'recordings'),
    concurrency: envInt(env, 'RECORDER_CONCURRENCY', 2, 1, 64),
    lockMs: envInt(env, 'RECORDER_LOCK_MS', 2000, 1000, 600_000),
    stalledCheckMs: envInt(env, 'RECORDER_STALLED_CHECK_MS', 1000, 500, 600_000),
  };
}

export interface RunningRecorder {
  worker: Worker<RecordingJobData, RecordingResult>;
  /** Resolves once warmed up and taking jobs. */
  warm: Promise<void>;
  close(): Promise<void>;
}

export function startRecorder(config: RecorderConfig, logger: Logger = rootLog): RunningRecorder {
  const name = `${os.hostname()}:${process.pid}`;
  const log = logger.child({ component: 'recorder', worker: name });
  const connection = { ...redisOptions(config.redisUrl), maxRetriesPerRequest: null };
  // A plain client for the stop flags (the worker's own connection blocks on the queue).
  const redis = new Redis({ ...connection, maxRetriesPerRequest: 1 });
  redis.on('error', () => {});
  const shutdown = new AbortController();
  const lost = new Map<string, AbortController>();

  const worker = new Worker<RecordingJobData, RecordingResult>(
    config.queue,
    async (job: Job<RecordingJobData, RecordingResult>) => {
      const lostCtl = new AbortController();
      lost.set(job.id!, lostCtl);
      const jobLog = log.child({ recording: job.id, room: job.data.room });
      jobLog.info({ format: job.data.format, attempt: job.attemptsMade }, 'recording job taken');
      try {
        const result = await runRecording({
          job,
          recordingsDir: config.recordingsDir,
          queueName: config.queue,
          redis,
          worker: name,
          shutdown: shutdown.signal,
          lost: lostCtl.signal,
          log: (m) => jobLog.info(m),
        });
        jobLog.info({ durationSec: result.durationSec, parts: result.parts, endReason: result.endReason }, 'recording done');
        return result;
      } catch (err) {
        jobLog.error({ err }, 'recording failed');
        // BullMQ keeps only the message (the API's `error`): a failure without one says where it
        // came from (e2e/recordings saw a job fail with an empty reason twice on 2026-11-27).
        if (!(err instanceof Error)) throw new Error(`recording failed: ${String(err)}`);
        if (!err.message) throw new Error(`recording failed: ${err.name} without a message, thrown ${err.stack?.split('\n')[1]?.trim() ?? 'somewhere unknown'}`, { cause: err });
        throw err;
      } finally {
        lost.delete(job.id!);
      }
    },
    {
      connection,
      concurrency: config.concurrency,
      lockDuration: config.lockMs,
      stalledInterval: config.stalledCheckMs,
      maxStalledCount: 10,
      // Redis going away is survived: BullMQ reconnects and the worker carries on. Jobs are
      // taken once the worker is warm (warm.ts): its first job starts as fast as later ones.
      autorun: false,
    },
  );
  catchOrphanErrors(worker, (err) => log.warn({ err: err.message }, 'a Redis connection of the closed worker failed (ignored)'));
  const warm = warmUp().then((ms) => {
    log.info({ ms }, 'warmed up (FFmpeg, WebRTC)');
    if (!shutdown.signal.aborted) void worker.run().catch((err) => log.error({ err }, 'the worker stopped'));
  });
  // Redis away: ioredis retries on its own; say so once per distinct error and 30 s.
  let lastLogged = { message: '', at: 0 };
  worker.on('error', (err) => {
    const now = Date.now();
    if (err.message === lastLogged.message && now - lastLogged.at < 30_000) return;
    lastLogged = { message: err.message, at: now };
    log.warn({ err }, 'queue error (retrying)');
  });
  worker.on('lockRenewalFailed', (ids) => {
    for (const id of ids) lost.get(id)?.abort();
  });

  let closing: Promise<void> | null = null;
  return {
    worker,
    warm,
    close() {
      if (closing) return closing;
      closing = (async () => {
        shutdown.abort();
        await worker.close();
        await stopAllFfmpeg();
        redis.disconnect();
      })();
      return closing;
    },
  };
}

async function main(): Promise<void> {
  let config: RecorderConfig;
  try {
    config = loadRecorderConfig();
  } catch (err) {
    rootLog.fatal(`invalid configuration: ${(err as Error).message}`);
    process.exit(2);
  }
  const swept = sweepStaleTempDirs();
  if (swept) rootLog.info({ removed: swept }, 'removed temporary files of processes that are gone');
  const running = startRecorder(config);
  const log = rootLog.child({ component: 'recorder' });
  log.info({ queue: config.queue, redis: config.redisUrl, dir: config.recordingsDir, concurrency: config.concurrency }, 'recording worker started');
  running.warm.then(() => running.worker.waitUntilReady()).then(
    () => log.info('ready: waiting for jobs'),
    (err) => log.warn({ err }, 'Redis not reachable yet; retrying'),
  );
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'finishing the recordings in progress');
    const force = setTimeout(() => process.exit(1), 60_000);
    force.unref();
    await running.close();
    log.info('stopped');
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err) => {
    rootLog.fatal({ err }, 'failed to start');
    process.exit(1);
  });
}
