// Capacity: rooms of 4 publishers (pre-encoded 360p VP8 + Opus, stamped), each with 2
// subscribers (720p composite, 360p rung; RTP counted), added one at a time until a room's
// composite falls below 29 fps or the p95 glass-to-glass latency (read from the stamp in room
// 1 by a decoding subscriber) exceeds 150 ms. Per room: CPU and memory of the server (Node +
// FFmpeg, a child process). Floor, same run: bare FFmpeg doing the same decode + composite +
// encode (720p 1500k + 360p 400k VP8, full mix + 4 mix-minus Opus) from the same files.
//   npm run bench:capacity [-- --max-rooms 6 --measure 6]      (--smoke: 1 room, 3 s)

import { parseArgs } from 'node:util';
import { FfmpegProcess } from '../workers/ffmpeg/FfmpegProcess.ts';
import { WhepSubscriber } from '../workers/clients/webrtc.ts';
import { WhepRtpClient } from '../workers/clients/WhepRtpClient.ts';
import { audioFixture, videoFixture } from './lib/fixtures.ts';
import { RtpPublisher } from './lib/RtpPublisher.ts';
import { readStamp, type Rect } from './lib/stamp.ts';
import { cpuSeconds, machine, pct, writeResult } from './lib/stats.ts';
import { startServerProc } from './lib/server-proc.ts';

const { values } = parseArgs({
  options: {
    'max-rooms': { type: 'string', default: '6' },
    measure: { type: 'string', default: '6' },
    smoke: { type: 'boolean', default: false },
  },
});
const maxRooms = values.smoke ? 1 : Number(values['max-rooms']);
const measureSec = values.smoke ? 3 : Number(values.measure);
const COLOURS: Array<[number, number, number]> = [
  [220, 40, 40],
  [40, 180, 40],
  [40, 40, 220],
  [220, 200, 40],
];

interface RoomLoad {
  name: string;
  pubs: RtpPublisher[];
  top: WhepRtpClient;
  low: WhepRtpClient;
  frames: number;
}

/** The floor: one FFmpeg doing a room's media work from the fixture files, for `sec` seconds. */
async function bareFfmpegCpuPerSec(sec: number): Promise<number> {
  const files = COLOURS.map((c) => `fixtures/stamp-${c.map((v) => v.toString(16).padStart(2, '0')).join('')}-360p.ivf`);
  const inputs = [
    ...files.map((url) => ({ url, options: ['-re', '-stream_loop', '-1'] })),
    ...files.map(() => ({ url: 'fixtures/beep-opus.ogg', options: ['-re', '-stream_loop', '-1'] })),
  ];
  const vp8 = ['-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '8', '-lag-in-frames', '0', '-error-resilient', '1', '-threads', '2'];
  const chains = [
    '[0:v][1:v][2:v][3:v]xstack=inputs=4:layout=0_0|w0_0|0_h0|w0_h0,fps=30,split=2[c1][c2]',
    '[c2]scale=640:360,fps=15[c360]',
    '[4:a][5:a][6:a][7:a]amerge=inputs=4,asplit=5[m0][m1][m2][m3][m4]',
    '[m0]pan=mono|c0=c0+c1+c2+c3[full]',
    ...[0, 1, 2, 3].map((k) => `[m${k + 1}]pan=mono|c0=${[0, 1, 2, 3].filter((j) => j !== k).map((j) => `c${j}`).join('+')}[mm${k}]`),
  ];
  const outputs = [
    { url: '-', options: ['-map', '[c1]', ...vp8, '-b:v', '1500k', '-maxrate', '1500k', '-bufsize', '1500k', '-f', 'null'] },
    { url: '-', options: ['-map', '[c360]', ...vp8, '-b:v', '400k', '-maxrate', '400k', '-bufsize', '400k', '-f', 'null'] },
    ...['full', 'mm0', 'mm1', 'mm2', 'mm3'].map((l) => ({ url: '-', options: ['-map', `[${l}]`, '-c:a', 'libopus', '-b:a', '32k', '-application', 'lowdelay', '-frame_duration', '20', '-f', 'null'] })),
  ];
  const p = new FfmpegProcess('bench-floor', {
    globalOptions: ['-hide_banner', '-nostats', '-loglevel', 'error', '-nostdin'],
    inputs,
    filterComplex: chains.join(';'),
    outputs,
  });
  const pid = await p.started;
  await new Promise((r) => setTimeout(r, 2000)); // past start-up
  const c0 = cpuSeconds(pid);
  await new Promise((r) => setTimeout(r, sec * 1000));
  const used = cpuSeconds(pid) - c0;
  const running = p.running;
  const exit = await p.stop();
  if (!running) throw new Error(`floor FFmpeg failed: ${exit.stderrTail.join(' | ')}`);
  return used / sec;
}

async function main(): Promise<void> {
  const video = await Promise.all(COLOURS.map((c) => videoFixture(c)));
  const audio = await audioFixture();
  const server = await startServerProc();
  const rooms: RoomLoad[] = [];
  let probe: WhepSubscriber | null = null;
  let rect: Rect | null = null;
  let latencies: number[] = [];
  let lastStamp = -1;
  const steps: any[] = [];
  let limit = `reached --max-rooms ${maxRooms}`;
  try {
    const idle = server.rss();
    for (let r = 1; r <= maxRooms; r++) {
      const name = `cap-${r}`;
      const pubs: RtpPublisher[] = [];
      for (let i = 0; i < 4; i++) pubs.push(await RtpPublisher.whip(`${server.url}/rooms/${name}/whip?name=p${i}`, video[i], audio));
      const top = await WhepRtpClient.connect({ url: `${server.url}/rooms/${name}/whep?level=720p`, codec: 'VP8' });
      const low = await WhepRtpClient.connect({ url: `${server.url}/rooms/${name}/whep?level=360p`, codec: 'VP8' });
      const load: RoomLoad = { name, pubs, top, low, frames: 0 };
      top.on('video', (p) => p.header.marker && load.frames++);
      rooms.push(load);
      if (r === 1) {
        probe = await WhepSubscriber.start({ whepUrl: `${server.url}/rooms/${name}/whep?level=720p`, audio: false });
        const desc = (await (await fetch(`${server.url}/rooms/${name}`)).json()) as any;
        const mine = desc.participants.find((p: any) => p.name === 'p0');
        rect = desc.layout.tiles.find((t: any) => t.participantId === mine.id).video;
        probe.onFrame = (frame, at) => {
          const n = rect ? readStamp(frame, rect) : null;
          if (n === null || n === lastStamp) return;
          lastStamp = n;
          const sent = rooms[0].pubs[0].frameSentAt.get(n);
          if (sent !== undefined && at >= sent) latencies.push(at - sent);
        };
      }
      await new Promise((res) => setTimeout(res, 4000)); // settle: mixer start, rungs, adaptation
      latencies = [];
      const f0 = rooms.map((x) => x.frames);
      const c0 = server.cpu();
      const t0 = performance.now();
      await new Promise((res) => setTimeout(res, measureSec * 1000));
      const dt = (performance.now() - t0) / 1000;
      const c1 = server.cpu();
      const rss = server.rss();
      const fps = rooms.map((x, i) => (x.frames - f0[i]) / dt);
      const cpuCores = (c1.node - c0.node + c1.ffmpeg - c0.ffmpeg) / dt;
      const step = {
        rooms: r,
        minFps: Math.round(Math.min(...fps) * 10) / 10,
        p95LatencyMs: latencies.length ? Math.round(pct(latencies, 95)) : null,
        cpuCores: Math.round(cpuCores * 100) / 100,
        cpuNodeCores: Math.round(((c1.node - c0.node) / dt) * 100) / 100,
        cpuFfmpegCores: Math.round(((c1.ffmpeg - c0.ffmpeg) / dt) * 100) / 100,
        rssMB: Math.round((rss.node + rss.ffmpeg) / 1e6),
        rssPerRoomMB: Math.round((rss.node + rss.ffmpeg - idle.node - idle.ffmpeg) / 1e6 / r),
      };
      steps.push(step);
      console.log(`  ${r} room(s): composite >= ${step.minFps} fps, p95 ${step.p95LatencyMs} ms, server ${step.cpuCores} cores (Node ${step.cpuNodeCores}, FFmpeg ${step.cpuFfmpegCores}), ${step.rssMB} MB`);
      if (step.minFps < 29 || (step.p95LatencyMs ?? 0) > 150) {
        limit = step.minFps < 29 ? `composite below 29 fps at ${r} rooms` : `p95 latency over 150 ms at ${r} rooms`;
        break;
      }
    }
  } finally {
    await probe?.close();
    for (const room of rooms) {
      await room.top.close();
      await room.low.close();
      for (const p of room.pubs) await p.close();
    }
    await server.stop();
  }
  const held = steps.filter((s) => s.minFps >= 29 && (s.p95LatencyMs ?? 0) <= 150);
  const best = held[held.length - 1] ?? steps[0];
  const floor = await bareFfmpegCpuPerSec(measureSec);
  const perRoom = best.cpuCores / best.rooms;
  const result = {
    bench: 'capacity',
    date: new Date().toISOString(),
    machine: machine(),
    roomsHeld: held.length ? best.rooms : 0,
    limit,
    cpuPerRoomCores: Math.round(perRoom * 100) / 100,
    memoryPerRoomMB: best.rssPerRoomMB,
    floor: { what: 'bare FFmpeg: 4 VP8 decodes + 2x2 composite + 720p/360p VP8 + 5 Opus mixes, from files', cpuPerRoomCores: Math.round(floor * 100) / 100 },
    ratioToFloor: Math.round((perRoom / floor) * 100) / 100,
    target: { ratioToFloor: 1.25 },
    steps,
  };
  console.log(
    `capacity: ${result.roomsHeld} room(s) held (${limit}); per room ${result.cpuPerRoomCores} cores, ${result.memoryPerRoomMB} MB | floor (bare FFmpeg) ${result.floor.cpuPerRoomCores} cores | ratio ${result.ratioToFloor}x (target <= 1.25x)`,
  );
  console.log(`wrote ${writeResult('capacity', values.smoke, result)}`);
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
