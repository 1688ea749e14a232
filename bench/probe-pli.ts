// How soon a keyframe asked of the mixer comes out of it: RoomMixer alone (no WebRTC), four
// participants sending moving pictures, the 720p and 360p VP8 rungs; each sample waits 400-700 ms
// after the 720p rung's last keyframe (the 300 ms limit does not apply), asks for one
// (requestKeyframe, what a subscriber's PLI does) and times it to the first packet of the next
// 720p keyframe at Node's socket. `swap`: the rungs change four times first (processes started
// and retired, as e2e/ladder does before its PLI test). Prints p50 / p90 / max and every sample;
// a keyframe not seen within 2.5 s counts as missed.
//   npx tsx bench/probe-pli.ts [samples] [swap]

import { mixerAlone } from './lib/mixerAlone.ts';
import { isVp8KeyframeStart } from '../pipeline/rtp/Continuity.ts';
import { pct } from './lib/stats.ts';

const samples = Number(process.argv[2] ?? 40);
const swap = process.argv[3] === 'swap';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const alone = mixerAlone('probe-pli');
const mixer = alone.mixer;

let lastKeyAt = 0;
let onKey: ((at: number) => void) | null = null;
mixer.on('rtp', (key, buf) => {
  if (key !== 'video:720p' || !isVp8KeyframeStart(buf)) return;
  lastKeyAt = performance.now();
  onKey?.(lastKeyAt);
});

async function main(): Promise<void> {
  await alone.start();
  await sleep(5000);
  if (swap) {
    for (const rungs of [['720p', '360p', '720p-h264'], ['720p', '360p'], ['720p', '360p', '360p-h264'], ['720p', '360p']]) {
      mixer.setRungs(rungs);
      await sleep(3000);
    }
    await sleep(4000);
  }
  const latencies: number[] = [];
  for (let i = 0; i < samples; i++) {
    while (performance.now() - lastKeyAt < 400 + Math.random() * 300) await sleep(5);
    const t0 = performance.now();
    const at = new Promise<number>((r) => {
      onKey = r;
      setTimeout(() => r(Number.NaN), 2500);
    });
    mixer.requestKeyframe('720p');
    latencies.push((await at) - t0);
    onKey = null;
  }
  const seen = latencies.filter((x) => Number.isFinite(x));
  const r = (x: number) => Math.round(x * 10) / 10;
  console.log(JSON.stringify({ samples, swap, missed: samples - seen.length, p50: r(pct(seen, 50)), p90: r(pct(seen, 90)), max: r(Math.max(...seen)), all: latencies.map((x) => Math.round(x)) }));
  await alone.stop();
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
