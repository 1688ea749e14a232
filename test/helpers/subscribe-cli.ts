// A decoding WHEP subscriber as its own process (to run inside a network namespace):
//   ip netns exec NS node --import tsx test/helpers/subscribe-cli.ts WHEP_URL
// Prints "subscription <id>" and "location <url>", then "frames <n> audio <samples> size <w>x<h>"
// every second (size of the last decoded frame, 0x0 before one); ends on SIGTERM.

import { WhepSubscriber } from '../../workers/clients/webrtc.ts';

const url = process.argv[2];
const sub = await WhepSubscriber.start({ whepUrl: url });
console.log(`subscription ${sub.subscriptionId}`);
console.log(`location ${sub.location}`);
const timer = setInterval(() => {
  const f = sub.lastFrame();
  console.log(`frames ${sub.frameCount()} audio ${sub.audio(1000).length} size ${f?.width ?? 0}x${f?.height ?? 0}`);
}, 1000);
const stop = async () => {
  clearInterval(timer);
  await sub.close();
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
