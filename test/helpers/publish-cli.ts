// A synthetic publisher as its own process, so it can run inside a network namespace:
//   ip netns exec NS node --import tsx test/helpers/publish-cli.ts URL [noise|solid]
// Prints "participant <id>" once published; unpublishes and exits on SIGTERM/SIGINT.

import { SyntheticPublisher } from '../../workers/clients/webrtc.ts';

const [url, pattern = 'solid'] = process.argv.slice(2);
if (!url) {
  console.error('usage: publish-cli.ts WHIP_URL [noise|solid]');
  process.exit(2);
}
const pub = await SyntheticPublisher.start({ whipUrl: url, color: [40, 120, 200], toneHz: 440, pattern: pattern as 'noise' | 'solid' });
console.log(`participant ${pub.participantId}`);
const stop = async () => {
  await pub.close();
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
