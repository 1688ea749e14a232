// Glass-to-glass latency through the MCU vs a direct call with the same media, in one run.
//   npm run bench:latency [-- --seconds 20] [--mode both|split|all]     (--smoke: 1 + 3 s each)
// Default (all): first the browser case, one subscriber taking audio AND video together (lip
// sync on), video and audio latency from that one subscriber, their skew, and its jitter-buffer
// delays from getStats, against a direct call also carrying both; then the per-kind runs
// (a subscriber taking only video, one taking only audio) as extra rows.
// A pre-encoded publisher (fixtures: a frame counter stamped into the picture, a beep every
// second) sends; a decoding wrtc subscriber reads the counter out of the composite (video) and
// detects the beep onsets in the mix (audio). Latency = decoded/played time - sent time, both
// on this process's clock. The floor: the same publisher straight into a wrtc receiver.
// Prints p50/p95/max of each and the difference; writes bench/results/latency.json.

import { parseArgs } from 'node:util';
import wrtc from '@roamhq/wrtc';
import { startServer } from '../server/main.ts';
import { WhepSubscriber, gatherComplete } from '../workers/clients/webrtc.ts';
import { audioFixture, videoFixture } from './lib/fixtures.ts';
import { RtpPublisher } from './lib/RtpPublisher.ts';
import { readStamp, type Rect } from './lib/stamp.ts';
import { latestBefore, machine, OnsetDetector, summary, writeResult } from './lib/stats.ts';
import { StageLatency, type StageSummary } from '../pipeline/audio/StageLatency.ts';

const { RTCPeerConnection, nonstandard } = wrtc as any;
const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '20' }, smoke: { type: 'boolean', default: false }, mode: { type: 'string', default: 'all' } },
});
const seconds = values.smoke ? 3 : Number(values.seconds);
// Smoke: samples only have to exist (six runs of warm-up + measurement: 42 → 24 s).
const WARMUP_MS = values.smoke ? 1000 : 3000;

interface Samples {
  video: number[];
  audio: number[];
  unreadable: number;
  /** The receiver's jitter-buffer delay per kind (getStats: jitterBufferDelay / emitted), ms. */
  jitterBufferMs?: { audio: number | null; video: number | null };
  /** Through the MCU: where the audio's time went, stage by stage (ms; p50 / p95 / max). */
  audioPath?: Record<string, unknown>;
  /** Through the MCU: each publisher's audio lag over its video from its sender reports (null: not believed). */
  publisherAudioLagMs?: Array<number | null>;
}

/** Mean jitter-buffer delay per kind from a wrtc peer connection's inbound-rtp stats. */
async function jitterBuffers(pc: any): Promise<{ audio: number | null; video: number | null }> {
  const out: { audio: number | null; video: number | null } = { audio: null, video: null };
  const report = await pc.getStats();
  report.forEach((r: any) => {
    if (r.type !== 'inbound-rtp' || !r.jitterBufferEmittedCount) return;
    const kind = (r.kind ?? r.mediaType) as 'audio' | 'video';
    out[kind] = Math.round((r.jitterBufferDelay / r.jitterBufferEmittedCount) * 10000) / 10;
  });
  return out;
}

/** Collects latencies from decoded frames (stamp in `rect`) and PCM, after a warm-up. */
function collector(pub: () => RtpPublisher | null, rect: () => Rect | null) {
  const s: Samples = { video: [], audio: [], unreadable: 0 };
  const t0 = performance.now();
  let last = -1;
  const onFrame = (frame: { width: number; height: number; data: Uint8Array }, at: number) => {
    const p = pub();
    const r = rect();
    if (!p || !r || at - t0 < WARMUP_MS) return;
    const n = readStamp(frame, r);
    if (n === null) return void s.unreadable++;
    if (n === last) return; // the same picture again (a repeated composite frame)
    last = n;
    const sent = p.frameSentAt.get(n);
    if (sent !== undefined && at >= sent) s.video.push(at - sent);
  };
  const onsets = new OnsetDetector((at) => {
    const p = pub();
    if (!p || at - t0 < WARMUP_MS) return;
    const sent = latestBefore(p.beepSentAt, at);
    if (sent !== null) s.audio.push(at - sent);
  });
  return { samples: s, onFrame, onAudio: (pcm: Int16Array, at: number) => onsets.push(pcm, at) };
}

async function throughMcu(video: Buffer[] | null, audio: Buffer[] | null): Promise<Samples> {
  const server = await startServer({ port: 0, host: '127.0.0.1', demo: false });
  let pub: RtpPublisher | null = null;
  let sub: WhepSubscriber | null = null;
  try {
    pub = await RtpPublisher.whip(`${server.url}/rooms/bench-latency/whip?name=stamp`, video, audio);
    // RNNoise takes the beep for noise (-17 dB) and blurs its onset: denoise off here; its fixed
    // 10 ms is measured by bench:voice (the rest of the voice chain stays on and holds nothing).
    await fetch(`${server.url}/rooms/bench-latency`, { method: 'PATCH', headers: { 'Content-Type': 'application/json' }, body: '{"audio":{"denoise":false}}' });
    let rect: Rect | null = null;
    const c = collector(() => pub, () => rect);
    // Only the kind being measured: with both, libwebrtc's lip sync may hold one for the other.
    sub = await WhepSubscriber.start({ whepUrl: `${server.url}/rooms/bench-latency/whep`, audio: Boolean(audio), video: Boolean(video) });
    const desc = (await (await fetch(`${server.url}/rooms/bench-latency`)).json()) as any;
    rect = desc.layout.tiles[0]?.video ?? null;
    sub.onFrame = c.onFrame;
    sub.onAudio = c.onAudio;
    const room = server.rooms.get('bench-latency');
    const stamp = room ? [...room.participants.values()][0] : undefined;
    // Publisher's send → the ingest's arrival, by RTP timestamp (the publisher is in this process).
    const sendToArrival = new StageLatency(1000);
    const rx = stamp?.ingest.audio;
    if (rx && audio) {
      const onPacket = rx.onPacket.bind(rx);
      rx.onPacket = (ssrc, seq, ts, payload, bytes, now) => {
        const sent = pub?.audioSentAt.get(ts);
        if (sent !== undefined) sendToArrival.add(now - sent);
        onPacket(ssrc, seq, ts, payload, bytes, now);
      };
    }
    await new Promise((r) => setTimeout(r, WARMUP_MS));
    const underrunsBefore = room?.mixer.audioPath().slots[0]?.underruns ?? 0;
    await new Promise((r) => setTimeout(r, seconds * 1000));
    c.samples.jitterBufferMs = await jitterBuffers(sub.pc);
    // What the publishers' own sender reports say of their audio against their video (null: not believed).
    c.samples.publisherAudioLagMs = room ? [...room.participants.values()].map((p) => p.ingest.captureSkew.audioLagMs()) : [];
    if (room && audio) {
      c.samples.audioPath = {
        sendToIngestArrivalMs: sendToArrival.summary(),
        ingestArrivalToPcmMs: rx?.arrivalToPcmMs.summary(),
        opusDecodeMs: rx?.decodeMs.summary(),
        mixer: room.mixer.audioPath(),
        underrunsDuringMeasurement: (room.mixer.audioPath().slots[0]?.underruns ?? 0) - underrunsBefore,
        subscriberJitterBufferMs: c.samples.jitterBufferMs.audio,
      };
    }
    return c.samples;
  } finally {
    await sub?.close();
    await pub?.close();
    await server.close();
  }
}

async function direct(video: Buffer[] | null, audio: Buffer[] | null): Promise<Samples> {
  const rx = new RTCPeerConnection();
  const sinks: any[] = [];
  let pub: RtpPublisher | null = null;
  const c = collector(() => pub, () => ({ x: 0, y: 0, width: 640, height: 360 }));
  rx.ontrack = (e: any) => {
    if (e.track.kind === 'video') {
      const sink = new nonstandard.RTCVideoSink(e.track);
      sink.onframe = ({ frame }: any) => c.onFrame(frame, performance.now());
      sinks.push(sink);
    } else {
      const sink = new nonstandard.RTCAudioSink(e.track);
      sink.ondata = (d: { samples: Int16Array; channelCount: number }) => {
        const n = d.samples.length / d.channelCount;
        const mono = new Int16Array(n);
        for (let i = 0; i < n; i++) mono[i] = d.samples[i * d.channelCount];
        c.onAudio(mono, performance.now());
      };
      sinks.push(sink);
    }
  };
  try {
    pub = await RtpPublisher.start({
      video,
      audio,
      negotiate: async (offer) => {
        await rx.setRemoteDescription({ type: 'offer', sdp: offer });
        await rx.setLocalDescription(await rx.createAnswer());
        await gatherComplete(rx);
        return rx.localDescription.sdp;
      },
    });
    await new Promise((r) => setTimeout(r, WARMUP_MS + seconds * 1000));
    c.samples.jitterBufferMs = await jitterBuffers(rx);
    return c.samples;
  } finally {
    for (const s of sinks) s.stop();
    await pub?.close();
    rx.close();
  }
}

type Row = ReturnType<typeof row>;

function row(mcu: number[], floor: number[]) {
  const m = summary(mcu);
  const d = summary(floor);
  return { mcu: m, direct: d, addedP50: m.p50 - d.p50, addedP95: m.p95 - d.p95, ratioP50: m.p50 / d.p50 };
}

const line = (name: string, x: Row) =>
  `${name}: MCU p50 ${x.mcu.p50} / p95 ${x.mcu.p95} / max ${x.mcu.max} ms (n=${x.mcu.n}) | direct p50 ${x.direct.p50} / p95 ${x.direct.p95} / max ${x.direct.max} ms (n=${x.direct.n}) | added p50 ${x.addedP50.toFixed(1)} ms, p95 ${x.addedP95.toFixed(1)} ms, ratio p50 ${x.ratioP50.toFixed(2)}x`;

/** The audio's stages through the MCU, as a table (p50 / p95 / max ms). */
function printAudioPath(p: Record<string, any>): void {
  const f = (x: StageSummary | undefined) => (x && x.n ? `${x.p50} / ${x.p95} / ${x.max} (n=${x.n})` : '—');
  const m = p.mixer;
  const rows: Array<[string, string]> = [
    ['publisher send → ingest RTP arrival (werift SRTP, loopback)', f(p.sendToIngestArrivalMs)],
    ['ingest arrival → decoded PCM (reorder + Opus decode)', f(p.ingestArrivalToPcmMs)],
    ['  of which Opus decode', f(p.opusDecodeMs)],
    ...m.slots.map((s: any) => [`slot ${s.slot} queue: push → pulled by the 20 ms tick`, `${f(s.waitMs)}; depth before pull ${f(s.depthMs)}; underruns ${s.underruns}, drained ${s.drainedMs} ms in ${s.drains} cuts, margin ${s.marginMs} ms`] as [string, string]),
    ['  underruns while measured (after the warm-up)', String(p.underrunsDuringMeasurement)],
    ['20 ms audio timer late vs its due instant', f(m.tickLateMs)],
    ['write to audio FFmpeg → full-mix Opus packet back at Node', `${f(m.ffmpegMs)}; dropped writes ${m.droppedWrites}`],
    ['egress (socket → SRTP send, synchronous)', '~0'],
    ['subscriber jitter buffer (getStats mean)', `${p.subscriberJitterBufferMs}`],
  ];
  console.log('audio path through the MCU (p50 / p95 / max ms):');
  for (const [k, v] of rows) console.log(`  ${k}: ${v}`);
}

async function main(): Promise<void> {
  const mode = values.mode ?? 'all';
  if (!['both', 'split', 'all'].includes(mode)) throw new Error('--mode is both, split or all');
  const video = await videoFixture([220, 40, 40]);
  const audio = await audioFixture();
  const result: Record<string, unknown> = { bench: 'latency', date: new Date().toISOString(), machine: machine(), seconds, mode };
  if (mode !== 'split') {
    // The browser case: one subscriber taking both kinds, lip sync on.
    const mcu = await throughMcu(video, audio);
    const floor = await direct(video, audio);
    const v = row(mcu.video, floor.video);
    const a = row(mcu.audio, floor.audio);
    const skew = { mcu: Math.round((v.mcu.p50 - a.mcu.p50) * 10) / 10, direct: Math.round((v.direct.p50 - a.direct.p50) * 10) / 10 };
    result.both = { videoMs: v, audioMs: a, skewVideoMinusAudioP50Ms: skew, jitterBufferMs: { mcu: mcu.jitterBufferMs, direct: floor.jitterBufferMs }, unreadableFrames: { mcu: mcu.unreadable, direct: floor.unreadable }, publisherAudioLagMs: mcu.publisherAudioLagMs };
    console.log(line('audio+video subscriber, video glass-to-glass', v));
    console.log(line('audio+video subscriber, audio mouth-to-ear (beep onset)', a));
    if (mcu.audioPath) {
      result.both = { ...(result.both as object), audioPath: mcu.audioPath };
      printAudioPath(mcu.audioPath);
    }
    console.log(`audio+video subscriber: lip-sync skew (video p50 - audio p50) MCU ${skew.mcu} ms, direct ${skew.direct} ms (BT.1359: -45..+125); jitter buffer MCU audio ${mcu.jitterBufferMs?.audio} / video ${mcu.jitterBufferMs?.video} ms, direct audio ${floor.jitterBufferMs?.audio} / video ${floor.jitterBufferMs?.video} ms`);
    console.log(`publishers' audio lag over their video, from their sender reports: ${JSON.stringify(mcu.publisherAudioLagMs ?? [])} (null: not believed; the mix counts 20 ms then)`);
  }
  if (mode !== 'both') {
    // Per kind: with only one kind, nothing is held back for lip sync.
    const mcuV = await throughMcu(video, null);
    const directV = await direct(video, null);
    const mcuA = await throughMcu(null, audio);
    const directA = await direct(null, audio);
    result.videoMs = row(mcuV.video, directV.video);
    result.audioMs = row(mcuA.audio, directA.audio);
    result.unreadableFrames = { mcu: mcuV.unreadable, direct: directV.unreadable };
    result.jitterBufferMs = { mcuAudioOnly: mcuA.jitterBufferMs?.audio, directAudioOnly: directA.jitterBufferMs?.audio };
    console.log(line('video-only subscriber, video glass-to-glass', result.videoMs as Row));
    console.log(line('audio-only subscriber, audio (beep onset)', result.audioMs as Row));
  }
  result.targets = { mcuVideoP95Ms: 150, mcuAudioP95Ms: 150, addedVideoP50Ms: 60, audioJitterBufferMs: 60 };
  console.log(`wrote ${writeResult('latency', values.smoke, result)}`);
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
