// Probe: 200 concurrent WHIP POSTs to a full room, N rounds; client CPU and server CPU per round.
import { RTCPeerConnection, RTCRtpCodecParameters } from 'werift';
import '../workers/weriftDtlsFix.ts';
import { audioFixture, videoFixture } from '../bench/lib/fixtures.ts';
import { RtpPublisher } from '../bench/lib/RtpPublisher.ts';
import { startServerProc } from '../bench/lib/server-proc.ts';
import { pct } from '../bench/lib/stats.ts';
import http from 'node:http';
import { Worker } from 'node:worker_threads';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function publishOffer() {
  const pc = new RTCPeerConnection({ codecs: { audio: [new RTCRtpCodecParameters({ mimeType: 'audio/opus', clockRate: 48000, channels: 2 })], video: [new RTCRtpCodecParameters({ mimeType: 'video/VP8', clockRate: 90000 })] } });
  pc.addTransceiver('audio', { direction: 'sendonly' });
  pc.addTransceiver('video', { direction: 'sendonly' });
  await pc.setLocalDescription(await pc.createOffer());
  const sdp = pc.localDescription!.sdp; await pc.close(); return sdp;
}
const ROUNDS = Number(process.env.ROUNDS ?? 6);
// PROBE_GC=1: the server as e2e/admission starts it (--expose-gc and its GC-on-signal preload).
const gcArgs = process.env.PROBE_GC === '1' ? ['--expose-gc', '--import', new URL('../test/helpers/gc-on-signal.mjs', import.meta.url).pathname] : [];
const server = await startServerProc({ ROOM_IDLE_MS: '60000', MAX_PARTICIPANTS_PER_ROOM: '2' }, gcArgs);
const room = `full-${process.pid}`;
const pubs: RtpPublisher[] = [];
try {
  const audio = await audioFixture('tone');
  for (const c of [[220, 40, 40], [40, 180, 40]] as any) pubs.push(await RtpPublisher.whip(`${server.url}/rooms/${room}/whip`, await videoFixture(c), audio));
  const offer = await publishOffer();
  // PROBE_CLIENT=http: the POSTs through node:http (a cheaper load generator) instead of fetch.
  const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
  const viaHttp = () => new Promise<number>((resolve, reject) => {
    const req = http.request(`${server.url}/rooms/${room}/whip`, { method: 'POST', agent, headers: { 'Content-Type': 'application/sdp', 'Content-Length': Buffer.byteLength(offer) } }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode!)); });
    req.on('error', reject); req.end(offer);
  });
  const post = process.env.PROBE_CLIENT === 'http' ? viaHttp : async () => { const res = await fetch(`${server.url}/rooms/${room}/whip`, { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: offer }); await res.text(); return res.status; };
  await Promise.all(Array.from({ length: 200 }, post));
  await sleep(1000);
  for (let r = 0; r < ROUNDS; r++) {
    const w = new Worker(`const { parentPort, workerData } = require('node:worker_threads'); const xs = []; let on = true; parentPort.on('message', () => { on = false; });
      (async () => { while (on) { const t = performance.now(); await (await fetch(workerData + '/healthz')).arrayBuffer(); xs.push(performance.now() - t); await new Promise((r) => setTimeout(r, 10)); } parentPort.postMessage(xs); })();`, { eval: true, workerData: server.url });
    const wres = new Promise<number[]>((r) => w.once('message', r));
    let polling = true; const health: number[] = [];
    const poller = (async () => { while (polling) { const t = performance.now(); await (await fetch(`${server.url}/healthz`)).arrayBuffer(); health.push(performance.now() - t); await sleep(10); } })();
    await sleep(100);
    const c0 = server.cpu(); const u0 = process.cpuUsage(); const t0 = performance.now();
    const st = await Promise.all(Array.from({ length: 200 }, post));
    const ms = performance.now() - t0; const u1 = process.cpuUsage(u0); const c1 = server.cpu();
    await sleep(200); polling = false; await poller; w.postMessage('stop'); const th = await wres; await w.terminate();
    const by: Record<number, number> = {}; for (const s of st) by[s] = (by[s] ?? 0) + 1;
    console.log(`round ${r}: ${JSON.stringify(by)} in ${ms.toFixed(0)} ms; server cpu ${((c1.node - c0.node) * 1000).toFixed(0)} ms, client cpu ${((u1.user + u1.system) / 1000).toFixed(0)} ms; healthz p95 ${pct(health, 95).toFixed(1)} max ${Math.max(...health).toFixed(1)} n=${health.length}; thread-poller p95 ${pct(th, 95).toFixed(1)} max ${Math.max(...th).toFixed(1)} n=${th.length}; load ${(await import('node:os')).loadavg()[0].toFixed(2)}`);
    await sleep(1000);
  }
} finally { for (const p of pubs) await p.close(); await server.stop(); }
process.exit(0);
