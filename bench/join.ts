// Join time: from a new subscriber's WHEP POST to its first decoded frame, through the MCU,
// beside the same figure for a direct wrtc-to-wrtc loopback call (the floor), in one run.
//   npm run bench:join [-- --joins 20]      (--smoke: 3 joins)
// Prints p50/p95 of both and their ratio; writes bench/results/join.json.

import fs from 'node:fs';
import { parseArgs } from 'node:util';
import wrtc from '@roamhq/wrtc';
import { startServer } from '../server/main.ts';
import { SyntheticPublisher, WhepSubscriber, gatherComplete } from '../workers/clients/webrtc.ts';
import { pct } from './lib/stats.ts';

const { RTCPeerConnection, nonstandard } = wrtc as any;
const { values } = parseArgs({ options: { joins: { type: 'string', default: '20' }, smoke: { type: 'boolean', default: false } } });
const joins = values.smoke ? 3 : Number(values.joins);

/** A direct call: a wrtc sender of the same 640x360 picture straight to a wrtc receiver. */
async function directJoin(): Promise<number> {
  const tx = new RTCPeerConnection();
  const rx = new RTCPeerConnection();
  const source = new nonstandard.RTCVideoSource();
  tx.addTrack(source.createTrack());
  const frame = new Uint8Array(640 * 360 * 1.5).fill(128);
  const timer = setInterval(() => source.onFrame({ width: 640, height: 360, data: frame }), 33);
  try {
    const t0 = performance.now();
    const first = new Promise<number>((resolve) => {
      rx.ontrack = (e: any) => {
        const sink = new nonstandard.RTCVideoSink(e.track);
        sink.onframe = () => {
          sink.stop();
          resolve(performance.now() - t0);
        };
      };
    });
    // Same signalling shape as WHEP: offer from the receiver, complete ICE, one answer.
    rx.addTransceiver('video', { direction: 'recvonly' });
    await rx.setLocalDescription(await rx.createOffer());
    await gatherComplete(rx);
    await tx.setRemoteDescription(rx.localDescription);
    await tx.setLocalDescription(await tx.createAnswer());
    await gatherComplete(tx);
    await rx.setRemoteDescription(tx.localDescription);
    return await first;
  } finally {
    clearInterval(timer);
    tx.close();
    rx.close();
  }
}

async function main(): Promise<void> {
  const server = await startServer({ port: 0, host: '127.0.0.1' });
  const pub = await SyntheticPublisher.start({ whipUrl: `${server.url}/rooms/bench-join/whip?name=p`, color: [200, 60, 60], toneHz: 440 });
  const mcu: number[] = [];
  const direct: number[] = [];
  try {
    // Warm up: the room's first video rung starts with the first subscriber.
    const warm = await WhepSubscriber.start({ whepUrl: `${server.url}/rooms/bench-join/whep` });
    await warm.waitForFrames(5, 10_000);
    for (let i = 0; i < joins; i++) {
      const t0 = performance.now();
      const sub = await WhepSubscriber.start({ whepUrl: `${server.url}/rooms/bench-join/whep` });
      await sub.waitForFrames(1, 10_000);
      mcu.push(sub.frameTimes[0] - t0);
      await sub.close();
      direct.push(await directJoin());
    }
    await warm.close();
  } finally {
    await pub.close();
    await server.close();
  }
  const result = {
    bench: 'join',
    date: new Date().toISOString(),
    joins,
    mcuMs: { p50: pct(mcu, 50), p95: pct(mcu, 95) },
    directMs: { p50: pct(direct, 50), p95: pct(direct, 95) },
    ratio: { p50: pct(mcu, 50) / pct(direct, 50), p95: pct(mcu, 95) / pct(direct, 95) },
  };
  console.log(
    `join: MCU p50 ${result.mcuMs.p50.toFixed(0)} ms, p95 ${result.mcuMs.p95.toFixed(0)} ms | direct call p50 ${result.directMs.p50.toFixed(0)} ms, p95 ${result.directMs.p95.toFixed(0)} ms | ratio p50 ${result.ratio.p50.toFixed(2)}x, p95 ${result.ratio.p95.toFixed(2)}x`,
  );
  fs.mkdirSync('bench/results', { recursive: true });
  fs.writeFileSync(`bench/results/join${values.smoke ? '.smoke' : ''}.json`, JSON.stringify(result, null, 2) + '\n');
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
