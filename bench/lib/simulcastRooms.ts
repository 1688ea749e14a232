// Capacity with simulcast ingest (#23, bench/capacity.ts --simulcast): rooms of 4 publishers
// sending pre-encoded VP8 (test/helpers/simulcast-publisher.ts, video only), either simulcast
// (three layers: 320x180 150k, 640x360 500k, 1280x720 1500k; RIDs q/h/f) or the 720p layer
// alone (a single-layer publisher). Each room has a 720p and a 360p RTP-counting subscriber.
// In the 2x2 grid a tile is 640x360, so the server decodes a simulcast publisher's 360p layer
// and a single-layer publisher's 720p stream. Per measurement: the server's decode work (the
// sum of its publishers' decode.pixelsPerSec from GET /rooms/{room}, sampled each second),
// its CPU (Node + FFmpegs, the decoders apart) and the composites' frame rate.

import { WhepRtpClient } from '../../workers/clients/WhepRtpClient.ts';
import { layerVideo, SimulcastPublisher, type Layer } from '../../test/helpers/simulcast-publisher.ts';
import { cpuByKind, startServerProc, type ServerProc } from './server-proc.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const r2 = (x: number) => Math.round(x * 100) / 100;

export type IngestKind = 'simulcast' | 'single';

interface Room {
  name: string;
  pubs: SimulcastPublisher[];
  subs: WhepRtpClient[];
  frames: number;
}

async function layers(kind: IngestKind): Promise<Layer[]> {
  const [q, h, f] = await Promise.all([layerVideo(320, 180, [220, 40, 40], 150), layerVideo(640, 360, [40, 180, 40], 500), layerVideo(1280, 720, [40, 40, 220], 1500)]);
  return kind === 'simulcast' ? [{ rid: 'q', frames: q }, { rid: 'h', frames: h }, { rid: 'f', frames: f }] : [{ rid: null, frames: f }];
}

async function addRoom(server: ServerProc, name: string, ls: Layer[]): Promise<Room> {
  const room: Room = { name, pubs: [], subs: [], frames: 0 };
  try {
    for (let i = 0; i < 4; i++) room.pubs.push(await SimulcastPublisher.whip(`${server.url}/rooms/${name}/whip?name=p${i}`, ls));
    const top = await WhepRtpClient.connect({ url: `${server.url}/rooms/${name}/whep?level=720p`, codec: 'VP8' });
    room.subs.push(top);
    room.subs.push(await WhepRtpClient.connect({ url: `${server.url}/rooms/${name}/whep?level=360p`, codec: 'VP8' }));
    top.on('video', (p) => p.header.marker && room.frames++);
  } catch (err) {
    await closeRoom(room);
    throw err;
  }
  return room;
}

async function closeRoom(room: Room): Promise<void> {
  for (const s of room.subs) await s.close();
  for (const p of room.pubs) await p.close();
}

/** Decoded pixels per second of every publisher in `rooms`, and the layers decoded. */
async function decodeWork(server: ServerProc, rooms: Room[]): Promise<{ pixelsPerSec: number; layers: string[] }> {
  let pixelsPerSec = 0;
  const decoded: string[] = [];
  for (const room of rooms) {
    const desc = (await (await fetch(`${server.url}/rooms/${room.name}`)).json()) as any;
    for (const p of desc.participants) {
      pixelsPerSec += p.decode?.pixelsPerSec ?? 0;
      decoded.push(p.decode?.simulcast?.layer ?? 'single');
    }
  }
  return { pixelsPerSec, layers: decoded };
}

/** `n` rooms of `kind` publishers on a fresh server, measured once for `measureSec` after settling. */
export async function simulcastCapacity(kind: IngestKind, n: number, measureSec: number) {
  const ls = await layers(kind);
  const server = await startServerProc();
  const rooms: Room[] = [];
  try {
    for (let r = 1; r <= n; r++) rooms.push(await addRoom(server, `${kind}-${r}`, ls));
    await sleep(6000); // settle: mixers, rungs, each simulcast publisher on its tile's layer
    const f0 = rooms.map((x) => x.frames);
    const c0 = server.cpu();
    const k0 = server.children();
    const t0 = performance.now();
    const px: number[] = [];
    let layersDecoded: string[] = [];
    while (performance.now() - t0 < measureSec * 1000) {
      await sleep(Math.min(1000, t0 + measureSec * 1000 - performance.now()));
      const w = await decodeWork(server, rooms);
      px.push(w.pixelsPerSec);
      layersDecoded = w.layers;
    }
    const dt = (performance.now() - t0) / 1000;
    const c1 = server.cpu();
    const kinds = cpuByKind(k0, server.children(), dt);
    const node = (c1.node - c0.node) / dt;
    const ffmpeg = Object.values(kinds).reduce((a, b) => a + b, 0);
    const fps = rooms.map((x, i) => (x.frames - f0[i]) / dt);
    const pixels = px.reduce((a, b) => a + b, 0) / Math.max(1, px.length);
    return {
      ingest: kind,
      rooms: n,
      minFps: Math.round(Math.min(...fps) * 10) / 10,
      /** Which layer each publisher's decoder takes ('single': a one-stream publisher). */
      layersDecoded: [...new Set(layersDecoded)].map((l) => `${l} x${layersDecoded.filter((x) => x === l).length}`),
      decodedMpixelsPerSecPerRoom: r2(pixels / 1e6 / n),
      cpuPerRoomCores: r2((node + ffmpeg) / n),
      nodePerRoomCores: r2(node / n),
      decodersPerRoomCores: r2(kinds.decoder / n),
      videoMixerPerRoomCores: r2(kinds['video mixer'] / n),
    };
  } finally {
    for (const room of rooms) await closeRoom(room);
    await server.stop();
  }
}
export type SimulcastStep = Awaited<ReturnType<typeof simulcastCapacity>>;

/** Single-layer then simulcast publishers, `n` rooms each, and their ratios (and to the floor). */
export async function compareSimulcast(n: number, measureSec: number, floorPerRoom: number) {
  const single = await simulcastCapacity('single', n, measureSec);
  const show = (s: SimulcastStep) =>
    `composite >= ${s.minFps} fps, decode ${s.decodedMpixelsPerSecPerRoom} Mpixel/s per room (${s.layersDecoded.join(', ')}), per room ${s.cpuPerRoomCores} cores (Node ${s.nodePerRoomCores}, decoders ${s.decodersPerRoomCores}, video mixer ${s.videoMixerPerRoomCores})`;
  console.log(`  single-layer 720p publishers, ${n} room(s): ${show(single)}`);
  const sim = await simulcastCapacity('simulcast', n, measureSec);
  console.log(`  simulcast publishers (180p/360p/720p), ${n} room(s): ${show(sim)}`);
  const ratio = (a: number, b: number) => (b > 0 ? r2(a / b) : null);
  return {
    rooms: n,
    single,
    simulcast: sim,
    /** Simulcast against single-layer: below 1 is the saving. */
    decodeWorkRatio: ratio(sim.decodedMpixelsPerSecPerRoom, single.decodedMpixelsPerSecPerRoom),
    cpuPerRoomRatio: ratio(sim.cpuPerRoomCores, single.cpuPerRoomCores),
    decodersCpuRatio: ratio(sim.decodersPerRoomCores, single.decodersPerRoomCores),
    ratioToFloorSingle: ratio(single.cpuPerRoomCores, floorPerRoom),
    ratioToFloorSimulcast: ratio(sim.cpuPerRoomCores, floorPerRoom),
  };
}
