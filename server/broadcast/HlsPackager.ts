// HLS for a room: the mixer's H.264 rungs as encoded (no second encode) plus AAC, packaged by
// one FFmpeg into 2 s MPEG-TS segments with a multivariant playlist. Started by the first
// playlist request, stopped after `idleMs` without requests; its directory goes with it.

import fs from 'node:fs';
import path from 'node:path';
import { RtpRemux } from '../../workers/media/RtpRemux.ts';
import { HLS_FILE, HLS_PLAYLIST, hlsSpec } from '../../pipeline/media/remux.ts';
import { isH264KeyframeStart } from '../../pipeline/rtp/Continuity.ts';
import type { MixSource } from './MixSource.ts';
import { makeTempDir } from '../../workers/tmp.ts';

export const HLS_VARIANTS = [
  { name: '720p', rung: '720p-h264', bandwidth: 1_500_000 },
  { name: '360p', rung: '360p-h264', bandwidth: 400_000 },
];

export interface HlsOptions {
  idleMs: number;
  segmentSec?: number;
  listSize?: number;
}

export class HlsPackager {
  private remux: RtpRemux | null = null;
  private untap: (() => void) | null = null;
  readonly dir: string;
  private lastRequestAt = Date.now();
  private readonly idleTimer: NodeJS.Timeout;
  private readonly watchTimer: NodeJS.Timeout;
  private closing: Promise<void> | null = null;
  readonly startedAt = Date.now();
  private segmentsSeen = new Set<string>();
  /** Media seconds of the top variant listed so far (where the next new segment starts). */
  private listedSec = 0;
  /** Keyframes sent to FFmpeg on the top variant: media time (s from the first) and wall ms. */
  private keyframes: Array<{ t: number; wall: number }> = [];
  private firstTs: number | null = null;
  private lastKeyTs = -1;
  /** Per segment: from its first frame leaving the mixer to the playlist listing it (ms). */
  private latencies: number[] = [];
  private readonly clients = new Map<string, number>();
  error: string | null = null;

  private constructor(private readonly room: MixSource, private readonly o: HlsOptions, onIdle: () => void) {
    this.dir = makeTempDir(`hls-${room.name}`);
    this.idleTimer = setInterval(() => {
      if (Date.now() - this.lastRequestAt > o.idleMs) onIdle();
    }, Math.min(5000, Math.max(200, o.idleMs / 4)));
    this.watchTimer = setInterval(() => this.watchPlaylist(), 250);
  }

  static async start(room: MixSource, o: HlsOptions, onIdle: () => void): Promise<HlsPackager> {
    const p = new HlsPackager(room, o, onIdle);
    try {
      p.remux = await RtpRemux.forMixH264(`hls-${room.name}`, HLS_VARIANTS.length, (sdp) =>
        hlsSpec(sdp, p.dir, HLS_VARIANTS, o.segmentSec ?? 2, o.listSize ?? 6),
      );
      p.remux.ffmpeg.on('died', (e) => {
        p.error = `the HLS packager exited: ${e.stderrTail.filter(Boolean).slice(-2).join(' | ') || `code ${e.code}`}`;
        onIdle();
      });
      const remux = p.remux;
      const index = new Map(HLS_VARIANTS.map((v, i) => [v.rung, i]));
      p.untap = room.addTap({
        rungs: HLS_VARIANTS.map((v) => v.rung),
        video: (rung, packet) => {
          const i = index.get(rung)!;
          if (i === 0) p.noteKeyframe(packet);
          remux.video(packet, i);
        },
        audio: (packet) => remux.audio(packet),
      });
    } catch (err) {
      await p.close();
      throw err;
    }
    return p;
  }

  get running(): boolean {
    return !this.closing && Boolean(this.remux?.running);
  }

  /** A request for a playlist or segment: keeps it alive; counts distinct clients. */
  touch(client: string): void {
    const now = Date.now();
    this.lastRequestAt = now;
    this.clients.set(client, now);
  }

  /** The file for an HLS request name, or null (validated: only names FFmpeg writes here). */
  file(name: string): string | null {
    if (!HLS_FILE.test(name)) return null;
    const p = path.join(this.dir, name);
    return fs.existsSync(p) ? p : null;
  }

  /** Resolves once the multivariant playlist and a first segment of every variant exist. */
  async ready(timeoutMs = 15_000): Promise<boolean> {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until && this.running) {
      this.lastRequestAt = Date.now(); // someone is waiting for it: not idle
      if (fs.existsSync(path.join(this.dir, HLS_PLAYLIST)) && HLS_VARIANTS.every((v) => this.hasSegment(v.name))) return true;
      await new Promise((r) => setTimeout(r, 100));
    }
    return false;
  }

  private hasSegment(variant: string): boolean {
    try {
      return /\.ts\s*$/m.test(fs.readFileSync(path.join(this.dir, `stream_${variant}.m3u8`), 'utf8'));
    } catch {
      return false;
    }
  }

  /** Remembers when each keyframe of the top variant left for FFmpeg (segments start on them). */
  private noteKeyframe(packet: Buffer): void {
    const ts = packet.readUInt32BE(4);
    if (this.firstTs === null) this.firstTs = ts; // the tap starts on a keyframe
    if (ts === this.lastKeyTs || !isH264KeyframeStart(packet)) return;
    this.lastKeyTs = ts;
    this.keyframes.push({ t: ((ts - this.firstTs) >>> 0) / 90000, wall: Date.now() });
    if (this.keyframes.length > 20) this.keyframes.shift();
  }

  /**
   * New segments in the top variant's playlist. A segment starting at media time S began with
   * the keyframe sent at S; its latency is from then to now, when a player can first fetch it.
   */
  private watchPlaylist(): void {
    let text: string;
    try {
      text = fs.readFileSync(path.join(this.dir, `stream_${HLS_VARIANTS[0].name}.m3u8`), 'utf8');
    } catch {
      return;
    }
    const now = Date.now();
    let duration = 0;
    for (const line of text.split('\n')) {
      if (line.startsWith('#EXTINF:')) duration = parseFloat(line.slice(8));
      else if (line.endsWith('.ts') && !this.segmentsSeen.has(line)) {
        this.segmentsSeen.add(line);
        const start = this.listedSec;
        this.listedSec += duration;
        const key = this.keyframes.find((k) => Math.abs(k.t - start) < 0.1);
        if (key) this.latencies.push(now - key.wall);
        if (this.latencies.length > 30) this.latencies.shift();
      }
    }
  }

  describe() {
    const now = Date.now();
    for (const [c, at] of this.clients) if (now - at > 15_000) this.clients.delete(c);
    const l = this.latencies;
    return {
      running: this.running,
      startedAt: new Date(this.startedAt).toISOString(),
      playlist: `/rooms/${this.room.name}/hls/${HLS_PLAYLIST}`,
      variants: HLS_VARIANTS.map((v) => ({ name: v.name, rung: v.rung, bandwidth: v.bandwidth })),
      segments: this.segmentsSeen.size,
      /** From a segment's first frame leaving the mixer to the playlist that lists it. */
      segmentLatencyMs: l.length ? { last: l[l.length - 1], median: [...l].sort((a, b) => a - b)[Math.floor(l.length / 2)] } : null,
      viewers: this.clients.size,
      error: this.error,
    };
  }

  /** Stops FFmpeg, leaves the mix, deletes the segments. Idempotent. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    clearInterval(this.idleTimer);
    clearInterval(this.watchTimer);
    this.closing = (async () => {
      await this.remux?.close(); // while packets still flow, so FFmpeg sees the signal at once
      this.untap?.();
      fs.rmSync(this.dir, { recursive: true, force: true });
    })();
    return this.closing;
  }
}
