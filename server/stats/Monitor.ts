// Samples every connection, mixer and process every 2 s: per-connection quality (loss, RTT,
// jitter, bitrate, fps, estimated MOS), call setup, CPU and bandwidth. Feeds /metrics
// (prom-client), GET /stats and the dashboard's SSE stream.

import { EventEmitter } from 'node:events';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import client from 'prom-client';
import {
  figures,
  ingestCounters,
  zeroCounters,
  type ClientTelemetry,
  type ConnectionFigures,
  type Counters,
} from '../../pipeline/quality/figures.ts';
import { mosGrade } from '../../pipeline/quality/emodel.ts';
import { liveFfmpegProcesses } from '../../workers/ffmpeg/FfmpegProcess.ts';
import { procCpuSeconds } from '../../workers/proc.ts';
import type { RoomRegistry } from '../rooms/RoomRegistry.ts';
import type { ForwardedTrack } from '../rtc/Egress.ts';

export interface ConnectionState {
  counters: Counters;
  figures: ConnectionFigures | null;
  client: (ClientTelemetry & { at: string }) | null;
}

interface SessionRecord {
  kind: 'whip' | 'whep';
  createdAt: number;
  reachedMedia: boolean;
}

const MEDIA_DEADLINE_MS = 10_000;

export interface MonitorEvents {
  sample: [unknown];
}

export class Monitor extends EventEmitter<MonitorEvents> {
  readonly registry = new client.Registry();
  private readonly connections = new Map<string, ConnectionState>();
  private readonly sessions = new Map<string, SessionRecord>();
  private readonly mixerPrev = new Map<string, { at: number; ticks: number; byRung: Record<string, number> }>();
  private readonly mixerFigures = new Map<string, { fps: number; encoderKbps: Record<string, number>; cpu: number | null }>();
  private readonly cpuByPid = new Map<number, number>();
  private readonly ffmpegCpuPrev = new Map<number, number>();
  private cpuPrev = process.cpuUsage();
  private lastAt = Date.now();
  private bytesInPrev = 0;
  private bytesOutPrev = 0;
  private timer: NodeJS.Timeout | null = null;
  private sampling: Promise<void> | null = null;
  private _closed = false;
  readonly history: Array<{ at: number; cpuNode: number; cpuFfmpeg: number; inKbps: number; outKbps: number; participants: number; subscribers: number }> = [];
  server = { cpuNode: 0, cpuFfmpeg: 0, inKbps: 0, outKbps: 0, eventLoopDelayMs: { p50: 0, p99: 0, max: 0 } };
  /** Event-loop delay: when it grows, RTP forwarding and mixer ticks go out late. */
  private readonly loopDelay = monitorEventLoopDelay({ resolution: 5 });

  private readonly m = {
    rooms: new client.Gauge({ name: 'mcu_rooms', help: 'Live rooms', registers: [] }),
    loopDelay: new client.Gauge({ name: 'mcu_event_loop_delay_p99_seconds', help: 'p99 event-loop delay over the last interval (RTP forwarding goes late when it grows)', registers: [] }),
    participants: new client.Gauge({ name: 'mcu_participants', help: 'Publishing participants', registers: [] }),
    subscribers: new client.Gauge({ name: 'mcu_subscribers', help: 'WHEP subscriptions', registers: [] }),
    loss: new client.Gauge({ name: 'mcu_connection_packet_loss_percent', help: 'Mean packet loss over connections in the last interval', labelNames: ['direction'], registers: [] }),
    rtt: new client.Gauge({ name: 'mcu_connection_rtt_seconds', help: 'Mean round-trip time over connections', labelNames: ['direction'], registers: [] }),
    jitter: new client.Gauge({ name: 'mcu_connection_jitter_seconds', help: 'Mean interarrival jitter over connections', labelNames: ['direction'], registers: [] }),
    bitrate: new client.Gauge({ name: 'mcu_connection_bitrate_bits_per_second', help: 'Mean media bitrate per connection', labelNames: ['direction'], registers: [] }),
    fps: new client.Gauge({ name: 'mcu_connection_frames_per_second', help: 'Mean video frame rate per connection', labelNames: ['direction'], registers: [] }),
    mos: new client.Gauge({ name: 'mcu_connection_mos', help: 'Mean estimated MOS (ITU-T G.107 E-model) over connections', labelNames: ['direction'], registers: [] }),
    mosGrade: new client.Gauge({ name: 'mcu_connections_by_mos_grade', help: 'Connections per MOS grade', labelNames: ['direction', 'grade'], registers: [] }),
    timeToMedia: new client.Histogram({ name: 'mcu_time_to_media_seconds', help: 'From session creation to its first media', labelNames: ['session', 'kind'], buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10], registers: [] }),
    attempted: new client.Counter({ name: 'mcu_sessions_attempted_total', help: 'WHIP/WHEP sessions created', labelNames: ['session'], registers: [] }),
    reached: new client.Counter({ name: 'mcu_sessions_reached_media_total', help: 'Sessions that carried media within 10 s', labelNames: ['session'], registers: [] }),
    setupSuccess: new client.Gauge({ name: 'mcu_call_setup_success_ratio', help: 'Sessions that reached media / sessions decided (reached or timed out)', registers: [] }),
    cpu: new client.Gauge({ name: 'mcu_cpu_utilisation_ratio', help: 'CPU time per wall second (1 = one core)', labelNames: ['process'], registers: [] }),
    bandwidth: new client.Gauge({ name: 'mcu_bandwidth_bits_per_second', help: 'Media bandwidth', labelNames: ['direction'], registers: [] }),
    mixerFps: new client.Gauge({ name: 'mcu_mixer_frames_per_second', help: 'Composite frames written per second (mean over rooms)', registers: [] }),
    skipped: new client.Gauge({ name: 'mcu_mixer_dropped_frames_total', help: 'Mixer ticks skipped because FFmpeg fell behind (sum over live rooms)', registers: [] }),
    repeated: new client.Gauge({ name: 'mcu_mixer_duplicated_frames_total', help: 'Participant pictures repeated by sample-and-hold (sum over live rooms)', registers: [] }),
    keyframes: new client.Gauge({ name: 'mcu_keyframes_sent_total', help: 'Composite keyframes forced (sum over live rooms)', registers: [] }),
    restarts: new client.Gauge({ name: 'mcu_mixer_restarts_total', help: 'Mixer process replacements (sum over live rooms)', registers: [] }),
    encoderBitrate: new client.Gauge({ name: 'mcu_encoder_bitrate_bits_per_second', help: 'Encoded composite bitrate per rung (mean over rooms)', labelNames: ['rung'], registers: [] }),
    telemetry: new client.Counter({ name: 'mcu_client_telemetry_reports_total', help: 'Client telemetry reports accepted', labelNames: ['role'], registers: [] }),
  };

  constructor(private readonly rooms: RoomRegistry, private readonly intervalMs = 2000) {
    super();
    this.setMaxListeners(100);
    for (const metric of Object.values(this.m)) this.registry.registerMetric(metric as client.Metric);
    client.collectDefaultMetrics({ register: this.registry, prefix: 'mcu_node_' });
  }

  start(): void {
    if (this.timer || this._closed) return;
    this.loopDelay.enable();
    this.timer = setInterval(() => void this.sample(), this.intervalMs);
    this.timer.unref();
  }

  sessionCreated(id: string, kind: 'whip' | 'whep'): void {
    this.sessions.set(id, { kind, createdAt: Date.now(), reachedMedia: false });
    this.m.attempted.inc({ session: kind });
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
    let skipped = 0;
    let repeated = 0;
    let keyframes = 0;
    let restarts = 0;
    let participants = 0;
    let subscribers = 0;

    for (const room of this.rooms.list()) {
      for (const p of room.participants.values()) {
        participants++;
        seen.add(p.id);
        let report: any[] = [];
        try {
          const r = await p.ingest.pc.getStats();
          report = [...r.values()];
        } catch {
          continue;
        }
        const { counters, rttMs, jitterMs } = ingestCounters(report, now);
        const c = this.connection(p.id);
        if (c.counters.bytes > 0 || c.figures) c.figures = figures(c.counters, counters, { rttMs, jitterMs });
        else c.figures = figures(zeroCounters(p.joinedAt), counters, { rttMs, jitterMs });
        bytesIn += counters.bytes;
        c.counters = counters;
        per.ingest.push(c.figures);
        this.checkMedia(p.id, p.ingest.firstAudioAt || p.ingest.firstVideoAt, p.ingest.firstAudioAt, p.ingest.firstVideoAt);
      }
      for (const s of room.subscriptions.values()) {
        subscribers++;
        seen.add(s.id);
        const tracks = [s.egress.video, s.egress.audio].filter((t): t is ForwardedTrack => t !== null);
        const counters: Counters = { atMs: now, bytes: 0, packets: 0, packetsLost: 0, frames: 0 };
        let loss = 0;
        let rtt: number | null = null;
        let jitter: number | null = null;
        for (const t of tracks) {
          counters.bytes += t.bytes;
          counters.packets += t.packets;
          if (t.kind === 'video') counters.frames += t.frames;
          const sender = t.sender;
          if (sender) {
            loss = Math.max(loss, 100 * (sender.remoteFractionLost ?? 0));
            if (typeof sender.rtt === 'number') rtt = Math.max(rtt ?? 0, sender.rtt * 1000);
          }
          if (t.remoteJitterMs !== null) jitter = Math.max(jitter ?? 0, t.remoteJitterMs);
        }
        const c = this.connection(s.id);
        c.figures = figures(c.counters.atMs ? c.counters : zeroCounters(s.createdAt), counters, { rttMs: rtt, jitterMs: jitter, lossPercent: loss });
        c.counters = counters;
        bytesOut += counters.bytes;
        per.egress.push(c.figures);
        const first = Math.min(...tracks.map((t) => t.firstPacketAt || Infinity));
        this.checkMedia(s.id, Number.isFinite(first) ? first : 0, s.egress.audio?.firstPacketAt ?? 0, s.egress.video?.firstPacketAt ?? 0);
      }
      const st = room.mixer.stats;
      const prev = this.mixerPrev.get(room.name);
      if (prev) {
        const secs = (now - prev.at) / 1000;
        const byRung: Record<string, number> = {};
        for (const rung of room.mixer.activeRungs) {
          const kbps = (((st.videoBytesByRung[rung] ?? 0) - (prev.byRung[rung] ?? 0)) * 8) / secs / 1000;
          byRung[rung] = kbps;
          encoderKbps.set(rung, [...(encoderKbps.get(rung) ?? []), kbps]);
        }
        const fig = { fps: (st.ticks - st.skippedTicks - prev.ticks) / secs, encoderKbps: byRung, cpu: room.mixer.pid ? (this.cpuByPid.get(room.mixer.pid) ?? null) : null };
        this.mixerFigures.set(room.name, fig);
        mixerFps.push(fig.fps);
      }
      this.mixerPrev.set(room.name, { at: now, ticks: st.ticks - st.skippedTicks, byRung: { ...st.videoBytesByRung } });
      skipped += st.skippedTicks;
      repeated += st.repeatedFrames;
      keyframes += st.keyframesForced;
      restarts += st.restarts;
    }
    for (const id of [...this.connections.keys()]) if (!seen.has(id)) this.connections.delete(id);
    for (const name of [...this.mixerPrev.keys()]) {
      if (!this.rooms.get(name)) {
        this.mixerPrev.delete(name);
        this.mixerFigures.delete(name);
      }
    }
    this.expireSessions(now);

    // CPU: this process, and every FFmpeg it runs.
    const cpu = process.cpuUsage(this.cpuPrev);
    this.cpuPrev = process.cpuUsage();
    this.server.cpuNode = (cpu.user + cpu.system) / 1e6 / dt;
    const ms = (ns: number) => Math.round(ns / 1e4) / 100;
    this.server.eventLoopDelayMs = { p50: ms(this.loopDelay.percentile(50)), p99: ms(this.loopDelay.percentile(99)), max: ms(this.loopDelay.max) };
    this.loopDelay.reset();
    let ffmpegCpu = 0;
    const alive = new Set<number>();
    for (const p of liveFfmpegProcesses()) {
      if (!p.pid) continue;
      const total = procCpuSeconds(p.pid);
      if (total === null) continue;
      alive.add(p.pid);
      const before = this.ffmpegCpuPrev.get(p.pid);
      if (before !== undefined) {
        ffmpegCpu += (total - before) / dt;
        this.cpuByPid.set(p.pid, (total - before) / dt);
      }
      this.ffmpegCpuPrev.set(p.pid, total);
    }
    for (const pid of [...this.ffmpegCpuPrev.keys()]) {
      if (!alive.has(pid)) {
        this.ffmpegCpuPrev.delete(pid);
        this.cpuByPid.delete(pid);
      }
    }
    this.server.cpuFfmpeg = ffmpegCpu;
    // Counters restart when sessions come and go; a negative delta means "unknown", so clamp.
    this.server.inKbps = Math.max(0, ((bytesIn - this.bytesInPrev) * 8) / dt / 1000);
    this.server.outKbps = Math.max(0, ((bytesOut - this.bytesOutPrev) * 8) / dt / 1000);
    this.bytesInPrev = bytesIn;
    this.bytesOutPrev = bytesOut;
    this.lastAt = now;

    const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
    const meanOf = (xs: Array<number | null>) => mean(xs.filter((x): x is number => x !== null));
    this.m.rooms.set(this.rooms.list().length);
    this.m.participants.set(participants);
    this.m.subscribers.set(subscribers);
    for (const dir of ['ingest', 'egress'] as const) {
      const xs = per[dir];
      this.m.loss.set({ direction: dir }, mean(xs.map((f) => f.lossPercent)));
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
    this.m.skipped.set(skipped);
    this.m.repeated.set(repeated);
    this.m.keyframes.set(keyframes);
    this.m.restarts.set(restarts);
    this.m.encoderBitrate.reset();
    for (const [rung, xs] of encoderKbps) this.m.encoderBitrate.set({ rung }, mean(xs) * 1000);

    this.history.push({ at: now, cpuNode: this.server.cpuNode, cpuFfmpeg: ffmpegCpu, inKbps: this.server.inKbps, outKbps: this.server.outKbps, participants, subscribers });
    if (this.history.length > 150) this.history.shift();
    this.emit('sample', this.snapshot());
  }

  private checkMedia(id: string, firstAt: number, audioAt: number, videoAt: number): void {
    const s = this.sessions.get(id);
    if (!s || s.reachedMedia || !firstAt) return;
    s.reachedMedia = true;
    this.m.reached.inc({ session: s.kind });
    if (audioAt) this.m.timeToMedia.observe({ session: s.kind, kind: 'audio' }, Math.max(0, audioAt - s.createdAt) / 1000);
    if (videoAt) this.m.timeToMedia.observe({ session: s.kind, kind: 'video' }, Math.max(0, videoAt - s.createdAt) / 1000);
    this.updateSetupRatio();
  }

  private decided = { reached: 0, failed: 0 };

  private expireSessions(now: number): void {
    for (const [id, s] of this.sessions) {
      if (s.reachedMedia) {
        this.decided.reached++;
        this.sessions.delete(id);
      } else if (now - s.createdAt > MEDIA_DEADLINE_MS) {
        this.decided.failed++;
        this.sessions.delete(id);
      }
    }
    this.updateSetupRatio();
  }

  private updateSetupRatio(): void {
    const pendingReached = [...this.sessions.values()].filter((s) => s.reachedMedia).length;
    const reached = this.decided.reached + pendingReached;
    const total = reached + this.decided.failed;
    this.m.setupSuccess.set(total ? reached / total : 1);
  }

  callSetup() {
    const pendingReached = [...this.sessions.values()].filter((s) => s.reachedMedia).length;
    const reached = this.decided.reached + pendingReached;
    const decided = reached + this.decided.failed;
    return { reachedMedia: reached, failed: this.decided.failed, pending: this.sessions.size - pendingReached, successRate: decided ? reached / decided : null };
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
        bandwidthKbps: { in: this.server.inKbps, out: this.server.outKbps },
        rooms: this.rooms.list().length,
        callSetup: this.callSetup(),
      },
      rooms: this.rooms.list().map((room) => {
        const st = room.mixer.stats;
        return {
          name: room.name,
          mixer: {
            pid: room.mixer.pid ?? null,
            ...(this.mixerFigures.get(room.name) ?? { fps: null, encoderKbps: {}, cpu: null }),
            rungs: room.mixer.activeRungs,
            droppedFrames: st.skippedTicks,
            duplicatedFrames: st.repeatedFrames,
            keyframes: st.keyframesForced,
            restarts: st.restarts,
          },
          participants: [...room.participants.values()].map((p) => ({
            id: p.id,
            name: p.name,
            audio: p.audio,
            video: p.video,
            timeToAudioMs: p.ingest.firstAudioAt ? p.ingest.firstAudioAt - p.joinedAt : null,
            timeToVideoMs: p.ingest.firstVideoAt ? p.ingest.firstVideoAt - p.joinedAt : null,
            quality: conn(p.id),
          })),
          subscriptions: [...room.subscriptions.values()].map((s) => ({
            id: s.id,
            participantId: s.participantId,
            timeToVideoMs: s.egress.video?.firstPacketAt ? s.egress.video.firstPacketAt - s.createdAt : null,
            quality: conn(s.id),
          })),
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
