// Many RTP-counting WHEP viewers (werift, no decoding) as their own process, so their CPU is
// not counted as the server's. Reads commands on stdin, answers one JSON line each:
//   add N     → connects N more viewers      → {"viewers": total, "failed": n}
//   report    → per-viewer packet counts and, since the last report, video packets received /
//               expected (from the sequence numbers) and the p95 of the fan-out delay: how
//               long after the first viewer of this process got a packet each viewer got its
//               copy, ms (viewers of one stable source share its sequence numbers: the
//               server's continuity rewrite starts at offset 0)
//               → {"video": [...], "audio": [...], "received": [...], "expected": [...], "delayP95Ms": n}
//   node --import tsx bench/lib/viewers-cli.ts WHEP_URL [VP8|H264]
// A URL with ?tracks=N offers N video m-lines (individual tracks): received / expected are then
// summed over the viewer's SSRCs, and the fan-out spread is not measured (its slots' packets
// are not told apart by timestamp and sequence number; the server's own delay figure is).
//
// Light: once SRTP is up, a viewer counts the packets from their clear-text RTP header and
// skips the decryption (werift's SRTP costs ~50 µs a packet, which would make the load
// generator, not the server, the bottleneck on a small box). RTCP keeps flowing.

import readline from 'node:readline';
import { WhepRtpClient, WHEP_RTP_CODECS, type VideoCodecName } from '../../workers/clients/WhepRtpClient.ts';
import { countClearText } from './clearTextCount.ts';

const [url, codec = 'VP8'] = process.argv.slice(2);
const videoPt = WHEP_RTP_CODECS[codec as VideoCodecName].payloadType;
const videoLines = Number(new URL(url).searchParams.get('tracks') ?? 1);

interface Counted {
  client: WhepRtpClient;
  video: number;
  audio: number;
  /** Extended highest and first sequence number seen (video), per SSRC. */
  seqs: Map<number, { first: number; highest: number }>;
  markReceived: number;
  markExpected: number;
}
const viewers: Counted[] = [];
let failed = 0;
/** First arrival of each packet (RTP timestamp and sequence number) in this process, ms. */
const firstArrival = new Map<number, number>();
let delays = new Float64Array(1 << 16);
let nDelays = 0;

function onVideo(v: Counted, data: Buffer): void {
  const now = performance.now();
  const seq = data.readUInt16BE(2);
  const ts = data.readUInt32BE(4);
  const key = ts * 65536 + seq;
  v.video++;

  const ssrc = data.readUInt32BE(8);
  const s = v.seqs.get(ssrc);
  if (!s) v.seqs.set(ssrc, { first: seq, highest: seq });
  else {
    const d = (seq - (s.highest & 0xffff)) & 0xffff;
    if (d < 0x8000) s.highest += d;
  }
  if (videoLines > 1) return;
  const t0 = firstArrival.get(key);
  if (t0 === undefined) {
    firstArrival.set(key, now);
    if (firstArrival.size > 16384) firstArrival.delete(firstArrival.keys().next().value as number);
  } else {
    if (nDelays === delays.length) {
      const bigger = new Float64Array(delays.length * 2);
      bigger.set(delays);
      delays = bigger;
    }
    delays[nDelays++] = now - t0;
  }
}

function p95(values: Float64Array, n: number): number | null {
  if (!n) return null;
  const a = values.subarray(0, n).sort();
  return Math.round(a[Math.min(n - 1, Math.floor(n * 0.95))] * 100) / 100;
}

const rl = readline.createInterface({ input: process.stdin });
for await (const line of rl) {
  const [cmd, arg] = line.trim().split(/\s+/);
  if (cmd === 'add') {
    const n = Number(arg);
    for (let i = 0; i < n; i += 5) {
      const batch = await Promise.allSettled(
        Array.from({ length: Math.min(5, n - i) }, () => WhepRtpClient.connect({ url, codec: codec as VideoCodecName, videoLines })),
      );
      for (const r of batch) {
        if (r.status !== 'fulfilled') {
          failed++;
          continue;
        }
        const v: Counted = { client: r.value, video: 0, audio: 0, seqs: new Map(), markReceived: 0, markExpected: 0 };
        r.value.on('video', (rtp) => onVideo(v, rtp.serialize()));
        r.value.on('audio', () => v.audio++);
        countClearText(r.value, (data) => ((data[1] & 0x7f) === videoPt ? onVideo(v, data) : v.audio++));
        viewers.push(v);
      }
    }
    console.log(JSON.stringify({ viewers: viewers.length, failed }));
  } else if (cmd === 'report') {
    const received: number[] = [];
    const expected: number[] = [];
    for (const v of viewers) {
      let exp = 0;
      for (const s of v.seqs.values()) exp += s.highest - s.first + 1;
      received.push(v.video - v.markReceived);
      expected.push(exp - v.markExpected);
      v.markReceived = v.video;
      v.markExpected = exp;
    }
    const delayP95Ms = p95(delays, nDelays);
    nDelays = 0;
    console.log(JSON.stringify({ video: viewers.map((v) => v.video), audio: viewers.map((v) => v.audio), received, expected, delayP95Ms }));
  } else if (cmd === 'quit') break;
}
await Promise.all(viewers.map((v) => v.client.close()));
process.exit(0);
