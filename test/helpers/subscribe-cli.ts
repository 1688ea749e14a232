// A decoding WHEP subscriber as its own process (to run inside a network namespace):
//   ip netns exec NS node --import tsx test/helpers/subscribe-cli.ts WHEP_URL
// Prints "subscription <id>", then "frames <n> audio <samples>" every second; ends on SIGTERM.

import { WhepSubscriber } from '../../workers/clients/webrtc.ts';

const url = process.argv[2];
const sub = await WhepSubscriber.start({ whepUrl: url });
console.log(`subscription ${sub.subscriptionId}`);
const timer = setInterval(() => console.log(`frames ${sub.frameCount()} audio ${sub.audio(1000).length}`), 1000);
const stop = async () => {
  clearInterval(timer);
  await sub.close();
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
