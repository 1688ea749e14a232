// What the MCU's HTTP API and the recording workers agree on: the BullMQ queue, a job's data,
// its progress and result, where its files live, and how a stop is requested.

import path from 'node:path';
import type { RedisOptions } from 'ioredis';
import type { RecordingFormat } from '../../pipeline/media/remux.ts';

export const DEFAULT_QUEUE = 'mcu-recordings';

export interface RecordingJobData {
  id: string;
  room: string;
  format: RecordingFormat;
  maxDurationSec: number;
  /** The WHEP endpoint on the node that hosts the room (the worker subscribes like a viewer). */
  whepUrl: string;
  /** A subscriber token for that room, when the MCU requires tokens. */
  token: string | null;
  createdAt: string;
}

export interface PartRecord {
  index: number;
  /** Wall-clock ms when the part's worker sent its first packet to FFmpeg. */
  startedAt: number;
  /** Seconds of media in the part (updated while it records). */
  seconds: number;
  bytes: number;
  worker: string;
}

export interface RecordingProgress {
  state: 'recording' | 'finalizing';
  worker: string;
  parts: PartRecord[];
  seconds: number;
  bytes: number;
  updatedAt: number;
}

export type EndReason = 'stopped' | 'max-duration' | 'room-closed' | 'worker-shutdown';

export interface RecordingResult {
  file: string;
  bytes: number;
  durationSec: number;
  parts: number;
  /** Media missing between parts (a worker crash and the takeover). */
  gapsSec: number;
  /** From the request (the job's creation) to the first media written. */
  startDelaySec: number | null;
  endReason: EndReason;
}

/** The Redis key whose presence asks the worker recording `id` to stop. */
export const stopKey = (queue: string, id: string) => `${queue}:stop:${id}`;

export const RECORDING_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A recording's directory: ids (UUIDs, checked) address files, never user input. */
export function recordingDir(root: string, id: string): string {
  if (!RECORDING_ID.test(id)) throw new Error(`not a recording id: "${id}"`);
  return path.join(path.resolve(root), id);
}

export const finalFileName = (format: RecordingFormat) => `recording.${format}`;
export const partFileName = (index: number, format: RecordingFormat) => `part-${String(index).padStart(3, '0')}.${format}`;
export const PART_FILE = /^part-(\d{3})\.(webm|mp4)$/;

/** ioredis options from a redis:// URL. */
export function redisOptions(url: string): RedisOptions {
  const u = new URL(url);
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new Error(`REDIS_URL must be redis://host:port, got "${url}"`);
  const db = u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0;
  return {
    host: u.hostname || '127.0.0.1',
    port: Number(u.port) || 6379,
    username: u.username ? decodeURIComponent(u.username) : undefined,
    password: u.password ? decodeURIComponent(u.password) : undefined,
    db: Number.isInteger(db) ? db : 0,
    tls: u.protocol === 'rediss:' ? {} : undefined,
  };
}

/**
 * BullMQ (5.81) closes a connection by removing every listener from it while the connection's
 * start (wait for Redis, then INFO) may still be in flight; when that start then fails, the
 * connection emits 'error' with nobody listening, which throws and ends the process. Seen once in
 * a CI run: a server stopping exited with code 1 on "Stream isn't writeable and
 * enableOfflineQueue options is false" from BullMQ's INFO. From here on, an 'error' the
 * connections of `owner` (a Queue or a Worker) emit with no listener goes to `onOrphan` instead.
 */
export function catchOrphanErrors(owner: object, onOrphan: (err: Error) => void): void {
  const o = owner as { connection?: unknown; blockingConnection?: unknown };
  for (const conn of [o.connection, o.blockingConnection]) {
    const c = conn as { emit?: (event: string | symbol, ...args: unknown[]) => boolean; listenerCount?: (event: string) => number } | undefined;
    if (!c || typeof c.emit !== 'function' || typeof c.listenerCount !== 'function') continue;
    const emit = c.emit.bind(c);
    c.emit = (event, ...args) => {
      if (event === 'error' && c.listenerCount!('error') === 0) {
        onOrphan(args[0] instanceof Error ? args[0] : new Error(String(args[0])));
        return false;
      }
      return emit(event, ...args);
    };
  }
}
