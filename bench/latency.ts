// Glass-to-glass latency through the MCU vs a direct call with the same media, in one run.
//   npm run bench:latency [-- --seconds 20]      (--smoke: 4 s each)
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

const { RTCPeerConnection, nonstandard } = wrtc as any;
const { values } = parseArgs({ options: { seconds: { type: 'string', default: '20' }, smoke: { type: 'boolean', default: false } } });
const seconds = values.smoke ? 4 : Number(values.seconds);
const WARMUP_MS = 3000;

interface Samples {
  video: number[];
  audio: number[];
  unreadable: number;
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
    let rect: Rect | null = null;
    const c = collector(() => pub, () => rect);
    // Only the kind being measured: with both, libwebrtc's lip sync may hold one for the other.
    sub = await WhepSubscriber.start({ whepUrl: `${server.url}/rooms/bench-latency/whep`, audio: Boolean(audio), video: Boolean(video) });
    const desc = (await (await fetch(`${server.url}/rooms/bench-latency`)).json()) as any;
    rect = desc.layout.tiles[0]?.video ?? null;
    sub.onFrame = c.onFrame;
    sub.onAudio = c.onAudio;
    await new Promise((r) => setTimeout(r, WARMUP_MS + seconds * 1000));
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
    return c.samples;
  } finally {
    for (const s of sinks) s.stop();
    await pub?.close();
    rx.close();
  }
}

async function main(): Promise<void> {
  const video = await videoFixture([220, 40, 40]);
  const audio = await audioFixture();
  // Video and audio are measured in separate runs: with both, the receiver delays video to
  // line it up with audio (lip sync), which would measure the audio path twice.
  const mcuV = await throughMcu(video, null);
  const directV = await direct(video, null);
  const mcuA = await throughMcu(null, audio);
  const directA = await direct(null, audio);
  const mcu = { unreadable: mcuV.unreadable };
  const floor = { unreadable: directV.unreadable };
  const v = { mcu: summary(mcuV.video), direct: summary(directV.video) };
  const a = { mcu: summary(mcuA.audio), direct: summary(directA.audio) };
  const result = {
    bench: 'latency',
    date: new Date().toISOString(),
    machine: machine(),
    seconds,
    videoMs: { ...v, addedP50: v.mcu.p50 - v.direct.p50, addedP95: v.mcu.p95 - v.direct.p95, ratioP50: v.mcu.p50 / v.direct.p50 },
    audioMs: { ...a, addedP50: a.mcu.p50 - a.direct.p50, addedP95: a.mcu.p95 - a.direct.p95, ratioP50: a.mcu.p50 / a.direct.p50 },
    unreadableFrames: { mcu: mcu.unreadable, direct: floor.unreadable },
    targets: { mcuVideoP95Ms: 150, addedVideoP50Ms: 60 },
  };
  const line = (name: string, x: typeof result.videoMs) =>
    `${name}: MCU p50 ${x.mcu.p50} / p95 ${x.mcu.p95} / max ${x.mcu.max} ms (n=${x.mcu.n}) | direct p50 ${x.direct.p50} / p95 ${x.direct.p95} / max ${x.direct.max} ms (n=${x.direct.n}) | added p50 ${x.addedP50.toFixed(1)} ms, p95 ${x.addedP95.toFixed(1)} ms, ratio p50 ${x.ratioP50.toFixed(2)}x`;
  console.log(line('video glass-to-glass', result.videoMs));
  console.log(line('audio (beep onset)', result.audioMs));
  console.log(`wrote ${writeResult('latency', values.smoke, result)}`);
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
