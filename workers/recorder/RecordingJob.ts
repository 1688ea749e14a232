// One recording job, as one worker runs it: subscribe to the room's mix over WHEP, remux the
// RTP into parts with `-c copy` (WebM clusters / MP4 fragments of one second, so a part is
// playable up to its last second if this process dies), then join the parts into one file.
// A job handed over after a crash finds the earlier parts on disk and continues with the next.

import fs from 'node:fs';
import path from 'node:path';
import { UnrecoverableError, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { WhepRtpClient, WHEP_RTP_CODECS, type WhepTimeline } from '../clients/WhepRtpClient.ts';
import { sleep } from '../../pipeline/sleep.ts';
import { HttpStatusError } from '../clients/sdpExchange.ts';
import { RtpRemux } from '../media/RtpRemux.ts';
import { isH264KeyframeStart, isVp8KeyframeStart } from '../../pipeline/rtp/Continuity.ts';
import { makeTempDir } from '../tmp.ts';
import { FfmpegProcess, mediaDurationSec, mediaEndSec } from '../ffmpeg/FfmpegProcess.ts';
import { concatList, joinPartsSpec, recordingPartSpec, recordingVideoCodec } from '../../pipeline/media/remux.ts';
import {
  finalFileName,
  PART_FILE,
  partFileName,
  recordingDir,
  stopKey,
  type EndReason,
  type PartRecord,
  type RecordingJobData,
  type RecordingProgress,
  type RecordingResult,
} from './jobs.ts';

export interface RecordingContext {
  job: Job<RecordingJobData, RecordingResult>;
  recordingsDir: string;
  queueName: string;
  redis: Redis;
  /** This worker's name (host:pid), shown in the job's progress. */
  worker: string;
  /** Aborted when the worker shuts down (SIGTERM): finish the file now. */
  shutdown: AbortSignal;
  /** Aborted when this worker lost the job's lock (another worker may have it now). */
  lost: AbortSignal;
  log?: (msg: string) => void;
}

/** No media for this long ends a part (the room's node is gone, or the session died). */
const SOURCE_SILENT_MS = 8000;
/** How often a part checks for stop, duration and faults; progress goes to Redis every 4th. */
const TICK_MS = 250;
/**
 * A stop or the duration limit waits (this long at most, from the part's first keyframe) until
 * FFmpeg has written output: before that it is still probing its input (`-analyzeduration` 3 s),
 * and stopped then it writes nothing at all (a 1 s recording failed with "no decodable media").
 */
const FIRST_OUTPUT_WAIT_MS = 5000;

type PartEnd = EndReason | 'source-gone' | 'lost';

class DiskFullError extends Error {}

function existingParts(dir: string): number[] {
  return fs
    .readdirSync(dir)
    .map((f) => PART_FILE.exec(f))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
}

export async function runRecording(ctx: RecordingContext): Promise<RecordingResult> {
  const { job } = ctx;
  const data = job.data;
  const log = ctx.log ?? (() => {});
  const dir = recordingDir(ctx.recordingsDir, data.id);
  fs.mkdirSync(dir, { recursive: true });
  const prev = job.progress as Partial<RecordingProgress> | number;
  const parts: PartRecord[] = typeof prev === 'object' && Array.isArray(prev.parts) ? prev.parts : [];
  const baseSeconds = () => parts.reduce((s, p) => s + p.seconds, 0);
  const bytesOnDisk = () => existingParts(dir).reduce((s, i) => s + fileSize(path.join(dir, partFileName(i, data.format))), 0);
  const report = (state: RecordingProgress['state']) =>
    job.updateProgress({ state, worker: ctx.worker, parts, seconds: round(baseSeconds()), bytes: bytesOnDisk(), updatedAt: Date.now() } satisfies RecordingProgress);
  if (parts.length) log(`continuing recording ${data.id} after ${round(baseSeconds())} s in ${parts.length} part(s)`);

  const stopRequested = async () => (await ctx.redis.exists(stopKey(ctx.queueName, data.id)).catch(() => 0)) === 1;
  let endReason: EndReason | null = null;
  let connectFailures = 0;

  while (!endReason) {
    if (ctx.shutdown.aborted) endReason = 'worker-shutdown';
    else if (await stopRequested()) endReason = 'stopped';
    else if (baseSeconds() >= data.maxDurationSec) endReason = 'max-duration';
    if (endReason) break;
    const index = Math.max(-1, ...existingParts(dir), ...parts.map((p) => p.index)) + 1;
    let end: PartEnd;
    try {
      end = await recordPart(ctx, dir, index, parts, baseSeconds, report, stopRequested);
      connectFailures = 0;
    } catch (err) {
      if (err instanceof HttpStatusError && err.status === 404) {
        // The room is gone: what was recorded is the recording.
        if (parts.some((p) => p.seconds > 0)) {
          endReason = 'room-closed';
          break;
        }
        throw new UnrecoverableError(`room "${data.room}" does not exist (or has closed) on ${new URL(data.whepUrl).host}`);
      }
      if (err instanceof HttpStatusError && (err.status === 401 || err.status === 403)) {
        throw new UnrecoverableError(`the MCU refused the recorder's subscription: ${err.message}`);
      }
      if (err instanceof DiskFullError) throw err;
      if (++connectFailures >= 10) throw new Error(`could not subscribe to room "${data.room}": ${(err as Error).message}`);
      log(`part ${index}: ${(err as Error).message}; retrying`);
      await sleep(1000, ctx.shutdown);
      continue;
    }
    if (end === 'lost') throw new Error('this worker lost the job (its lock expired); another worker continues it');
    if (end !== 'source-gone') endReason = end;
    else await sleep(500, ctx.shutdown);
  }

  await report('finalizing');
  return finalize(ctx, dir, parts, endReason);
}

async function recordPart(
  ctx: RecordingContext,
  dir: string,
  index: number,
  parts: PartRecord[],
  baseSeconds: () => number,
  report: (state: 'recording') => Promise<void>,
  stopRequested: () => Promise<boolean>,
): Promise<PartEnd> {
  const data = ctx.job.data;
  const log = ctx.log ?? (() => {});
  const codec = recordingVideoCodec(data.format);
  const c = WHEP_RTP_CODECS[codec];
  const out = path.join(dir, partFileName(index, data.format));
  // FFmpeg's start and the WHEP negotiation run side by side; packets wait in `early` until
  // FFmpeg has bound its ports. The part starts at the first keyframe (what comes before it
  // cannot be decoded), so the file starts when `startedAt` says.
  const t0 = Date.now();
  const part: PartRecord = { index, startedAt: 0, seconds: 0, bytes: 0, worker: ctx.worker };
  const isKeyframe = codec === 'H264' ? isH264KeyframeStart : isVp8KeyframeStart;
  let remux: RtpRemux | null = null;
  let early: Array<{ video: boolean; buf: Buffer }> | null = [];
  let lastPacketAt = performance.now();
  let gone = false;
  let firstWrite = 0; // when the part's first packet (its keyframe) went to FFmpeg
  const forward = (video: boolean, buf: Buffer) => {
    if (early) {
      if (early.length < 4000) early.push({ video, buf });
    } else if (video) {
      if (!firstWrite) firstWrite = Date.now();
      remux!.video(buf);
    }
    else remux!.audio(buf);
  };
  const attach = (client: WhepRtpClient) => {
    client.on('video', (p) => {
      lastPacketAt = performance.now();
      const buf = p.serialize();
      if (!part.startedAt) {
        if (!isKeyframe(buf)) return;
        part.startedAt = Date.now();
        parts.push(part);
      }
      forward(true, buf);
    });
    client.on('audio', (p) => {
      if (part.startedAt) forward(false, p.serialize()); // the part starts with video (a keyframe)
    });
    client.on('gone', () => (gone = true));
    return client;
  };
  const [started, connected] = await Promise.allSettled([
    RtpRemux.start({
      name: `recording-${data.id}-${index}`,
      videoCodec: codec,
      videoPayloadType: c.payloadType,
      videoFmtp: c.fmtp,
      audioPayloadType: WHEP_RTP_CODECS.opus.payloadType,
      audioFmtp: WHEP_RTP_CODECS.opus.fmtp,
      spec: (sdp) => recordingPartSpec(sdp, data.format, out),
    }).then(async (r) => {
      const bound = await r.listening();
      return { r, bound, at: Date.now() };
    }),
    WhepRtpClient.connect({
      url: data.whepUrl,
      codec,
      headers: data.token ? { Authorization: `Bearer ${data.token}` } : undefined,
    }).then((cl) => ({ cl: attach(cl), at: Date.now() })),
  ]);
  if (started.status === 'rejected' || connected.status === 'rejected') {
    if (started.status === 'fulfilled') await started.value.r.close();
    if (connected.status === 'fulfilled') await connected.value.cl.close();
    fs.rmSync(out, { force: true });
    throw started.status === 'rejected' ? started.reason : (connected as PromiseRejectedResult).reason;
  }
  remux = started.value.r;
  const client = connected.value.cl;
  const held = early!;
  early = null;
  for (const e of held) forward(e.video, e.buf);
  log(
    `part ${index}: FFmpeg listening ${started.value.at - t0} ms${started.value.bound ? '' : ' (ports not seen bound)'}, ` +
      `subscribed ${connected.value.at - t0} ms, ${held.length} packet(s) held until then`,
  );
  // The MCU sends a keyframe to a new subscriber; asked for again every 500 ms until one arrives.
  const pli = setInterval(() => !part.startedAt && client.requestKeyframe(), 500);
  let end: PartEnd | null = null;
  let failure: Error | null = null;
  let ticks = 0;
  let reportedStart = false;
  let waitedForOutput = false;
  try {
    while (!end) {
      await sleep(TICK_MS, ctx.shutdown);
      if (part.startedAt) {
        part.seconds = round((Date.now() - part.startedAt) / 1000);
        part.bytes = fileSize(out);
      }
      if (firstWrite && !reportedStart) log(startBreakdown(index, index === 0 ? ctx.job.timestamp : t0, t0, client.timeline, part.startedAt, started.value.at, firstWrite));
      if (!remux.ffmpeg.running) {
        const lines = (await remux.ffmpeg.exited).stderrTail.filter(Boolean);
        const tail = lines.slice(-3).join(' | ');
        failure = outOfSpace(lines, path.dirname(out))
          ? new DiskFullError(`disk full writing ${path.basename(out)} in RECORDINGS_DIR (ENOSPC); the partial recording is kept`)
          : new Error(`the recording FFmpeg exited: ${tail || 'no message'}`);
        break;
      }
      if (ctx.lost.aborted) end = 'lost';
      else if (ctx.shutdown.aborted) end = 'worker-shutdown';
      else if (await stopRequested()) end = 'stopped';
      else if (baseSeconds() >= data.maxDurationSec) end = 'max-duration';
      else if (gone || performance.now() - lastPacketAt > SOURCE_SILENT_MS) end = 'source-gone';
      if ((end === 'stopped' || end === 'max-duration') && part.startedAt && fileSize(out) === 0 && Date.now() - part.startedAt < FIRST_OUTPUT_WAIT_MS) {
        if (!waitedForOutput) log(`part ${index}: ${end} ${Date.now() - part.startedAt} ms after its first keyframe, before FFmpeg wrote anything; waiting for its first output`);
        waitedForOutput = true;
        end = null;
      }
      // Reported once a second, and at once when this part's first media arrives (the API says
      // `recording` only from then on).
      const first = part.startedAt > 0 && !reportedStart;
      if (first) reportedStart = true;
      if (!end && (++ticks % 4 === 0 || first)) await report('recording').catch(() => {});
    }
  } finally {
    clearInterval(pli);
    await remux.close(); // FFmpeg writes its trailer while packets still arrive
    await client.close();
    if (part.startedAt) {
      part.seconds = round((Date.now() - part.startedAt) / 1000);
      part.bytes = fileSize(out);
    } else fs.rmSync(out, { force: true });
  }
  if (failure) throw failure;
  return end!;
}

async function finalize(ctx: RecordingContext, dir: string, parts: PartRecord[], endReason: EndReason): Promise<RecordingResult> {
  const { format, id } = ctx.job.data;
  const indexes = existingParts(dir);
  if (!indexes.length) throw new UnrecoverableError(endReason === 'stopped' ? 'stopped before any media was recorded' : 'no media was recorded');
  const infos = [];
  for (const i of indexes) {
    const p = path.join(dir, partFileName(i, format));
    // From its packets: a part whose writer was killed has no header duration to trust.
    infos.push({ index: i, path: p, durationSec: await mediaEndSec(p).catch(() => 0) });
  }
  const usable = infos.filter((p) => p.durationSec > 0);
  if (!usable.length) throw new UnrecoverableError('the recorded parts hold no decodable media');
  // Gaps: from where a part's media ended (wall clock) to where the next one's began.
  let gapsSec = 0;
  for (let k = 1; k < usable.length; k++) {
    const a = parts.find((p) => p.index === usable[k - 1].index);
    const b = parts.find((p) => p.index === usable[k].index);
    if (a?.startedAt && b?.startedAt) gapsSec += Math.max(0, (b.startedAt - a.startedAt) / 1000 - usable[k - 1].durationSec);
  }
  const listDir = makeTempDir(`join-${id}`);
  const listPath = path.join(listDir, 'parts.txt');
  fs.writeFileSync(listPath, concatList(usable));
  const finalPath = path.join(dir, finalFileName(format));
  const tmpPath = `${finalPath}.joining.${format}`;
  const join = new FfmpegProcess(`join-${id}`, joinPartsSpec(listPath, format, tmpPath));
  const exit = await join.exited;
  fs.rmSync(listDir, { recursive: true, force: true });
  if (exit.code !== 0) {
    fs.rmSync(tmpPath, { force: true });
    const lines = exit.stderrTail.filter(Boolean);
    const tail = lines.slice(-3).join(' | ');
    if (outOfSpace(lines, dir)) throw new DiskFullError('disk full joining the parts (ENOSPC); the parts are kept');
    throw new Error(`joining ${usable.length} part(s) failed: ${tail}`);
  }
  fs.renameSync(tmpPath, finalPath);
  for (const p of infos) fs.rmSync(p.path, { force: true });
  return {
    file: finalFileName(format),
    bytes: fileSize(finalPath),
    durationSec: round(await mediaDurationSec(finalPath)),
    parts: usable.length,
    gapsSec: round(gapsSec),
    startDelaySec: parts[0]?.startedAt ? round(Math.max(0, parts[0].startedAt - ctx.job.timestamp) / 1000) : null,
    endReason,
  };
}

/** "part 0: start 812 ms: taken +40, whep posted +95, ..." (each step since the request; a later part's since it began). */
function startBreakdown(index: number, base: number, taken: number, t: WhepTimeline, keyframe: number, listening: number, firstWrite: number): string {
  const steps: Array<[string, number]> = [
    ['taken', taken], ['whep offer', t.offered], ['posted', t.posted], ['answered', t.answered], ['ice connected', t.iceConnected],
    ['dtls connected', t.dtlsConnected], ['first rtp', t.firstRtp], ['keyframe', keyframe], ['ffmpeg listening', listening], ['first write', firstWrite],
  ];
  return `part ${index}: start ${firstWrite - base} ms: ${steps.map(([k, at]) => `${k} ${at ? `+${at - base}` : '-'}`).join(', ')}`;
}

function fileSize(p: string): number {
  try {
    return fs.statSync(p).size;
  } catch {
    return 0;
  }
}

const round = (x: number) => Math.round(x * 100) / 100;

/**
 * Whether an FFmpeg that wrote into `dir` died of a full disk: ENOSPC anywhere in the stderr it
 * left (not only its last lines: "Conversion failed!" and the final statistics come after it), or
 * less than 1 MiB left on that file system.
 */
function outOfSpace(stderr: string[], dir: string): boolean {
  if (stderr.some((l) => /No space left on device/i.test(l))) return true;
  try {
    const fsStats = fs.statfsSync(dir);
    return fsStats.bavail * fsStats.bsize < 1 << 20;
  } catch {
    return false;
  }
}
