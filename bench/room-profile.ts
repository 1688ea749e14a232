// Where a room's FFmpeg work goes, stage by stage: the capacity floor's graph (bench/lib/floor.ts:
// one FFmpeg doing a room's decode + composite + encodes + Opus mixes from the fixture files,
// paced in real time) with stages left out, each with the rungs' VP8 at 2 threads and at 1,
// and each `--copies` at once (as that many rooms on this 2-core box). A stage's cost is the
// difference between two rows, all measured in the same run.
//   npx tsx bench/room-profile.ts [-- --seconds 6 --copies 1,2]   (--smoke: 2 s, one row)

import { parseArgs } from 'node:util';
import { FLOOR_COLOURS, floorCpuPerSec, type FloorOptions } from './lib/floor.ts';
import { machine, writeResult } from './lib/stats.ts';
import { audioFixture, videoFixture } from './lib/fixtures.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '6' },
    copies: { type: 'string', default: '1,2' },
    smoke: { type: 'boolean', default: false },
  },
});
const seconds = values.smoke ? 2 : Number(values.seconds);
const copiesList = values.smoke ? [1] : values.copies!.split(',').map(Number);
const r2 = (x: number) => Math.round(x * 100) / 100;

const ROWS: Array<{ name: string; opts: FloorOptions }> = [
  { name: '4 decodes + composite (no encode, no audio)', opts: { encode: 'none', audio: false } },
  { name: '+ 5 Opus mixes', opts: { encode: 'none' } },
  { name: '+ 720p VP8, 2 threads', opts: { encode: '720p', threads: '2' } },
  { name: '+ 360p VP8, 2 threads (the floor as it was)', opts: { encode: 'both', threads: '2' } },
  { name: '+ 720p VP8, 1 thread', opts: { encode: '720p', threads: '1' } },
  { name: '+ 360p VP8, 1 thread', opts: { encode: 'both', threads: '1' } },
  { name: "the mixer's video graph: 4 decodes + xstack (the canvas Node draws) + blend copies (no encode, no audio)", opts: { graph: 'mixer', encode: 'none' } },
  { name: "the mixer's video graph + 720p and 360p VP8, 2 threads", opts: { graph: 'mixer', encode: 'both', threads: '2' } },
  { name: "the mixer's video graph + 720p and 360p VP8, 1 thread", opts: { graph: 'mixer', encode: 'both', threads: '1' } },
];

async function main(): Promise<void> {
  await Promise.all([...FLOOR_COLOURS.map((c) => videoFixture(c)), audioFixture('beep')]); // the floor's input files
  const rows = values.smoke ? ROWS.slice(0, 1) : ROWS;
  // Each row is also a ratio to the first (decodes + bare composite, the floor's base) of the same run.
  const out: Array<{ stage: string; copies: number; coresPerCopy: number; ratioToFirst: number }> = [];
  for (const copies of copiesList) {
    let first = 0;
    for (const row of rows) {
      const each = await Promise.all(Array.from({ length: copies }, () => floorCpuPerSec(seconds, row.opts)));
      const coresPerCopy = r2(each.reduce((a, b) => a + b, 0) / copies);
      first ||= coresPerCopy;
      const ratioToFirst = r2(coresPerCopy / first);
      out.push({ stage: row.name, copies, coresPerCopy, ratioToFirst });
      console.log(`  ${copies} at once: ${row.name}: ${coresPerCopy} core per copy (${ratioToFirst}x the first row)`);
    }
  }
  console.log(`wrote ${writeResult('room-profile', values.smoke, { bench: 'room-profile', date: new Date().toISOString(), machine: machine(), seconds, rows: out })}`);
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
