// A decoding WHEP subscriber in its own process that prints when each frame was decoded, so a
// frame-gap measurement is not skewed by the server's event loop (tests run it in-process):
//   node --import tsx test/helpers/frame-times-cli.ts WHEP_URL [--audio]
// --audio: it takes the audio too, in one stream (the browser case: libwebrtc's lip sync holds
// video to the audio). Prints "ready", then "f <epoch ms>" per decoded frame; ends on SIGTERM.

import { WhepSubscriber } from '../../workers/clients/webrtc.ts';

const sub = await WhepSubscriber.start({ whepUrl: process.argv[2], audio: process.argv.includes('--audio') });
sub.onFrame = (_frame, at) => process.stdout.write(`f ${(performance.timeOrigin + at).toFixed(1)}\n`);
await sub.waitForFrames(5, 15_000);
console.log('ready');
const stop = async () => {
  await sub.close();
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
