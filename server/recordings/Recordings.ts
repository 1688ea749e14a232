// The recording API's side of the queue: creates BullMQ jobs, reads their state back, asks a
// worker to stop, serves and deletes the files. Redis being away never touches live rooms: the
// queue's connection fails fast (no offline queue), and every call answers 503 naming the cause
// until ioredis has reconnected on its own.

import fs from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { Queue, type Job } from 'bullmq';
import { McuError, alreadyFinished, badRequest, notFinished, notFound, recordingsUnavailable } from '../../pipeline/errors.ts';
import { RECORDING_FORMATS, type RecordingFormat } from '../../pipeline/media/remux.ts';
import { signToken } from '../../pipeline/auth/tokens.ts';
import { log as rootLog } from '../../workers/log.ts';
import {
  catchOrphanErrors,
  finalFileName,
  PART_FILE,
  RECORDING_ID,
  recordingDir,
  redisOptions,
  stopKey,
  type RecordingJobData,
  type RecordingProgress,
  type RecordingResult,
} from '../../workers/recorder/jobs.ts';

const log = rootLog.child({ component: 'recordings' });

export type RecordingState = 'queued' | 'starting' | 'recording' | 'finalizing' | 'done' | 'failed';

export interface RecordingsOptions {
  redisUrl: string;
  queue: string;
  recordingsDir: string;
  /** Where workers reach this node's HTTP API (WHEP), e.g. http://mcu-1.internal:8080 */
  publicUrl: () => string;
  /** The HS256 key the server mints its own tokens with; null in open mode. */
  authSecret: string | null;
  /** TOKEN_MAX_TTL_SEC: the recorder's token lives no longer (default 24 h). */
  tokenMaxTtlSec?: number;
}

const MAX_DURATION_SEC = 24 * 3600;
/** maxDurationSec when the request gives none. */
export const DEFAULT_MAX_DURATION_SEC = 3 * 3600;
const REDIS_TIMEOUT_MS = 2000;

export class Recordings {
  private readonly queue: Queue<RecordingJobData, RecordingResult>;
  private lastError = '';
  private readonly where: string;
  private closing: Promise<void> | null = null;

  constructor(private readonly o: RecordingsOptions) {
    const conn = redisOptions(o.redisUrl);
    this.where = `${conn.host}:${conn.port}`;
    this.queue = new Queue(o.queue, {
      connection: { ...conn, enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 2000 },
    });
    this.queue.on('error', (err: Error) => {
      this.lastError = err.message;
    });
    catchOrphanErrors(this.queue, (err) => log.warn({ err: err.message }, 'the Redis connection of the closed recordings queue failed (ignored)'));
    void this.queue.client.then((c) => c.on('ready', () => (this.lastError = '')), () => {});
  }

  get dir(): string {
    return path.resolve(this.o.recordingsDir);
  }

  /** Runs a queue operation, turning an absent Redis into a 503 that says so. */
  private async redis<T>(op: () => Promise<T>): Promise<T> {
    const unavailable = (cause: string) =>
      recordingsUnavailable(
        `recordings are unavailable: Redis at ${this.where} (REDIS_URL) does not answer (${cause}). Live rooms are not affected; retry when Redis is back.`,
      );
    let timer: NodeJS.Timeout | undefined;
    try {
      const client = await Promise.race([
        this.queue.client,
        new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(this.lastError || 'no connection within 2 s')), REDIS_TIMEOUT_MS))),
      ]);
      clearTimeout(timer);
      if (client.status !== 'ready') throw unavailable(this.lastError || `connection ${client.status}`);
      return await Promise.race([
        op(),
        new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('no reply in 2 s')), REDIS_TIMEOUT_MS))),
      ]);
    } catch (err) {
      if (err instanceof McuError) throw err;
      throw unavailable((err as Error).message);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Validates a POST body: format (webm default) and maxDurationSec. */
  static parseRequest(body: unknown): { format: RecordingFormat; maxDurationSec: number } | string {
    const b = (body ?? {}) as Record<string, unknown>;
    if (typeof body !== 'object' || Array.isArray(body)) return 'the body must be a JSON object';
    for (const k of Object.keys(b)) if (!['format', 'maxDurationSec'].includes(k)) return `unknown field "${k}" (known: format, maxDurationSec)`;
    const format = b.format === undefined ? 'webm' : b.format;
    if (!RECORDING_FORMATS.includes(format as RecordingFormat)) return `"format" must be one of ${RECORDING_FORMATS.join(', ')}, got ${JSON.stringify(format)}`;
    const max = b.maxDurationSec === undefined ? DEFAULT_MAX_DURATION_SEC : b.maxDurationSec;
    if (typeof max !== 'number' || !Number.isFinite(max) || max < 1 || max > MAX_DURATION_SEC) {
      return `"maxDurationSec" must be a number of seconds from 1 to ${MAX_DURATION_SEC}`;
    }
    return { format: format as RecordingFormat, maxDurationSec: max };
  }

  async create(room: string, req: { format: RecordingFormat; maxDurationSec: number }) {
    const id = randomUUID();
    const now = Math.floor(Date.now() / 1000);
    const token = this.o.authSecret
      ? signToken({ room, role: 'subscriber', name: 'recorder', iat: now, exp: now + Math.min(Math.ceil(req.maxDurationSec) + 3600, this.o.tokenMaxTtlSec ?? 86_400), jti: id }, this.o.authSecret)
      : null;
    const data: RecordingJobData = {
      id,
      room,
      format: req.format,
      maxDurationSec: req.maxDurationSec,
      whepUrl: `${this.o.publicUrl()}/rooms/${encodeURIComponent(room)}/whep?level=720p&keyframes=periodic`,
      token,
      createdAt: new Date().toISOString(),
    };
    const job = await this.redis(() => this.queue.add('record', data, { jobId: id, attempts: 1, removeOnComplete: false, removeOnFail: false }));
    log.info({ recording: id, room, format: req.format, maxDurationSec: req.maxDurationSec }, 'recording requested (queued for a worker)');
    return this.describe(job, 'queued');
  }

  private async job(id: string): Promise<Job<RecordingJobData, RecordingResult>> {
    if (!RECORDING_ID.test(id)) throw notFound(`no recording "${id}"`);
    const job = await this.redis(() => this.queue.getJob(id));
    if (!job) throw notFound(`no recording "${id}"`);
    return job;
  }

  private static state(s: string, progress: unknown): RecordingState | null {
    if (s === 'completed') return 'done';
    if (s === 'failed') return 'failed';
    if (s === 'active') {
      const p = progress as Partial<RecordingProgress> | undefined;
      if (p?.state === 'finalizing') return 'finalizing';
      // `recording` means media is being written: a part has started with its first keyframe.
      return p?.parts?.length ? 'recording' : 'starting';
    }
    if (s === 'unknown') return null;
    return 'queued';
  }

  private async stateOf(job: Job<RecordingJobData, RecordingResult>): Promise<RecordingState | null> {
    return Recordings.state(await this.redis(() => job.getState()), job.progress);
  }

  /**
   * The job and its state read together: a job read just before its worker finished it has no
   * result and no `finishedOn`, while its state, read a moment later, is already `done` or
   * `failed` (seen in full runs: `done` with `result: null`, and `failed` whose error was only
   * "failed" because the failure's reason was not in the job read). Such a job is read again.
   */
  private async consistent(job: Job<RecordingJobData, RecordingResult>): Promise<[Job<RecordingJobData, RecordingResult>, RecordingState | null]> {
    const state = await this.stateOf(job);
    if ((state === 'done' || state === 'failed') && !job.finishedOn) {
      const fresh = await this.redis(() => this.queue.getJob(job.id!));
      if (fresh) return [fresh, state];
    }
    return [job, state];
  }

  async get(id: string) {
    const [job, state] = await this.consistent(await this.job(id));
    if (!state) throw notFound(`no recording "${id}"`);
    return this.describe(job, state);
  }

  async list(room?: string) {
    const jobs = await this.redis(() => this.queue.getJobs(['active', 'waiting', 'prioritized', 'delayed', 'completed', 'failed'], 0, 499));
    const out = [];
    for (const job of jobs.filter(Boolean).sort((a, b) => b.timestamp - a.timestamp)) {
      if (room && job.data.room !== room) continue;
      const [read, state] = await this.consistent(job);
      if (state) out.push(this.describe(read, state));
    }
    return out;
  }

  /** Asks the worker to finish the file; a recording still queued is taken off the queue. */
  async stop(id: string): Promise<{ status: number; body: unknown }> {
    const job = await this.job(id);
    const state = await this.stateOf(job);
    if (state === 'done' || state === 'failed') throw alreadyFinished(`recording "${id}" has already finished (${state})`);
    log.info({ recording: id, room: job.data.room, state }, 'recording stop requested');
    if (state === 'queued') {
      // A worker may take it in the meantime (the job is then locked): ask it to stop instead.
      const removed = await this.redis(() => job.remove().then(() => true, () => false));
      if (removed) return { status: 200, body: { id, state: 'canceled', message: 'the recording had not started; it was taken off the queue' } };
    }
    await this.redis(() => this.queue.client.then((c) => c.set(stopKey(this.o.queue, id), '1', { EX: 86_400 })));
    return { status: 202, body: { ...this.describe(job, state ?? 'recording'), stopping: true } };
  }

  /** The file to serve: the finished recording, or for a failed one the newest part kept. */
  async file(id: string): Promise<{ path: string; partial: boolean; downloadName: string }> {
    const job = await this.job(id);
    const state = await this.stateOf(job);
    const dir = recordingDir(this.dir, id);
    const { format, room } = job.data;
    const downloadName = `${room}-${id}.${format}`;
    const final = path.join(dir, finalFileName(format));
    if (state === 'done' && fs.existsSync(final)) return { path: final, partial: false, downloadName };
    if (state === 'failed') {
      const parts = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => PART_FILE.test(f)).sort() : [];
      if (parts.length) return { path: path.join(dir, parts[parts.length - 1]), partial: true, downloadName };
      throw notFound(`recording "${id}" failed and kept no media`);
    }
    if (state === 'done') throw notFound(`the file of recording "${id}" is no longer in RECORDINGS_DIR`);
    throw notFinished(`recording "${id}" is ${state}; its file is available once it is done`);
  }

  async remove(id: string): Promise<void> {
    const job = await this.job(id);
    const state = await this.stateOf(job);
    if (state !== 'done' && state !== 'failed') {
      throw notFinished(`recording "${id}" is ${state}; stop it (POST /recordings/${id}/stop) before deleting it`);
    }
    await this.redis(() => job.remove());
    await this.redis(() => this.queue.client.then((c) => c.del(stopKey(this.o.queue, id))));
    fs.rmSync(recordingDir(this.dir, id), { recursive: true, force: true });
    log.info({ recording: id, room: job.data.room }, 'recording deleted');
  }

  private describe(job: Job<RecordingJobData, RecordingResult>, state: RecordingState) {
    const p = (typeof job.progress === 'object' ? job.progress : {}) as Partial<RecordingProgress>;
    const d = job.data;
    const result = state === 'done' ? job.returnvalue : null;
    return {
      id: d.id,
      room: d.room,
      format: d.format,
      state,
      maxDurationSec: d.maxDurationSec,
      createdAt: d.createdAt,
      startedAt: job.processedOn ? new Date(job.processedOn).toISOString() : null,
      finishedAt: job.finishedOn ? new Date(job.finishedOn).toISOString() : null,
      progress: {
        seconds: result?.durationSec ?? p.seconds ?? 0,
        bytes: result?.bytes ?? p.bytes ?? 0,
        parts: result?.parts ?? p.parts?.length ?? 0,
        worker: p.worker ?? null,
        updatedAt: p.updatedAt ? new Date(p.updatedAt).toISOString() : null,
      },
      result: result ? { durationSec: result.durationSec, bytes: result.bytes, parts: result.parts, gapsSec: result.gapsSec, startDelaySec: result.startDelaySec ?? null, endReason: result.endReason } : null,
      error: state === 'failed' ? job.failedReason || 'failed' : null,
      links: { self: `/recordings/${d.id}`, stop: `/recordings/${d.id}/stop`, file: `/recordings/${d.id}/file` },
    };
  }

  close(): Promise<void> {
    if (!this.closing) this.closing = this.queue.close().catch(() => {});
    return this.closing;
  }
}
