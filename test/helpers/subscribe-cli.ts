// A decoding WHEP subscriber as its own process (to run inside a network namespace):
//   ip netns exec NS node --import tsx test/helpers/subscribe-cli.ts WHEP_URL
// Prints "subscription <id>" and "location <url>", then "frames <n> audio <samples> size <w>x<h>"
// every second (size of the last decoded frame, 0x0 before one), then " seen <w>x<h>,…" (every size
// decoded in that second, looked at every 100 ms); ends on SIGTERM.

import { WhepSubscriber } from '../../workers/clients/webrtc.ts';

const url = process.argv[2];
const sub = await WhepSubscriber.start({ whepUrl: url });
console.log(`subscription ${sub.subscriptionId}`);
console.log(`location ${sub.location}`);
const seen = new Set<string>();
const look = setInterval(() => {
  const f = sub.lastFrame();
  if (f) seen.add(`${f.width}x${f.height}`);
}, 100);
const timer = setInterval(() => {
  const f = sub.lastFrame();
  console.log(`frames ${sub.frameCount()} audio ${sub.audio(1000).length} size ${f?.width ?? 0}x${f?.height ?? 0} seen ${[...seen].join(',')}`);
  seen.clear();
}, 1000);
const stop = async () => {
  clearInterval(timer);
  clearInterval(look);
  await sub.close();
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
