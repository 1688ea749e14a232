// Capacity: rooms of 4 publishers (pre-encoded 360p VP8 + Opus, stamped), added one at a time
// until a room's composite falls below 29 fps or the browser case misses p95 < 150 ms. Each
// room has the browser case, one wrtc subscriber taking audio + video together (lip sync on,
// 720p, decoding: it reads p0's frame stamp from the composite and p0's beep onsets from the
// mix, as bench/latency.ts does), a 720p RTP-counting subscriber (the composite's frame rate)
// and a 360p one (the second rung). p0 is marked untouched so its beep reaches the mix whole;
// the other three are processed (silence), so every slot's voice chain runs.
// Per step: CPU and memory of the server (Node + its FFmpegs, a child process) and, beside
// it, the load generator's own CPU (this process: publishers, subscribers, decoders).
// Then, in the same run: the same number of rooms on a server with VOICE_PROCESSING=off (CPU
// per room with the voice chain on vs off, #21), and the floor: bare FFmpeg doing one room's
// decode + composite + encode (720p 1500k + 360p 400k VP8, full mix + 4 mix-minus Opus) from
// the same files; CPU per room is reported as a ratio to it.
// --simulcast (#23) measures instead single-layer against simulcast ingest (bench/lib/
// simulcastRooms.ts): --rooms rooms of 4 video-only publishers sending 720p alone, then the
// same with 180p/360p/720p layers, each on a fresh server; decode work (pixels per second, from
// the rooms' decode figures) and CPU per room, their ratio, and each against the same floor.
//   npm run bench:capacity [-- --max-rooms 6 --measure 6]      (--smoke: 1 room, 4 s)
//   npm run bench:capacity -- --simulcast [--rooms 2 --measure 6]   (bench/results/capacity-simulcast.json)

import { parseArgs } from 'node:util';
import { FLOOR_COLOURS as COLOURS, floorCpuPerSec } from './lib/floor.ts';
import { VP8_THREADS } from '../pipeline/mixer/graph.ts';
import { vp8ThreadsFromEnv } from '../workers/mixer/voiceModel.ts';
import { HttpStatusError, WhepSubscriber } from '../workers/clients/webrtc.ts';
import { WhepRtpClient } from '../workers/clients/WhepRtpClient.ts';
import { audioFixture, videoFixture } from './lib/fixtures.ts';
import { RtpPublisher } from './lib/RtpPublisher.ts';
import { readStamp, type Rect } from './lib/stamp.ts';
import { cpuSeconds, latestBefore, machine, OnsetDetector, pct, writeResult } from './lib/stats.ts';
import { cpuByKind, startServerProc, type ServerProc } from './lib/server-proc.ts';
import { compareSimulcast } from './lib/simulcastRooms.ts';

const { values } = parseArgs({
  options: {
    'max-rooms': { type: 'string', default: '6' },
    measure: { type: 'string', default: '6' },
    smoke: { type: 'boolean', default: false },
    simulcast: { type: 'boolean', default: false },
    rooms: { type: 'string', default: '2' },
  },
});
const maxRooms = values.smoke ? 1 : Number(values['max-rooms']);
const measureSec = values.smoke ? 4 : Number(values.measure);
const P95_LIMIT_MS = 150;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const r2 = (x: number) => Math.round(x * 100) / 100;

interface Media {
  video: Buffer[][];
  beep: Buffer[];
  silence: Buffer[];
}

interface RoomLoad {
  pubs: RtpPublisher[];
  top: WhepRtpClient;
  low: WhepRtpClient;
  probe: WhepSubscriber;
  frames: number;
  video: number[];
  audio: number[];
}

/** One room: 4 publishers, p0 untouched, the A+V probe reading p0's stamp and beep. */
async function addRoom(server: ServerProc, name: string, media: Media): Promise<RoomLoad> {
  const pubs: RtpPublisher[] = [];
  try {
    for (let i = 0; i < 4; i++) pubs.push(await RtpPublisher.whip(`${server.url}/rooms/${name}/whip?name=p${i}`, media.video[i], i === 0 ? media.beep : media.silence));
  } catch (err) {
    for (const p of pubs) await p.close();
    throw err;
  }
  const desc = (await (await fetch(`${server.url}/rooms/${name}`)).json()) as any;
  const p0 = desc.participants.find((p: any) => p.name === 'p0');
  // RNNoise takes a beep for noise and blurs its onset: p0 is untouched (its slot's chain still
  // runs, arnndn at mix=0 keeps its delay); the others' silence goes through the whole chain.
  const res = await fetch(`${server.url}/rooms/${name}/participants/${p0.id}`, { method: 'PATCH', headers: { 'Content-Type': 'application/json' }, body: '{"audio":{"processing":false}}' });
  if (res.status !== 200) throw new Error(`PATCH participant: ${res.status} ${await res.text()}`);
  const rect: Rect = desc.layout.tiles.find((t: any) => t.participantId === p0.id).video;
  const top = await WhepRtpClient.connect({ url: `${server.url}/rooms/${name}/whep?level=720p`, codec: 'VP8' });
  const low = await WhepRtpClient.connect({ url: `${server.url}/rooms/${name}/whep?level=360p`, codec: 'VP8' });
  const probe = await WhepSubscriber.start({ whepUrl: `${server.url}/rooms/${name}/whep?level=720p` });
  const room: RoomLoad = { pubs, top, low, probe, frames: 0, video: [], audio: [] };
  top.on('video', (p) => p.header.marker && room.frames++);
  let last = -1;
  probe.onFrame = (frame, at) => {
    const n = readStamp(frame, rect);
    if (n === null || n === last) return;
    last = n;
    const sent = pubs[0].frameSentAt.get(n);
    if (sent !== undefined && at >= sent) room.video.push(at - sent);
  };
  const onsets = new OnsetDetector((at) => {
    const sent = latestBefore(pubs[0].beepSentAt, at);
    if (sent !== null) room.audio.push(at - sent);
  });
  probe.onAudio = (pcm, at) => onsets.push(pcm, at);
  return room;
}

async function closeRooms(rooms: RoomLoad[]): Promise<void> {
  for (const room of rooms) {
    await room.probe.close().catch(() => {});
    await room.top.close();
    await room.low.close();
    for (const p of room.pubs) await p.close();
  }
}

/** One measurement of `rooms` on `server`: frame rates, the probes' p95s, CPU of both sides. */
async function measure(server: ServerProc, rooms: RoomLoad[], idle: { node: number; ffmpeg: number }) {
  for (const room of rooms) (room.video = []), (room.audio = []);
  const f0 = rooms.map((x) => x.frames);
  const c0 = server.cpu();
  const k0 = server.children();
  const g0 = cpuSeconds(process.pid);
  const t0 = performance.now();
  await sleep(measureSec * 1000);
  const dt = (performance.now() - t0) / 1000;
  const c1 = server.cpu();
  const kinds = cpuByKind(k0, server.children(), dt);
  const g1 = cpuSeconds(process.pid);
  const rss = server.rss();
  const fps = rooms.map((x, i) => (x.frames - f0[i]) / dt);
  const p95 = (xs: number[]) => (xs.length ? Math.round(pct(xs, 95)) : null);
  const worst = (xs: Array<number | null>) => (xs.some((x) => x === null) ? null : Math.max(...(xs as number[])));
  const videoP95 = rooms.map((x) => p95(x.video));
  const audioP95 = rooms.map((x) => p95(x.audio));
  const node = (c1.node - c0.node) / dt;
  // Per child, so a child that exits (a mixer replaced) does not take its CPU out of the sum.
  const ffmpeg = Object.values(kinds).reduce((a, b) => a + b, 0);
  return {
    rooms: rooms.length,
    minFps: Math.round(Math.min(...fps) * 10) / 10,
    /** Worst room's p95 (null: a room's probe got no samples, which counts as missed). */
    videoP95Ms: worst(videoP95),
    audioP95Ms: worst(audioP95),
    perRoom: rooms.map((_, i) => ({ videoP95Ms: videoP95[i], audioP95Ms: audioP95[i], videoN: rooms[i].video.length, audioN: rooms[i].audio.length })),
    cpuCores: r2(node + ffmpeg),
    cpuNodeCores: r2(node),
    cpuFfmpegCores: r2(ffmpeg),
    /** The server's FFmpegs by what they do (all rooms). */
    ffmpegCoresByKind: kinds,
    loadGeneratorCores: r2((g1 - g0) / dt),
    rssMB: Math.round((rss.node + rss.ffmpeg) / 1e6),
    rssPerRoomMB: Math.round((rss.node + rss.ffmpeg - idle.node - idle.ffmpeg) / 1e6 / rooms.length),
  };
}
type Step = Awaited<ReturnType<typeof measure>>;

const held = (s: Step) => s.minFps >= 29 && s.videoP95Ms !== null && s.audioP95Ms !== null && s.videoP95Ms < P95_LIMIT_MS && s.audioP95Ms < P95_LIMIT_MS;

const show = (s: Step) =>
  `composite >= ${s.minFps} fps, A+V subscriber p95 video ${s.videoP95Ms} / audio ${s.audioP95Ms} ms (worst room), server ${s.cpuCores} cores (Node ${s.cpuNodeCores}, FFmpeg ${s.cpuFfmpegCores}: decoders ${s.ffmpegCoresByKind.decoder}, video mixer ${s.ffmpegCoresByKind['video mixer']}, audio mixer ${s.ffmpegCoresByKind['audio mixer']}), load generator ${s.loadGeneratorCores} cores, ${s.rssMB} MB`;

/** Rooms added one at a time (measured after each) until `stop` says so or `max` is reached. */
async function ramp(env: Record<string, string>, media: Media, max: number, label: string, stop: (s: Step) => boolean) {
  const server = await startServerProc(env);
  const rooms: RoomLoad[] = [];
  const steps: Step[] = [];
  let limit = `reached ${max} room(s)`;
  try {
    const idle = server.rss();
    for (let r = 1; r <= max; r++) {
      try {
        rooms.push(await addRoom(server, `cap-${r}`, media));
      } catch (err) {
        // Admission control (503 + Retry-After) refusing a new room is the server's own limit.
        if (!(err instanceof HttpStatusError && err.status === 503)) throw err;
        limit = `admission control refused room ${r} (${err.body.slice(0, 120)})`;
        break;
      }
      await sleep(values.smoke ? 2000 : 4000); // settle: mixer start, rungs, adaptation, jitter buffers
      const step = await measure(server, rooms, idle);
      steps.push(step);
      console.log(`  ${label} ${r} room(s): ${show(step)}`);
      if (stop(step)) {
        limit = step.minFps < 29 ? `composite below 29 fps at ${r} rooms` : `A+V p95 not under ${P95_LIMIT_MS} ms at ${r} rooms`;
        break;
      }
    }
  } finally {
    await closeRooms(rooms);
    await server.stop();
  }
  return { steps, limit };
}

/** --simulcast: single-layer against simulcast publishers, and the floor, in one run. */
async function simulcastMain(): Promise<void> {
  const rooms = values.smoke ? 1 : Number(values.rooms);
  console.log(`single-layer against simulcast ingest, ${rooms} room(s) each:`);
  const vp8Threads = String(vp8ThreadsFromEnv() ?? VP8_THREADS);
  await Promise.all([...COLOURS.map((c) => videoFixture(c)), audioFixture('beep')]); // the floor reads these files
  const floor = await floorCpuPerSec(measureSec, { threads: vp8Threads });
  const c = await compareSimulcast(rooms, measureSec, floor);
  const result = {
    bench: 'capacity-simulcast',
    date: new Date().toISOString(),
    machine: machine(),
    measureSec,
    vp8Threads,
    floor: { what: 'bare FFmpeg: 4 VP8 360p decodes + 2x2 composite + 720p/360p VP8 + 5 Opus mixes, from files', cpuPerRoomCores: r2(floor) },
    ...c,
  };
  console.log(
    `capacity simulcast: decode ${c.simulcast.decodedMpixelsPerSecPerRoom} vs ${c.single.decodedMpixelsPerSecPerRoom} Mpixel/s per room single-layer | ratio ${c.decodeWorkRatio}x | CPU per room ${c.simulcast.cpuPerRoomCores} vs ${c.single.cpuPerRoomCores} cores | ratio ${c.cpuPerRoomRatio}x (decoders ${c.decodersCpuRatio}x) | floor (bare FFmpeg) ${result.floor.cpuPerRoomCores} cores: simulcast ${c.ratioToFloorSimulcast}x, single-layer ${c.ratioToFloorSingle}x | composite >= ${c.simulcast.minFps} vs ${c.single.minFps} fps`,
  );
  console.log(`wrote ${writeResult('capacity-simulcast', values.smoke, result)}`);
  process.exit(0);
}

async function main(): Promise<void> {
  if (values.simulcast) return simulcastMain();
  const media: Media = { video: await Promise.all(COLOURS.map((c) => videoFixture(c))), beep: await audioFixture('beep'), silence: await audioFixture('silence') };
  console.log('voice processing on (the default):');
  const on = await ramp({}, media, maxRooms, 'on', (s) => !held(s));
  const heldSteps = on.steps.filter(held);
  const best = heldSteps[heldSteps.length - 1] ?? on.steps[0];
  // The same load with no voice chain at all, on a fresh server, up to the same number of rooms.
  console.log(`voice processing off (VOICE_PROCESSING=off), ${best.rooms} room(s):`);
  const off = await ramp({ VOICE_PROCESSING: 'off' }, media, best.rooms, 'off', () => false);
  const offBest = off.steps[off.steps.length - 1];
  // The floor encodes with the mixer's threads (MIXER_VP8_THREADS reaches the server through its env).
  const vp8Threads = String(vp8ThreadsFromEnv() ?? VP8_THREADS);
  const floor = await floorCpuPerSec(measureSec, { threads: vp8Threads });
  const perRoom = best.cpuCores / best.rooms;
  const perRoomOff = offBest.cpuCores / offBest.rooms;
  const result = {
    bench: 'capacity',
    date: new Date().toISOString(),
    machine: machine(),
    measureSec,
    vp8Threads,
    roomsHeld: heldSteps.length ? best.rooms : 0,
    limit: on.limit,
    heldMeans: `every room's composite >= 29 fps and its A+V subscriber's video and audio p95 < ${P95_LIMIT_MS} ms`,
    cpuPerRoomCores: r2(perRoom),
    loadGeneratorPerRoomCores: r2(best.loadGeneratorCores / best.rooms),
    memoryPerRoomMB: best.rssPerRoomMB,
    floor: { what: 'bare FFmpeg: 4 VP8 decodes + 2x2 composite + 720p/360p VP8 + 5 Opus mixes, from files', cpuPerRoomCores: r2(floor) },
    ratioToFloor: r2(perRoom / floor),
    voice: {
      rooms: offBest.rooms,
      cpuPerRoomOnCores: r2((on.steps[offBest.rooms - 1] ?? best).cpuCores / offBest.rooms),
      cpuPerRoomOffCores: r2(perRoomOff),
      ratioOnToOff: r2((on.steps[offBest.rooms - 1] ?? best).cpuCores / offBest.cpuCores),
      /** The audio mixers alone (where the chain runs), per room: the difference without the rest's noise. */
      audioMixerPerRoomOnCores: r2((on.steps[offBest.rooms - 1] ?? best).ffmpegCoresByKind['audio mixer'] / offBest.rooms),
      audioMixerPerRoomOffCores: r2(offBest.ffmpegCoresByKind['audio mixer'] / offBest.rooms),
      /** The floor has no voice chain: this is the like-for-like ratio. */
      ratioToFloorOff: r2(perRoomOff / floor),
    },
    target: { roomsHeld: 3, ratioToFloor: 1.1 },
    steps: on.steps,
    stepsVoiceOff: off.steps,
  };
  console.log(
    `capacity: ${result.roomsHeld} room(s) held (${on.limit}); per room ${result.cpuPerRoomCores} cores, ${result.memoryPerRoomMB} MB (load generator ${result.loadGeneratorPerRoomCores} cores per room beside it) | floor (bare FFmpeg) ${result.floor.cpuPerRoomCores} cores | ratio ${result.ratioToFloor}x (target <= 1.1x, >= 3 rooms); VP8 at ${vp8Threads} thread(s) per rung in the mixer and the floor`,
  );
  console.log(
    `voice processing at ${result.voice.rooms} room(s): per room ${result.voice.cpuPerRoomOnCores} cores on, ${result.voice.cpuPerRoomOffCores} off | ratio on/off ${result.voice.ratioOnToOff}x (audio mixer alone ${result.voice.audioMixerPerRoomOnCores} vs ${result.voice.audioMixerPerRoomOffCores}) | off against the floor (which has no voice chain) ${result.voice.ratioToFloorOff}x`,
  );
  console.log(`wrote ${writeResult('capacity', values.smoke, result)}`);
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
