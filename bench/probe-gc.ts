// Diagnostic: the server's garbage collections under one room of four (pre-encoded publishers,
// a 720p and a 360p counting subscriber). Starts the server with --trace-gc (extra V8 flags from
// the command line) and prints how many scavenges and mark-compacts it did in `seconds`, and
// what started its incremental marking.
//   npx tsx bench/probe-gc.ts [seconds] [-- extra node flags]

import fs from 'node:fs';
import { WhepRtpClient } from '../workers/clients/WhepRtpClient.ts';
import { audioFixture, videoFixture } from './lib/fixtures.ts';
import { RtpPublisher } from './lib/RtpPublisher.ts';
import { startServerProc } from './lib/server-proc.ts';
import { FLOOR_COLOURS as COLOURS } from './lib/floor.ts';

const seconds = Number(process.argv[2] ?? 10);
const extra = process.argv.slice(3).filter((a) => a !== '--');
const log = `/tmp/probe-gc-${process.pid}.log`;

async function main() {
  const server = await startServerProc({}, ['--trace-gc', '--trace-incremental-marking', ...extra], { exec: ['sh', '-c', `exec "$0" "$@" > ${log}`] });
  const pubs: RtpPublisher[] = [];
  const subs: WhepRtpClient[] = [];
  try {
    const video = await Promise.all(COLOURS.slice(0, 4).map((c) => videoFixture(c)));
    const audio = await audioFixture();
    for (let i = 0; i < 4; i++) pubs.push(await RtpPublisher.whip(`${server.url}/rooms/gc/whip?name=p${i}`, video[i], audio));
    const top = await WhepRtpClient.connect({ url: `${server.url}/rooms/gc/whep?level=720p`, codec: 'VP8' });
    subs.push(top);
    subs.push(await WhepRtpClient.connect({ url: `${server.url}/rooms/gc/whep?level=360p`, codec: 'VP8' }));
    await new Promise((r) => setTimeout(r, 4000));
    const from = fs.readFileSync(log, 'utf8').length;
    const c0 = server.cpu();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const c1 = server.cpu();
    const text = fs.readFileSync(log, 'utf8').slice(from);
    const count = (re: RegExp) => (text.match(re) ?? []).length;
    const starts = [...text.matchAll(/\[IncrementalMarking\] Start \(([^)]*)\)/g)].map((m) => m[1]);
    const why: Record<string, number> = {};
    for (const s of starts) why[s] = (why[s] ?? 0) + 1;
    const lastScavenge = text.split('\n').filter((l) => l.includes(': Scavenge ')).pop()?.replace(/^\[[^\]]*\]\s*/, '') ?? null;
    const heaps = [...text.matchAll(/Mark-Compact ([\d.]+) \(([\d.]+)\) -> ([\d.]+)/g)].map((m) => Number(m[3]));
    console.log(JSON.stringify({ seconds, extra, scavenges: count(/: Scavenge /g), markCompacts: count(/: Mark-Compact /g), incrementalStarts: why, heapAfterMarkCompactMB: heaps.slice(-3), lastScavenge, nodeCores: Math.round(((c1.node - c0.node) / seconds) * 1000) / 1000 }));
  } finally {
    // The server is a child process: stopped on every way out.
    for (const c of subs) await c.close();
    for (const p of pubs) await p.close();
    await server.stop();
    fs.rmSync(log, { force: true });
  }
}

main().then(() => process.exit(0), (err) => {
  console.error(err);
  process.exit(1);
});
