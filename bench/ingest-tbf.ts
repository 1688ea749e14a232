// A libwebrtc publisher (wrtc, noise picture: the encoder's worst case) behind a 300 kbit/s tbf
// in a network namespace, into the old ingest (libwebrtc receiver) and into the new one
// (werift + TWCC/NACK/RR from pipeline/rtp), one after the other in one run: what reaches the
// server (bitrate, loss after repairs) and what the publisher's bandwidth estimator makes of it.
//   flock /work/heavy.lock npx tsx bench/ingest-tbf.ts      (root; writes bench/results/ingest-tbf.json)

import http from 'node:http';
import { spawn } from 'node:child_process';
import { Ingest } from '../server/rtc/Ingest.ts';
import { WrtcIngest } from './lib/WrtcIngest.ts';
import { createTestHost, netnsAvailable } from '../test/helpers/netns.ts';
import { ingestCounters } from '../pipeline/quality/figures.ts';
import { machine, writeResult } from './lib/stats.ts';

if (!netnsAvailable()) {
  console.log('skipped: needs root and ip netns');
  process.exit(0);
}
const SETTLE_MS = 8000;
const WINDOW_MS = 10_000;
const host = createTestHost(7);
host.limitEgress(300);

async function run(kind: 'wrtc' | 'werift') {
  let counters: () => Promise<{ bytes: number; packets: number; lost: number }> = async () => ({ bytes: 0, packets: 0, lost: 0 });
  let close = async () => {};
  const server = http.createServer(async (req, res) => {
    if (req.method === 'DELETE') return void res.writeHead(200).end();
    let body = '';
    for await (const c of req) body += c;
    if (kind === 'werift') {
      const { ingest, answer } = await Ingest.answer(body, { slotSize: { width: 640, height: 360 }, name: 'tbf' });
      counters = async () => {
        const s = ingest.stats();
        return { bytes: (s.video?.bytes ?? 0) + (s.audio?.bytes ?? 0), packets: (s.video?.packets ?? 0) + (s.audio?.packets ?? 0), lost: (s.video?.packetsLost ?? 0) + (s.audio?.packetsLost ?? 0) };
      };
      close = () => ingest.close();
      res.writeHead(201, { 'Content-Type': 'application/sdp', Location: '/s/1' }).end(answer);
    } else {
      const { ingest, answer } = await WrtcIngest.answer(body);
      counters = async () => {
        const c = ingestCounters([...(await ingest.pc.getStats()).values()], Date.now()).counters;
        return { bytes: c.bytes, packets: c.packets, lost: c.packetsLost };
      };
      close = async () => ingest.close();
      res.writeHead(201, { 'Content-Type': 'application/sdp', Location: '/s/1' }).end(answer);
    }
  });
  await new Promise<void>((r) => server.listen(0, '0.0.0.0', r));
  const port = (server.address() as any).port;
  const [cmd, ...args] = host.exec([process.execPath, '--import', 'tsx', 'test/helpers/publish-cli.ts', `http://${host.hostAddress}:${port}/whip`, 'noise']);
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  const a = await counters();
  await new Promise((r) => setTimeout(r, WINDOW_MS));
  const b = await counters();
  child.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 500));
  child.kill('SIGKILL');
  await close();
  server.close();
  const got = b.packets - a.packets;
  const lost = b.lost - a.lost;
  return { ingest: kind, kbps: Math.round(((b.bytes - a.bytes) * 8) / (WINDOW_MS / 1000) / 1000), lossPercent: Math.round((1000 * lost) / Math.max(1, lost + got)) / 10 };
}

try {
  const results = [await run('wrtc'), await run('werift')];
  for (const r of results) console.log(`${r.ingest.padEnd(6)}: ${r.kbps} kbps received, ${r.lossPercent} % lost after repairs (seconds ${SETTLE_MS / 1000}-${(SETTLE_MS + WINDOW_MS) / 1000})`);
  writeResult('ingest-tbf', false, { machine: machine(), rateKbit: 300, results });
} finally {
  host.cleanup();
}
process.exit(0);
