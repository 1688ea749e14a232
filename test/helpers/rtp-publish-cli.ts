// A pre-encoded publisher (bench/lib/RtpPublisher.ts: no encoder) as its own process, so a test can
// kill it without a goodbye:  node --import tsx test/helpers/rtp-publish-cli.ts WHIP_URL
// Prints "participant <location>" once connected; on SIGTERM/SIGINT it DELETEs and exits.

import { audioFixture, videoFixture } from '../../bench/lib/fixtures.ts';
import { RtpPublisher } from '../../bench/lib/RtpPublisher.ts';

const url = process.argv[2];
if (!url) {
  console.error('usage: rtp-publish-cli.ts WHIP_URL');
  process.exit(2);
}
const pub = await RtpPublisher.whip(url, await videoFixture([40, 120, 200]), await audioFixture('tone'));
console.log(`participant ${pub.location}`);
const stop = async () => {
  await pub.close();
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
