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
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { FLOOR_COLOURS as COLOURS, floorCpuPerSec } from './lib/floor.ts';
import { VP8_THREADS } from '../pipeline/mixer/graph.ts';
import { vp8ThreadsFromEnv } from '../workers/mixer/voiceModel.ts';
import { HttpStatusError } from '../workers/clients/webrtc.ts';
import { WhepRtpClient, WHEP_RTP_CODECS } from '../workers/clients/WhepRtpClient.ts';
import { countClearText } from './lib/clearTextCount.ts';
import { audioFixture, videoFixture } from './lib/fixtures.ts';
import { RtpPublisher } from './lib/RtpPublisher.ts';
import { type Rect } from './lib/stamp.ts';
import { AvProbe } from './lib/avProbe.ts';
import { cpuSeconds, latestBefore, machine, pct, writeResult } from './lib/stats.ts';
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
  /** The browser case in its own process (bench/lib/avProbe.ts). */
  probe: AvProbe | null;
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
  // Everything opened so far is closed again if a later step fails (nothing outlives the bench).
  let top: WhepRtpClient | null = null;
  let low: WhepRtpClient | null = null;
  try {
    const desc = (await (await fetch(`${server.url}/rooms/${name}`)).json()) as any;
    const p0 = desc.participants.find((p: any) => p.name === 'p0');
    // RNNoise takes a beep for noise and blurs its onset: p0 is untouched (its slot's chain still
    // runs, arnndn at mix=0 keeps its delay); the others' silence goes through the whole chain.
    const res = await fetch(`${server.url}/rooms/${name}/participants/${p0.id}`, { method: 'PATCH', headers: { 'Content-Type': 'application/json' }, body: '{"audio":{"processing":false}}' });
    if (res.status !== 200) throw new Error(`PATCH participant: ${res.status} ${await res.text()}`);
    const rect: Rect = desc.layout.tiles.find((t: any) => t.participantId === p0.id).video;
    top = await WhepRtpClient.connect({ url: `${server.url}/rooms/${name}/whep?level=720p`, codec: 'VP8' });
    low = await WhepRtpClient.connect({ url: `${server.url}/rooms/${name}/whep?level=360p`, codec: 'VP8' });
    const room: RoomLoad = { pubs, top, low, probe: null, frames: 0, video: [], audio: [] };
    // The composite's frames (marker bits), counted from the clear-text header: werift's SRTP
    // would be the load generator's largest cost. The 360p subscriber only keeps its rung encoded.
    countClearText(top, (data) => (data[1] & 0x7f) === WHEP_RTP_CODECS.VP8.payloadType && data[1] & 0x80 && room.frames++);
    countClearText(low, () => {});
    room.probe = await AvProbe.start(`${server.url}/rooms/${name}/whep?level=720p`, rect, {
      onFrame: (n, at) => {
        const sent = pubs[0].frameSentAt.get(n);
        if (sent !== undefined && at >= sent) room.video.push(at - sent);
      },
      onOnset: (at) => {
        const sent = latestBefore(pubs[0].beepSentAt, at);
        if (sent !== null) room.audio.push(at - sent);
      },
    });
    return room;
  } catch (err) {
    await top?.close();
    await low?.close();
    for (const p of pubs) await p.close();
    throw err;
  }
}

async function closeRooms(rooms: RoomLoad[]): Promise<void> {
  for (const room of rooms) {
    await room.probe?.close();
    await room.top.close();
    await room.low.close();
    for (const p of room.pubs) await p.close();
  }
}

/** The server's own p95s for a room (GET /rooms/{room} mixer.timing): where a probe's time went. */
async function serverTiming(server: ServerProc, name: string) {
  const t = ((await (await fetch(`${server.url}/rooms/${name}`)).json()) as any).mixer?.timing;
  if (!t) return null;
  return {
    videoTickLateP95Ms: t.videoTickLateMs.p95,
    videoWriteToPacketP95Ms: t.videoWriteToPacketMs.p95,
    audioTickLateP95Ms: t.audioTickLateMs.p95,
    audioWriteToPacketP95Ms: t.audioWriteToPacketMs.p95,
  };
}

/** One measurement of `rooms` on `server`: frame rates, the probes' p95s, CPU of both sides. */
async function measure(server: ServerProc, rooms: RoomLoad[], idle: { node: number; ffmpeg: number }) {
  for (const room of rooms) (room.video = []), (room.audio = []);
  const f0 = rooms.map((x) => x.frames);
  const c0 = server.cpu();
  const k0 = server.children();
  // The load generator: this process and the probes' (a probe's CPU is the harness's, not the server's).
  const loadCpu = () => cpuSeconds(process.pid) + rooms.reduce((sum, x) => sum + (x.probe ? cpuSeconds(x.probe.pid) : 0), 0);
  const g0 = loadCpu();
  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();
  const t0 = performance.now();
  await sleep(measureSec * 1000);
  loop.disable();
  const dt = (performance.now() - t0) / 1000;
  const c1 = server.cpu();
  const kinds = cpuByKind(k0, server.children(), dt);
  const g1 = loadCpu();
  const rss = server.rss();
  const fps = rooms.map((x, i) => (x.frames - f0[i]) / dt);
  const timing = await Promise.all(rooms.map((_, i) => serverTiming(server, `cap-${i + 1}`)));
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
    perRoom: rooms.map((_, i) => ({ videoP95Ms: videoP95[i], audioP95Ms: audioP95[i], videoN: rooms[i].video.length, audioN: rooms[i].audio.length, server: timing[i] })),
    cpuCores: r2(node + ffmpeg),
    cpuNodeCores: r2(node),
    cpuFfmpegCores: r2(ffmpeg),
    /** The server's FFmpegs by what they do (all rooms). */
    ffmpegCoresByKind: kinds,
    loadGeneratorCores: r2((g1 - g0) / dt),
    /** The load generator's own event loop (its publishers' pacing and its probes' timestamps ride on it), p95 ms. */
    loadGeneratorLoopP95Ms: r2(loop.percentile(95) / 1e6),
    rssMB: Math.round((rss.node + rss.ffmpeg) / 1e6),
    rssPerRoomMB: Math.round((rss.node + rss.ffmpeg - idle.node - idle.ffmpeg) / 1e6 / rooms.length),
  };
}
type Step = Awaited<ReturnType<typeof measure>>;

const held = (s: Step) => s.minFps >= 29 && s.videoP95Ms !== null && s.audioP95Ms !== null && s.videoP95Ms < P95_LIMIT_MS && s.audioP95Ms < P95_LIMIT_MS;

const show = (s: Step) =>
  `composite >= ${s.minFps} fps, A+V subscriber p95 video ${s.videoP95Ms} / audio ${s.audioP95Ms} ms (worst room), server ${s.cpuCores} cores (Node ${s.cpuNodeCores}, FFmpeg ${s.cpuFfmpegCores}: decoders ${s.ffmpegCoresByKind.decoder}, video mixer ${s.ffmpegCoresByKind['video mixer']}, audio mixer ${s.ffmpegCoresByKind['audio mixer']}), load generator ${s.loadGeneratorCores} cores (event loop p95 ${s.loadGeneratorLoopP95Ms} ms), ${s.rssMB} MB; per room p95 video/audio ${s.perRoom.map((r) => `${r.videoP95Ms}/${r.audioP95Ms}`).join(', ')} ms, server's audio tick late / write→packet ${s.perRoom.map((r) => `${r.server?.audioTickLateP95Ms}/${r.server?.audioWriteToPacketP95Ms}`).join(', ')} ms, video write→packet ${s.perRoom.map((r) => r.server?.videoWriteToPacketP95Ms).join(', ')} ms`;

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
