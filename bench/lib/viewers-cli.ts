// Many RTP-counting WHEP viewers (werift, no decoding) as their own process, so their CPU is
// not counted as the server's. Reads commands on stdin, answers one JSON line each:
//   add N     → connects N more viewers      → {"viewers": total, "failed": n}
//   report    → per-viewer packet counts     → {"video": [...], "audio": [...]}
//   node --import tsx bench/lib/viewers-cli.ts WHEP_URL [VP8|H264]

import readline from 'node:readline';
import { WhepRtpClient, type VideoCodecName } from '../../workers/clients/WhepRtpClient.ts';

const [url, codec = 'VP8'] = process.argv.slice(2);
const viewers: WhepRtpClient[] = [];
let failed = 0;

const rl = readline.createInterface({ input: process.stdin });
for await (const line of rl) {
  const [cmd, arg] = line.trim().split(/\s+/);
  if (cmd === 'add') {
    const n = Number(arg);
    for (let i = 0; i < n; i += 5) {
      const batch = await Promise.allSettled(
        Array.from({ length: Math.min(5, n - i) }, () => WhepRtpClient.connect({ url, codec: codec as VideoCodecName })),
      );
      for (const r of batch) r.status === 'fulfilled' ? viewers.push(r.value) : failed++;
    }
    console.log(JSON.stringify({ viewers: viewers.length, failed }));
  } else if (cmd === 'report') {
    console.log(JSON.stringify({ video: viewers.map((v) => v.videoPackets), audio: viewers.map((v) => v.audioPackets) }));
  } else if (cmd === 'quit') break;
}
await Promise.all(viewers.map((v) => v.close()));
process.exit(0);
