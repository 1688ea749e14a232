// The mix's audio cadence as Node receives it: a RoomMixer on its own (no WebRTC), three
// participants sending moving pictures and tones, one 720p VP8 rung encoded. Every RTP packet
// of the full mix and of each mix-minus is timestamped on arrival at Node's socket; the figure
// is |gap - 20 ms| over consecutive packets (p50/p95/max) and the longest gap. Three phases:
//   quiet      nothing else happens
//   busy       another FFmpeg starts (and encodes) every second, as on a shared 2-core box;
//              started from this process the way the server starts its own (spawnChild:
//              posix_spawn, or with MCU_SPAWN=node child_process.spawn's fork, as until 2026-11-27)
//   stopped    the video mixer FFmpeg (or the whole mixer, before the split) is SIGSTOPped
//              for 300 ms every second
// The floor, measured in each phase of the same run: a 20 ms packet paced by a drift-free Node timer
// in this process and sent over loopback UDP (what any Node-clocked sender gets on this box under
// the same load); the figure is printed as a ratio of its p95 to the floor's.
//   npm run bench:audio-jitter [-- --seconds 8]

import { spawnChild, spawnMethod, type Child } from '../workers/ffmpeg/spawnChild.ts';
import dgram from 'node:dgram';
import { parseArgs } from 'node:util';
import { RoomMixer } from '../workers/mixer/RoomMixer.ts';
import { DEFAULT_MIXER_SETTINGS } from '../pipeline/mixer/graph.ts';
import { pct } from './lib/stats.ts';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '8' } } });
const seconds = Number(values.seconds);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const settings = { ...DEFAULT_MIXER_SETTINGS };
const { width, height } = settings.slotSize;
const mixer = new RoomMixer('jitter', settings);
const ids = ['a', 'b', 'c'];

function picture(n: number, k: number): Uint8Array {
  const buf = Buffer.alloc(width * height * 1.5, 128);
  // Moving noise bands: the encoder has real work every frame.
  for (let i = 0; i < width * height; i += 7) buf[i] = (i * 31 + n * 17 * (k + 1)) & 0xff;
  return buf;
}

const arrivals = new Map<string, number[]>();
let recording = false;
mixer.on('rtp', (key) => {
  if (!recording || key.startsWith('video:')) return;
  const list = arrivals.get(key) ?? [];
  list.push(performance.now());
  arrivals.set(key, list);
});
mixer.on('error', () => {});

/** The floor: a drift-free 20 ms Node timer sending over loopback UDP; arrival times. */
const floorArrivals: number[] = [];
const floorRx = dgram.createSocket('udp4');
const floorTx = dgram.createSocket('udp4');
floorRx.on('message', () => recording && floorArrivals.push(performance.now()));
function paceFloor(): void {
  const start = performance.now();
  let k = 0;
  const payload = Buffer.alloc(160);
  const tick = () => {
    floorTx.send(payload, (floorRx.address() as { port: number }).port, '127.0.0.1');
    k++;
    floorTimer = setTimeout(tick, Math.max(0, start + k * 20 - performance.now()));
  };
  tick();
}
let floorTimer: NodeJS.Timeout | undefined;

function figures(series: Iterable<number[]> = arrivals.values()): { p50: number; p95: number; max: number; longestGap: number; n: number } {
  const dev: number[] = [];
  let longest = 0;
  for (const times of series) {
    for (let i = 1; i < times.length; i++) {
      const g = times[i] - times[i - 1];
      dev.push(Math.abs(g - 20));
      longest = Math.max(longest, g);
    }
  }
  const r = (x: number) => Math.round(x * 10) / 10;
  return { n: dev.length, p50: r(pct(dev, 50)), p95: r(pct(dev, 95)), max: r(Math.max(...dev)), longestGap: r(longest) };
}

function videoPid(): number | undefined {
  const proc = mixer.currentProcess as any;
  return proc?.videoPid ?? proc?.ffmpeg?.pid;
}

async function phase(name: string, disturb: (() => Promise<void>) | null): Promise<void> {
  arrivals.clear();
  floorArrivals.length = 0;
  recording = true;
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end) {
    if (disturb) await disturb();
    else await sleep(200);
  }
  recording = false;
  const mix = figures();
  const floor = figures([floorArrivals]);
  const ratioP95 = Math.round((mix.p95 / Math.max(floor.p95, 0.1)) * 10) / 10;
  console.log(JSON.stringify({ phase: name, ...mix, floor, ratioP95 }));
}

async function main(): Promise<void> {
  await new Promise<void>((r) => floorRx.bind(0, '127.0.0.1', () => r()));
  paceFloor();
  await mixer.start();
  ids.forEach((id) => mixer.addParticipant(id, id.toUpperCase()));
  mixer.setLayout(new Map(ids.map((id, k) => [id, { rect: { x: (k % 2) * 640, y: Math.floor(k / 2) * 360, width: 640, height: 360 } }])));
  mixer.setRungs(['720p']);
  let n = 0;
  const video = setInterval(() => {
    n++;
    ids.forEach((id, k) => mixer.pushVideo(id, { width, height, data: picture(n, k) }));
  }, 33);
  let phaseSamples = 0;
  const audio = setInterval(() => {
    ids.forEach((id, k) => {
      const pcm = new Int16Array(480);
      for (let i = 0; i < pcm.length; i++) pcm[i] = 6000 * Math.sin((2 * Math.PI * (300 + 200 * k) * (phaseSamples + i)) / 48000);
      mixer.pushAudio(id, pcm, 48000, 1);
    });
    phaseSamples += 480;
  }, 10);
  await sleep(4000); // the rung's process swap, then settle
  await phase('quiet', null);
  const children = new Set<Child>();
  console.log(JSON.stringify({ busySpawn: spawnMethod() }));
  await phase('busy', async () => {
    const c = spawnChild('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=s=1280x720:r=30', '-t', '0.6', '-c:v', 'libx264', '-preset', 'veryfast', '-f', 'null', '-'], { stdin: false, stdout: false, env: process.env });
    c.stderr?.resume();
    children.add(c);
    c.on('close', () => children.delete(c));
    await sleep(1000);
  });
  for (const c of children) c.kill('SIGKILL');
  await phase('stopped', async () => {
    const pid = videoPid();
    if (pid) {
      process.kill(pid, 'SIGSTOP');
      await sleep(300);
      process.kill(pid, 'SIGCONT');
    }
    await sleep(700);
  });
  clearInterval(video);
  clearInterval(audio);
  clearTimeout(floorTimer);
  floorRx.close();
  floorTx.close();
  await mixer.close();
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
