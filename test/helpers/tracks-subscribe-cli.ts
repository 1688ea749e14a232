// A tracks subscriber (WHEP ?tracks=N, TracksSubscriber) as its own process, to run inside a
// network namespace:
//   ip netns exec NS node --import tsx test/helpers/tracks-subscribe-cli.ts WHEP_URL N
// Prints "subscription <id>", then one line per frame of each slot as it completes:
//   "frame <mid> <sha1 of the depacketized VP8 frame> <k|d> <arrival ms, Date.now()>"
// and "lost <mid> <k|d> <ms>" for a frame still incomplete 1 s after its first packet. So the
// test, which knows every frame each layer's loop holds, can tell by content which layer (and
// publisher) each slot carries. Ends on SIGTERM.

import { createHash } from 'node:crypto';
import { TracksSubscriber } from './tracks-subscriber.ts';

const [url, n = '1'] = process.argv.slice(2);
const sub = await TracksSubscriber.connect(url, Number(n));
console.log(`subscription ${new URL(sub.location).pathname.split('/').pop()}`);
/** performance.now() → Date.now(): the test compares with its own wall clock. */
const wall = (t: number) => Math.round(performance.timeOrigin + t);
const reported = new Map<string, Set<number>>(sub.mids.map((m) => [m, new Set()]));
const timer = setInterval(() => {
  const now = performance.now();
  for (const mid of sub.mids) {
    // Keep the last 3 s of packets: enough to complete any frame, bounded memory.
    const list = sub.packets.get(mid)!;
    const cut = list.findIndex((p) => p.at >= now - 3000);
    if (cut > 0) list.splice(0, cut);
    const done = reported.get(mid)!;
    for (const f of sub.frames(mid, now - 2000)) {
      if (done.has(f.timestamp)) continue;
      if (f.data) console.log(`frame ${mid} ${createHash('sha1').update(f.data).digest('hex')} ${f.keyframe ? 'k' : 'd'} ${wall(f.lastAt)}`);
      else if (now - f.firstAt > 1000) console.log(`lost ${mid} ${f.keyframe ? 'k' : 'd'} ${wall(f.firstAt)}`);
      else continue;
      done.add(f.timestamp);
    }
    if (done.size > 600) for (const ts of [...done].slice(0, done.size - 300)) done.delete(ts);
  }
}, 200);
const stop = async () => {
  clearInterval(timer);
  await sub.close();
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
