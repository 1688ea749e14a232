// Under CPU overload audio is the last thing to degrade (issue #16): with a busy loop pinned to each
// of the machine's cores, every subscriber still gets the mix's audio at ≥ 45 packets a second
// while the composite's frame rate may fall. The mix's audio has its own FFmpeg process and a 20 ms
// clock, so a starved video encoder does not hold it back. The server runs as its own process so its
// scheduling is its own; the clients are light (pre-encoded publishers, packet-counting subscribers).

import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { audioFixture, videoFixture } from '../../bench/lib/fixtures.ts';
import { RtpPublisher } from '../../bench/lib/RtpPublisher.ts';
import { startServerProc } from '../../bench/lib/server-proc.ts';
import { startRtpSubscriber, type RtpSubscriber } from '../helpers/rtp-subscriber.ts';
import { hasBinary, skip } from '../helpers/skip.ts';
import { waitFor } from '../helpers/peers.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Packets a second of each kind over `ms`, per subscriber. */
async function rates(subs: RtpSubscriber[], ms: number): Promise<Array<{ audio: number; video: number }>> {
  const before = subs.map((s) => ({ a: s.audioPackets(), v: s.videoPackets() }));
  const t0 = performance.now();
  await sleep(ms);
  const sec = (performance.now() - t0) / 1000;
  return subs.map((s, i) => ({ audio: (s.audioPackets() - before[i].a) / sec, video: (s.videoPackets() - before[i].v) / sec }));
}

test('a busy loop on every core: every subscriber keeps ≥ 45 audio packets a second', async () => {
  if (!hasBinary('taskset')) return skip('needs taskset (util-linux)');
  const server = await startServerProc({ ROOM_IDLE_MS: '60000' });
  const room = 'overload';
  const pubs: RtpPublisher[] = [];
  const subs: RtpSubscriber[] = [];
  const loops: ChildProcess[] = [];
  try {
    const tone = await audioFixture('tone');
    const colours: Array<[number, number, number]> = [[200, 40, 40], [40, 180, 40], [40, 40, 200]];
    for (const c of colours) pubs.push(await RtpPublisher.whip(`${server.url}/rooms/${room}/whip`, await videoFixture(c), tone));
    const ids = pubs.map((p) => p.location.split('/').pop()!);
    // Each publisher's own mix-minus, and one full-mix viewer.
    for (const id of ids) subs.push(await startRtpSubscriber(`${server.url}/rooms/${room}/whep?participant=${id}`, 'VP8'));
    subs.push(await startRtpSubscriber(`${server.url}/rooms/${room}/whep`, 'VP8'));
    await waitFor(() => subs.every((s) => s.audioPackets() > 50 && s.videoPackets() > 50), 20_000, 'every subscriber receiving');
    const calm = await rates(subs, 4000);
    for (let cpu = 0; cpu < os.cpus().length; cpu++) {
      loops.push(spawn('taskset', ['-c', String(cpu), process.execPath, '-e', 'for(;;){}'], { stdio: 'ignore' }));
    }
    await sleep(1000);
    const loaded = await rates(subs, 8000);
    const fmt = (r: Array<{ audio: number; video: number }>) => r.map((x) => `${x.audio.toFixed(1)}/${x.video.toFixed(0)}`).join(', ');
    console.log(`  audio/video packets a second per subscriber: calm ${fmt(calm)}; ${loops.length} busy loops ${fmt(loaded)}`);
    for (const [i, r] of loaded.entries()) assert.ok(r.audio >= 45, `subscriber ${i}: ${r.audio.toFixed(1)} audio packets a second under load`);
  } finally {
    for (const l of loops) l.kill('SIGKILL');
    for (const s of subs) await s.close();
    for (const p of pubs) await p.close();
    await server.stop();
  }
});

test.run();
