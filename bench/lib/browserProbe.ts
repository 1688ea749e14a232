// What bench/browser.ts runs inside Chromium pages, and how it reads the results back: frame
// counters read off a playing <video> (requestVideoFrameCallback + canvas), beep onsets heard
// by WebAudio, the pages' peer connections' getStats, and the CPU of a process tree.

import fs from 'node:fs';
import type { Page } from 'playwright-core';
import { procCpuSeconds } from '../../workers/proc.ts';
import { STAMP } from './stamp.ts';

/** tsx (esbuild, keepNames) wraps functions in `__name(...)`; code run in a page needs it too. */
export const NAME_SHIM = 'globalThis.__name = (f) => f;';

/** Installed in every page before its scripts: keeps the peer connections for getStats. */
export const capturePeers = () => {
  const Native = window.RTCPeerConnection;
  (window as any).__pcs = [];
  (window as any).RTCPeerConnection = function (this: unknown, ...args: unknown[]) {
    const pc = new (Native as any)(...args);
    (window as any).__pcs.push(pc);
    return pc;
  } as unknown as typeof RTCPeerConnection;
  (window as any).RTCPeerConnection.prototype = Native.prototype;
};

export interface Probe {
  /** [counter, time]: the capture time for a local camera, the expected display time otherwise. */
  stamps: Array<[number, number]>;
  onsets: number[];
  /** Remote frames: expected display time − receive time (jitter buffer, decode, render), ms. */
  receiveToDisplay: number[];
  /** The loudest 256-sample block heard (RMS, full scale 1). */
  peakRms: number;
  /** Counters read from the frame's own luma plane (WebCodecs) and from a canvas (RGB). */
  readers: { frame: number; canvas: number };
}

/**
 * Starts, in the page, counter reading on <video id=videoId> and beep-onset detection on its
 * stream, stored under `key`. rect: the whole picture, or the source's tile in the 1280x720 mix
 * (window.__tile, set later). Times are performance.timeOrigin-based (one clock per browser).
 */
export async function instrument(page: Page, videoId: string, key: string, rect: 'full' | 'tile'): Promise<void> {
  await page.evaluate(
    ({ videoId, key, rect, stamp }) => {
      const w = window as any;
      w.__probe ??= {};
      const p = (w.__probe[key] = { stamps: [] as Array<[number, number]>, onsets: [] as number[], receiveToDisplay: [] as number[], peakRms: 0, readers: { frame: 0, canvas: 0 } });
      const v = document.getElementById(videoId) as HTMLVideoElement;
      const canvas = document.createElement('canvas');
      const g = canvas.getContext('2d', { willReadFrequently: true })!;
      let viaFrames = typeof VideoFrame === 'function';
      const scale = (t: any, fx: number, fy: number) => ({ x: t.x * fx, y: t.y * fy, width: t.width * fx, height: t.height * fy });
      const read = (_now: number, meta: any) => {
        v.requestVideoFrameCallback(read);
        const shown = performance.timeOrigin + meta.expectedDisplayTime;
        // A local camera's frames carry their capture time: glass on the sending side.
        const at = rect === 'full' && typeof meta.captureTime === 'number' && !meta.receiveTime ? performance.timeOrigin + meta.captureTime : shown;
        if (typeof meta.receiveTime === 'number') p.receiveToDisplay.push(meta.expectedDisplayTime - meta.receiveTime);
        const W = v.videoWidth;
        const H = v.videoHeight;
        const r = rect === 'full' ? { x: 0, y: 0, width: W, height: H } : w.__tile ? scale(w.__tile, W / 1280, H / 720) : null;
        if (!r || W === 0) return;
        const sx = r.width / stamp.width;
        const sy = r.height / stamp.heightSrc;
        const rowY = Math.round(r.y + (stamp.height / 2) * sy);
        // The counter from one row of the picture: luma (full range) at each block's centre.
        const decode = (luma: (x: number) => number) => {
          let value = 0;
          for (let i = 0; i < stamp.bits; i++) {
            const l = luma(Math.round(r.x + (stamp.x0 + stamp.block * i + stamp.block / 2) * sx));
            if (l > 70 && l < 180) return null; // caught mid-change: no reading rather than a wrong one
            if (l >= 180) value |= 1 << i;
          }
          return value;
        };
        // The frame's own luma plane, two rows of it (WebCodecs): drawing the whole picture
        // into a canvas converted all of it to RGB, every frame, on the page's main thread.
        let frame: VideoFrame | null = null;
        try {
          frame = viaFrames ? new VideoFrame(v) : null;
        } catch {
          viaFrames = false;
        }
        if (frame && (frame.format === 'I420' || frame.format === 'I420A' || frame.format === 'NV12')) {
          const f = frame;
          const rect = { x: 0, y: Math.min(rowY & ~1, (f.codedHeight & ~1) - 2), width: f.codedWidth & ~1, height: 2 };
          const buf = new Uint8Array(f.allocationSize({ rect }));
          f.copyTo(buf, { rect }).then(
            (layout) => {
              const row = rowY - rect.y;
              if (row < 0 || row > 1) return; // the strip is not in this picture: no reading
              const value = decode((x) => ((buf[layout[0].offset + row * layout[0].stride + x] - 16) * 255) / 219);
              p.readers.frame++;
              if (value !== null) p.stamps.push([value, at]);
            },
            () => {},
          ).finally(() => f.close());
          return;
        }
        frame?.close();
        if (frame) viaFrames = false; // an RGB frame (GPU): the canvas below
        if (canvas.width !== W || canvas.height !== H) {
          canvas.width = W;
          canvas.height = H;
        }
        g.drawImage(v, 0, 0);
        const px = g.getImageData(0, rowY, W, 1).data;
        const value = decode((x) => 0.299 * px[x * 4] + 0.587 * px[x * 4 + 1] + 0.114 * px[x * 4 + 2]);
        p.readers.canvas++;
        if (value !== null) p.stamps.push([value, at]);
      };
      v.requestVideoFrameCallback(read);
      // Beep onsets: loud after ≥ 300 ms of quiet, in 256-sample blocks (5.3 ms).
      const ac = new AudioContext({ sampleRate: 48000, latencyHint: 'interactive' });
      const src = ac.createMediaStreamSource(v.srcObject as MediaStream);
      const proc = ac.createScriptProcessor(256, 1, 1);
      let quiet = 0;
      proc.onaudioprocess = (e) => {
        const x = e.inputBuffer.getChannelData(0);
        let sum = 0;
        for (let i = 0; i < x.length; i++) sum += x[i] * x[i];
        const now = performance.timeOrigin + performance.now();
        const rms = Math.sqrt(sum / x.length);
        if (rms > p.peakRms) p.peakRms = rms;
        if (rms > 0.02) {
          if (quiet >= 0.3) p.onsets.push(now);
          quiet = 0;
        } else quiet += x.length / 48000;
      };
      src.connect(proc);
      proc.connect(ac.destination);
      void ac.resume();
    },
    { videoId, key, rect, stamp: STAMP },
  );
}

export const takeProbe = (page: Page, key: string): Promise<Probe> => page.evaluate((k) => (window as any).__probe[k], key);
export const clearProbes = (page: Page): Promise<void> =>
  page.evaluate(() => {
    for (const p of Object.values((window as any).__probe ?? {}) as Probe[]) {
      p.stamps.length = p.onsets.length = p.receiveToDisplay.length = 0;
      p.readers = { frame: 0, canvas: 0 };
    }
  });

/** Cumulative getStats counters of a page's inbound and outbound RTP, by kind and direction. */
export type StatsSnapshot = Record<string, Record<string, number | string>>;

export async function snapshotStats(page: Page): Promise<StatsSnapshot> {
  return page.evaluate(async () => {
    const out: Record<string, Record<string, number | string>> = {};
    let n = 0;
    for (const pc of (window as any).__pcs as RTCPeerConnection[]) {
      if (pc.connectionState === 'closed') continue;
      const receivers = pc.getReceivers();
      (await pc.getStats()).forEach((s: any) => {
        if (s.type !== 'inbound-rtp' && s.type !== 'outbound-rtp') return;
        const key = `${s.type === 'inbound-rtp' ? 'in' : 'out'}-${s.kind}-${n}`;
        const keep: Record<string, number | string> = {};
        for (const [k, v] of Object.entries(s)) if (typeof v === 'number' || k === 'qualityLimitationReason' || k === 'encoderImplementation' || k === 'decoderImplementation') keep[k] = v as number | string;
        const r = receivers.find((x) => x.track.kind === s.kind) as any;
        if (s.type === 'inbound-rtp' && r) {
          keep.jitterBufferTargetSetting = r.jitterBufferTarget ?? 'unsupported';
          keep.playoutDelayHintSetting = r.playoutDelayHint ?? 'unsupported';
        }
        out[key] = keep;
      });
      n++;
    }
    return out;
  });
}

const num = (x: unknown) => (typeof x === 'number' ? x : 0);
const r1 = (x: number) => Math.round(x * 10) / 10;

/** Per-window figures of one inbound stream from two snapshots (null if it is missing). */
export function inboundWindow(a: StatsSnapshot, b: StatsSnapshot, key: string) {
  const x = a[key];
  const y = b[key];
  if (!x || !y) return null;
  const d = (k: string) => num(y[k]) - num(x[k]);
  const emitted = d('jitterBufferEmittedCount');
  const out: Record<string, number | string | null> = {
    jitterBufferMs: emitted ? r1((1000 * d('jitterBufferDelay')) / emitted) : null,
    jitterBufferTargetMs: emitted && 'jitterBufferTargetDelay' in y ? r1((1000 * d('jitterBufferTargetDelay')) / emitted) : null,
    jitterBufferMinimumMs: emitted && 'jitterBufferMinimumDelay' in y ? r1((1000 * d('jitterBufferMinimumDelay')) / emitted) : null,
    interarrivalJitterMs: r1(1000 * num(y.jitter)),
    packetsLost: d('packetsLost'),
    nacks: d('nackCount'),
    jitterBufferTargetSetting: y.jitterBufferTargetSetting ?? null,
  };
  if (key.startsWith('in-video')) {
    const decoded = d('framesDecoded');
    Object.assign(out, {
      framesDecoded: decoded,
      framesDropped: d('framesDropped'),
      freezes: d('freezeCount'),
      fps: r1(num(y.framesPerSecond)),
      size: `${y.frameWidth}x${y.frameHeight}`,
      decodeMsPerFrame: decoded ? r1((1000 * d('totalDecodeTime')) / decoded) : null,
      processingMsPerFrame: decoded && 'totalProcessingDelay' in y ? r1((1000 * d('totalProcessingDelay')) / decoded) : null,
      assemblyMsPerFrame: decoded && 'totalAssemblyTime' in y ? r1((1000 * d('totalAssemblyTime')) / Math.max(1, d('framesAssembledFromMultiplePackets'))) : null,
      pli: d('pliCount'),
      decoder: y.decoderImplementation ?? null,
    });
  } else {
    const samples = d('totalSamplesReceived');
    Object.assign(out, {
      concealedPercent: samples ? r1((100 * d('concealedSamples')) / samples) : null,
      acceleratedPercent: samples ? r1((100 * d('removedSamplesForAcceleration')) / samples) : null,
      deceleratedPercent: samples ? r1((100 * d('insertedSamplesForDeceleration')) / samples) : null,
    });
  }
  return out;
}

/** Per-window figures of the page's outbound video (the encoder). */
export function outboundVideoWindow(a: StatsSnapshot, b: StatsSnapshot) {
  const key = Object.keys(b).find((k) => k.startsWith('out-video'));
  if (!key || !a[key]) return null;
  const x = a[key];
  const y = b[key];
  const d = (k: string) => num(y[k]) - num(x[k]);
  const enc = d('framesEncoded');
  return {
    size: `${y.frameWidth}x${y.frameHeight}`,
    fps: r1(num(y.framesPerSecond)),
    encodeMsPerFrame: enc ? r1((1000 * d('totalEncodeTime')) / enc) : null,
    packetSendDelayMs: d('packetsSent') ? r1((1000 * d('totalPacketSendDelay')) / d('packetsSent')) : null,
    kbps: r1((8 * d('bytesSent')) / Math.max(1, d('timestamp'))),
    qualityLimitationReason: y.qualityLimitationReason ?? null,
    encoder: y.encoderImplementation ?? null,
  };
}

export const inboundKey = (s: StatsSnapshot, kind: 'audio' | 'video'): string => Object.keys(s).filter((k) => k.startsWith(`in-${kind}`)).pop() ?? '';

/** For each shown counter, its capture time (the latest preview time of that counter before it). */
export function matchStamps(published: Array<[number, number]>, watched: Array<[number, number]>): number[] {
  const byValue = new Map<number, number[]>();
  for (const [v, at] of published) (byValue.get(v) ?? byValue.set(v, []).get(v)!).push(at);
  const out: number[] = [];
  let last = -1;
  for (const [v, at] of watched) {
    if (v === last) continue; // the same picture shown again
    last = v;
    let best = -Infinity;
    for (const t of byValue.get(v) ?? []) if (t <= at && t > best) best = t;
    if (best > -Infinity && at - best < 5000) out.push(at - best);
  }
  return out;
}

export function matchOnsets(sent: number[], heard: number[]): number[] {
  const out: number[] = [];
  for (const at of heard) {
    let best = -Infinity;
    for (const t of sent) if (t <= at && t > best) best = t;
    if (best > -Infinity && at - best < 900) out.push(at - best);
  }
  return out;
}

/** CPU seconds of each of `root`'s descendants (not itself), with its kind: chromium, ffmpeg, other. */
export function descendantCpu(root: number): Map<number, { kind: 'chromium' | 'ffmpeg' | 'other'; cpu: number }> {
  const parent = new Map<number, number>();
  const comm = new Map<number, string>();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      comm.set(Number(d), stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')));
      parent.set(Number(d), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      /* gone */
    }
  }
  const out = new Map<number, { kind: 'chromium' | 'ffmpeg' | 'other'; cpu: number }>();
  for (const pid of parent.keys()) {
    let p = parent.get(pid);
    while (p && p !== root) p = parent.get(p);
    if (p !== root) continue;
    const name = comm.get(pid) ?? '';
    const kind = /chrom/i.test(name) ? 'chromium' : /ffmpeg/i.test(name) ? 'ffmpeg' : 'other';
    out.set(pid, { kind, cpu: procCpuSeconds(pid) ?? 0 });
  }
  return out;
}

/**
 * Cores used over a window by this process (the bench and the in-process server's Node) and by
 * its children (FFmpeg, Chromium). A child that ended inside the window is not counted.
 */
/** CPU over a window: the server's Node (`serverPid`: its own process; this one by default), its FFmpegs, Chromium. */
export function cpuMeter(serverPid = process.pid) {
  const at = performance.now();
  const self = procCpuSeconds(serverPid) ?? 0;
  const bench = procCpuSeconds(process.pid) ?? 0;
  const before = descendantCpu(process.pid);
  const box0 = boxTicks();
  return () => {
    const s = (performance.now() - at) / 1000;
    const sums = { chromium: 0, ffmpeg: 0, other: 0 };
    for (const [pid, now] of descendantCpu(process.pid)) sums[now.kind] += now.cpu - (before.get(pid)?.cpu ?? 0);
    const c = (x: number) => Math.round((x / s) * 100) / 100;
    return {
      seconds: Math.round(s),
      serverNodeCores: c((procCpuSeconds(serverPid) ?? 0) - self),
      /** This process (Playwright's driver), when the server is a process of its own. */
      ...(serverPid !== process.pid ? { benchNodeCores: c((procCpuSeconds(process.pid) ?? 0) - bench) } : {}),
      ffmpegCores: c(sums.ffmpeg),
      chromiumCores: c(sums.chromium),
      loadAverage1m: Number(fs.readFileSync('/proc/loadavg', 'utf8').split(' ')[0]),
      /** The whole machine's busy share over the window (all processes, /proc/stat): near 1, its figures are the box's. */
      boxBusy: busyShare(box0, boxTicks()),
    };
  };
}

/** /proc/stat's first line: busy and total ticks of all CPUs (idle and iowait count as not busy). */
function boxTicks(): { busy: number; total: number } {
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - f[3] - f[4], total };
}

const busyShare = (a: { busy: number; total: number }, b: { busy: number; total: number }) =>
  b.total > a.total ? Math.round(((b.busy - a.busy) / (b.total - a.total)) * 100) / 100 : 0;
