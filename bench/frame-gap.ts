// Frame gaps as a participant sees them, with publishers that encode (#15): the server in its own
// process, three SyntheticPublishers (libwebrtc encoding VP8 + Opus from raw frames, each in its
// own process), and one subscriber taking audio + video in one stream (lip sync on) in its own
// process, printing when each frame was decoded. After a quiet window (the floor: the same
// subscriber's gaps with nothing changing), the room goes through 10 layout changes, a join and a
// leave, then an H.264 viewer comes and goes (its rung is not always on: the H.264 lane's own
// process starts for it and stops once the rung has lingered unwatched; until 2026-11-27 night the
// room's one mixer process was swapped both times, under this VP8 subscriber). Prints the longest
// gap and the count over 100 ms in each phase; the quiet phase is the floor measured in the
// same run, and the changes' longest gap is printed as a ratio to it.
//   npx tsx bench/frame-gap.ts [--quiet 8] [--pattern solid|noise] [--smoke]
// Writes bench/results/frame-gap.json.

import { spawn, type ChildProcess } from 'node:child_process';
import readline from 'node:readline';
import { parseArgs } from 'node:util';
import { startServerProc } from './lib/server-proc.ts';
import { machine, pct, writeResult } from './lib/stats.ts';
import { waitFor } from '../test/helpers/peers.ts';
import { WhepRtpClient } from '../workers/clients/WhepRtpClient.ts';

const { values } = parseArgs({
  options: {
    quiet: { type: 'string', default: '8' },
    pattern: { type: 'string', default: 'solid' },
    smoke: { type: 'boolean', default: false },
  },
});
const quietMs = (values.smoke ? 3 : Number(values.quiet)) * 1000;
const pattern = values.pattern === 'noise' ? 'noise' : 'solid';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function cli(script: string, args: string[]): { child: ChildProcess; lines: string[] } {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: string[] = [];
  readline.createInterface({ input: child.stdout! }).on('line', (l) => lines.push(l));
  return { child, lines };
}

async function stop(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode) return;
  const exited = new Promise((r) => c.once('exit', r));
  c.kill('SIGTERM');
  const t = setTimeout(() => c.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(t);
}

/** Gaps between consecutive decoded frames whose later frame falls in [from, to). */
function gaps(times: number[], from: number, to: number): number[] {
  const out: number[] = [];
  for (let i = 1; i < times.length; i++) if (times[i] >= from && times[i] < to) out.push(times[i] - times[i - 1]);
  return out;
}

function describe(g: number[]) {
  const r = (x: number) => Math.round(x * 10) / 10;
  return { frames: g.length, longestMs: r(Math.max(0, ...g)), p99Ms: r(pct(g, 99)), p50Ms: r(pct(g, 50)), over100: g.filter((x) => x > 100).length };
}

const server = await startServerProc();
const room = 'gap';
const pubs: ChildProcess[] = [];
let sub: ReturnType<typeof cli> | null = null;
try {
  const publish = async (name: string) => {
    const p = cli('test/helpers/publish-cli.ts', [`${server.url}/rooms/${room}/whip?name=${name}`, pattern]);
    pubs.push(p.child);
    await waitFor(() => p.lines.some((l) => l.startsWith('participant ')), 20_000, `publisher ${name} to publish`);
    return p.child;
  };
  for (let i = 0; i < 3; i++) await publish(`P${i}`);
  sub = cli('test/helpers/frame-times-cli.ts', [`${server.url}/rooms/${room}/whep`, '--audio']);
  await waitFor(() => sub!.lines.includes('ready'), 20_000, 'the subscriber to decode frames');
  const times = () => sub!.lines.filter((l) => l.startsWith('f ')).map((l) => Number(l.slice(2)) - performance.timeOrigin);
  const info = async () => (await (await fetch(`${server.url}/rooms/${room}`)).json()) as any;
  const epochBefore = (await info()).mixer.epoch;
  await sleep(1500); // past the subscriber's start-up
  const quietFrom = performance.now();
  await sleep(quietMs);
  const quietTo = performance.now();
  const patch = (body: unknown) =>
    fetch(`${server.url}/rooms/${room}`, { method: 'PATCH', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  const ids: string[] = (await info()).participants.map((p: any) => p.id);
  const patches: Array<Record<string, unknown>> = [
    { layout: 'speaker' }, { layout: 'presentation', pinned: ids[0] }, { fit: 'crop' }, { layout: 'grid' },
    { layout: 'presentation', pinned: ids[1] }, { fit: 'fit' }, { layout: 'speaker' }, { layout: 'grid', fit: 'crop' },
    { layout: 'presentation', pinned: ids[2] }, { layout: 'grid', fit: 'fit', pinned: null },
  ];
  const events: Array<{ what: string; at: number }> = [];
  for (const body of patches) {
    events.push({ what: JSON.stringify(body).replace(/"/g, '').slice(0, 40), at: performance.now() });
    const r = await patch(body);
    if (!r.ok) throw new Error(`PATCH ${JSON.stringify(body)}: ${r.status} ${await r.text()}`);
    await sleep(800);
  }
  events.push({ what: 'join', at: performance.now() });
  const joiner = await publish('J');
  await sleep(2000);
  events.push({ what: 'leave', at: performance.now() });
  await stop(joiner);
  await sleep(2000);
  // The first H.264 viewer: the H.264 lane starts a process for 720p-h264; after it leaves, the
  // rung lingers (RUNG_LINGER_MS, 5 s) and that process stops. `mixerSwaps` counts the VP8 one's.
  events.push({ what: 'H.264 viewer joins (its lane starts)', at: performance.now() });
  const h264 = await WhepRtpClient.connect({ url: `${server.url}/rooms/${room}/whep?level=720p`, codec: 'H264' });
  let h264Frames = 0;
  h264.on('video', (p) => p.header.marker && h264Frames++);
  await waitFor(() => h264Frames > 10, 10_000, 'the H.264 viewer to receive frames');
  await sleep(1500);
  events.push({ what: 'H.264 viewer leaves (lane stops at ~5 s)', at: performance.now() });
  await h264.close();
  await sleep(7500);
  const changesTo = performance.now();
  const epochAfter = (await info()).mixer.epoch;
  const all = times();
  const quiet = describe(gaps(all, quietFrom, quietTo));
  const changes = describe(gaps(all, quietTo, changesTo));
  // The longest gap after each event (until the next), to name what caused one.
  const byEvent = events.map((e, i) => ({ what: e.what, ...describe(gaps(all, e.at, events[i + 1]?.at ?? changesTo)) }));
  const result = {
    machine: machine(),
    publishers: `3 SyntheticPublishers (${pattern} 640x360 30 fps, VP8 + Opus encoded by libwebrtc), each in its own process; a 4th joins and leaves`,
    subscriber: 'wrtc WhepSubscriber taking audio + video in one stream, in its own process',
    floor: { what: 'the same subscriber with nothing changing, same run', ...quiet },
    changes: { what: '10 layout changes, a join and a leave, an H.264 viewer joining and leaving', ...changes },
    ratioLongest: Math.round((changes.longestMs / Math.max(1, quiet.longestMs)) * 100) / 100,
    mixerSwaps: epochAfter - epochBefore,
    byEvent,
  };
  console.log(`quiet (floor): longest ${quiet.longestMs} ms, p99 ${quiet.p99Ms} ms, > 100 ms: ${quiet.over100} of ${quiet.frames}`);
  console.log(`changes:       longest ${changes.longestMs} ms, p99 ${changes.p99Ms} ms, > 100 ms: ${changes.over100} of ${changes.frames} (${result.ratioLongest}x the floor's longest); mixer swaps ${result.mixerSwaps}`);
  for (const e of byEvent) console.log(`  ${e.what.padEnd(40)} longest ${e.longestMs} ms over ${e.frames} frames`);
  console.log(`wrote ${writeResult('frame-gap', values.smoke, result)}`);
} finally {
  if (sub) await stop(sub.child);
  await Promise.all(pubs.map(stop));
  await server.stop();
}
