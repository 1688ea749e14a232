// Samples every connection, mixer and process every 2 s: per-connection quality (loss, RTT,
// jitter, bitrate, fps, estimated MOS), call setup, CPU and bandwidth. Feeds /metrics
// (prom-client), GET /stats and the dashboard's SSE stream. Its parts: CallSetup (sessions to
// first media), MixerFigures (each room's mixer between samples), FfmpegCpu (/proc per FFmpeg).

import { EventEmitter } from 'node:events';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import client from 'prom-client';
import {
  figures,
  ingestCountersOf,
  zeroCounters,
  type ClientTelemetry,
  type ConnectionFigures,
  type Counters,
} from '../../pipeline/quality/figures.ts';
import { mosGrade } from '../../pipeline/quality/emodel.ts';
import { monitorMetrics } from './metrics.ts';
import type { RoomRegistry } from '../rooms/RoomRegistry.ts';
import { egressDelay } from '../rtc/FastSend.ts';
import { CallSetup } from './CallSetup.ts';
import { FfmpegCpu } from './FfmpegCpu.ts';
import { MixerFigures } from './MixerFigures.ts';

export interface ConnectionState {
  counters: Counters;
  figures: ConnectionFigures | null;
  client: (ClientTelemetry & { at: string }) | null;
}

/** Shortest interval a bitrate is computed over (a forced sample right after another keeps the last). */
const MIN_RATE_INTERVAL_MS = 500;

export interface MonitorEvents {
  sample: [unknown];
}

export class Monitor extends EventEmitter<MonitorEvents> {
  readonly registry = new client.Registry();
  private readonly connections = new Map<string, ConnectionState>();
  private cpuPrev = process.cpuUsage();
  private lastAt = Date.now();
  private ratesAt = Date.now();
  private bytesInPrev = 0;
  private bytesOutPrev = 0;
  private timer: NodeJS.Timeout | null = null;
  private sampling: Promise<void> | null = null;
  private _closed = false;
  readonly history: Array<{ at: number; cpuNode: number; cpuFfmpeg: number; inKbps: number; outKbps: number; participants: number; subscribers: number }> = [];
  server = { cpuNode: 0, cpuFfmpeg: 0, inKbps: 0, outKbps: 0, eventLoopDelayMs: { p50: 0, p99: 0, max: 0 }, egressDelayMs: null as { p50: number; p95: number; max: number } | null };
  /** Event-loop delay: when it grows, RTP forwarding and mixer ticks go out late. */
  private readonly loopDelay = monitorEventLoopDelay({ resolution: 5 });
  /** Per live session, its byte count at the last sample. */
  private readonly bytesSeen = new Map<string, number>();

  private readonly m = monitorMetrics();
  private readonly setup = new CallSetup(this.m);
  private readonly mixers = new MixerFigures(this.m);
  private readonly ffmpegCpu = new FfmpegCpu();

  constructor(private readonly rooms: RoomRegistry, private readonly intervalMs = 2000) {
    super();
    this.setMaxListeners(100);
    for (const metric of Object.values(this.m)) this.registry.registerMetric(metric as client.Metric);
    // Node's process metrics under their standard names (process_*, nodejs_*).
    client.collectDefaultMetrics({ register: this.registry });
  }

  private countBytes(direction: 'in' | 'out', id: string, bytes: number): void {
    this.m.mediaBytes.inc({ direction }, Math.max(0, bytes - (this.bytesSeen.get(id) ?? 0)));
    this.bytesSeen.set(id, bytes);
  }

  start(): void {
    if (this.timer || this._closed) return;
    this.loopDelay.enable();
    this.timer = setInterval(() => void this.sample(), this.intervalMs);
    this.timer.unref();
  }

  sessionCreated(id: string, kind: 'whip' | 'whep'): void {
    this.setup.created(id, kind);
  }

  connection(id: string): ConnectionState {
    let c = this.connections.get(id);
    if (!c) {
      c = { counters: zeroCounters(Date.now()), figures: null, client: null };
      this.connections.set(id, c);
    }
    return c;
  }

  recordTelemetry(t: ClientTelemetry): void {
    this.connection(t.session).client = { ...t, at: new Date().toISOString() };
    this.m.telemetry.inc({ role: t.role });
  }

  /** One sampling pass (also callable directly, e.g. by GET /stats?fresh=1 or tests). */
  sample(): Promise<void> {
    if (this.sampling) return this.sampling;
    this.sampling = this.doSample().finally(() => {
      this.sampling = null;
    });
    return this.sampling;
  }

  private async doSample(): Promise<void> {
    const now = Date.now();
    const dt = Math.max(0.001, (now - this.lastAt) / 1000);
    const seen = new Set<string>();
    let bytesIn = 0;
    let bytesOut = 0;
    const per = { ingest: [] as ConnectionFigures[], egress: [] as ConnectionFigures[] };
    const mixerFps: number[] = [];
    const encoderKbps = new Map<string, number[]>();
    let participants = 0;
    let subscribers = 0;

    for (const room of this.rooms.list()) {
      for (const p of room.participants.values()) {
        participants++;
        seen.add(p.id);
        // The ingest's own counters (RFC 3550 receive statistics, decoded frames).
        const st = p.ingest.stats();
        const { counters, rttMs, jitterMs } = ingestCountersOf(st, now);
        const c = this.connection(p.id);
        // Rates need an interval: a sample right after the last (GET /stats?fresh) keeps the
        // figures of the last full interval instead of dividing a few ms of traffic.
        if (!c.figures || now - c.counters.atMs >= MIN_RATE_INTERVAL_MS) {
          if (c.counters.bytes > 0 || c.figures) c.figures = figures(c.counters, counters, { rttMs, jitterMs });
          else c.figures = figures(zeroCounters(p.joinedAt), counters, { rttMs, jitterMs });
          c.counters = counters;
        }
        bytesIn += counters.bytes;
        this.countBytes('in', p.id, counters.bytes);
        per.ingest.push(c.figures!);
        this.setup.media(p.id, st.firstAudioAt || st.firstVideoAt, st.firstAudioAt, st.firstVideoAt);
      }
      for (const s of room.subscriptions.values()) {
        subscribers++;
        seen.add(s.id);
        const st = s.egress.stats();
        const counters: Counters = { atMs: now, bytes: st.bytes, packets: st.packets, packetsLost: 0, frames: st.frames };
        const c = this.connection(s.id);
        if (!c.figures || now - c.counters.atMs >= MIN_RATE_INTERVAL_MS) {
          c.figures = figures(c.counters.atMs ? c.counters : zeroCounters(s.createdAt), counters, { rttMs: st.rttMs, jitterMs: st.jitterMs, lossPercent: st.lossPercent });
          c.counters = counters;
        }
        bytesOut += counters.bytes;
        this.countBytes('out', s.id, counters.bytes);
        per.egress.push(c.figures!);
        this.setup.media(s.id, st.firstPacketAt, st.firstAudioAt, st.firstVideoAt);
      }
      // The mixer's figures use each FFmpeg's CPU as of the last sample (read below).
      const fig = this.mixers.sample(room, now, (pid) => this.ffmpegCpu.of(pid));
      if (fig) {
        for (const [rung, kbps] of Object.entries(fig.encoderKbps)) encoderKbps.set(rung, [...(encoderKbps.get(rung) ?? []), kbps]);
        mixerFps.push(fig.fps);
      }
    }
    this.mixers.prune(this.rooms.list(), (name) => !!this.rooms.get(name));
    for (const id of [...this.connections.keys()]) if (!seen.has(id)) this.connections.delete(id);
    for (const id of [...this.bytesSeen.keys()]) if (!seen.has(id)) this.bytesSeen.delete(id);
    this.setup.expire(now);

    // CPU: this process, and every FFmpeg it runs.
    const cpu = process.cpuUsage(this.cpuPrev);
    this.cpuPrev = process.cpuUsage();
    this.server.cpuNode = (cpu.user + cpu.system) / 1e6 / dt;
    const ms = (ns: number) => Math.round(ns / 1e4) / 100;
    this.server.eventLoopDelayMs = { p50: ms(this.loopDelay.percentile(50)), p99: ms(this.loopDelay.percentile(99)), max: ms(this.loopDelay.max) };
    this.loopDelay.reset();
    const us = (v: number) => Math.round(v / 10) / 100;
    this.server.egressDelayMs = egressDelay.count ? { p50: us(egressDelay.percentile(50)), p95: us(egressDelay.percentile(95)), max: us(egressDelay.max) } : null;
    egressDelay.reset();
    const ffmpegCpu = this.ffmpegCpu.sample(dt);
    this.server.cpuFfmpeg = ffmpegCpu;
    // Counters restart when sessions come and go; a negative delta means "unknown", so clamp.
    if (now - this.ratesAt >= MIN_RATE_INTERVAL_MS) {
      const dtRates = (now - this.ratesAt) / 1000;
      this.ratesAt = now;
      this.server.inKbps = Math.max(0, ((bytesIn - this.bytesInPrev) * 8) / dtRates / 1000);
      this.server.outKbps = Math.max(0, ((bytesOut - this.bytesOutPrev) * 8) / dtRates / 1000);
      this.bytesInPrev = bytesIn;
      this.bytesOutPrev = bytesOut;
    }
    this.lastAt = now;

    const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
    const meanOf = (xs: Array<number | null>) => mean(xs.filter((x): x is number => x !== null));
    this.m.rooms.set(this.rooms.list().length);
    this.m.participants.set(participants);
    this.m.subscribers.set(subscribers);
    for (const dir of ['ingest', 'egress'] as const) {
      const xs = per[dir];
      this.m.loss.set({ direction: dir }, mean(xs.map((f) => f.lossPercent)) / 100);
      this.m.rtt.set({ direction: dir }, meanOf(xs.map((f) => f.rttMs)) / 1000);
      this.m.jitter.set({ direction: dir }, meanOf(xs.map((f) => f.jitterMs)) / 1000);
      this.m.bitrate.set({ direction: dir }, mean(xs.map((f) => f.bitrateKbps)) * 1000);
      this.m.fps.set({ direction: dir }, meanOf(xs.map((f) => f.fps)));
      this.m.mos.set({ direction: dir }, mean(xs.map((f) => f.mos)));
      for (const grade of ['good', 'fair', 'poor'] as const) {
        this.m.mosGrade.set({ direction: dir, grade }, xs.filter((f) => mosGrade(f.mos) === grade).length);
      }
    }
    this.m.cpu.set({ process: 'node' }, this.server.cpuNode);
    this.m.loopDelay.set(this.server.eventLoopDelayMs.p99 / 1000);
    this.m.cpu.set({ process: 'ffmpeg' }, ffmpegCpu);
    this.m.bandwidth.set({ direction: 'in' }, this.server.inKbps * 1000);
    this.m.bandwidth.set({ direction: 'out' }, this.server.outKbps * 1000);
    this.m.mixerFps.set(mean(mixerFps));
    this.m.encoderBitrate.reset();
    for (const [rung, xs] of encoderKbps) this.m.encoderBitrate.set({ rung }, mean(xs) * 1000);

    this.history.push({ at: now, cpuNode: this.server.cpuNode, cpuFfmpeg: ffmpegCpu, inKbps: this.server.inKbps, outKbps: this.server.outKbps, participants, subscribers });
    if (this.history.length > 150) this.history.shift();
    this.emit('sample', this.snapshot());
  }

  /** Sessions that reached media, failed to within 10 s, and are still pending; their ratio. */
  callSetup() {
    return this.setup.summary();
  }

  snapshot() {
    const conn = (id: string) => {
      const c = this.connections.get(id);
      return {
        server: c?.figures ? { ...c.figures, grade: mosGrade(c.figures.mos) } : null,
        client: c?.client ?? null,
      };
    };
    return {
      at: new Date().toISOString(),
      server: {
        cpu: { node: this.server.cpuNode, ffmpeg: this.server.cpuFfmpeg },
        eventLoopDelayMs: this.server.eventLoopDelayMs,
        /** Fast send path: a mixer packet reaching the fan-out → its last subscriber's copy sent (null: nothing sent that way). */
        egressDelayMs: this.server.egressDelayMs,
        bandwidthKbps: { in: this.server.inKbps, out: this.server.outKbps },
        rooms: this.rooms.list().length,
        callSetup: this.callSetup(),
      },
      rooms: this.rooms.list().map((room) => {
        const st = room.mixer.stats();
        return {
          name: room.name,
          mixer: {
            pid: room.mixer.pid ?? null,
            ...this.mixers.of(room.name),
            rungs: st.rungs,
            droppedFrames: st.skippedTicks,
            duplicatedFrames: st.repeatedFrames,
            keyframes: st.keyframesForced,
            restarts: st.restarts,
          },
          participants: [...room.participants.values()].map((p) => {
            const ingest = p.ingest.stats();
            return {
              id: p.id,
              name: p.name,
              audio: p.audio,
              video: p.video,
              timeToAudioMs: ingest.firstAudioAt ? ingest.firstAudioAt - p.joinedAt : null,
              timeToVideoMs: ingest.firstVideoAt ? ingest.firstVideoAt - p.joinedAt : null,
              stalled: p.stalled,
              voice: room.voiceOf(p),
              ingest,
              quality: conn(p.id),
            };
          }),
          subscriptions: [...room.subscriptions.values()].map((s) => {
            const { firstVideoAt } = s.egress.stats();
            return { id: s.id, participantId: s.participantId, timeToVideoMs: firstVideoAt ? firstVideoAt - s.createdAt : null, quality: conn(s.id) };
          }),
        };
      }),
      history: this.history.slice(-60),
    };
  }

  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  close(): void {
    if (this._closed) return;
    this._closed = true;
    if (this.timer) clearInterval(this.timer);
    this.loopDelay.disable();
    this.removeAllListeners();
  }
}
