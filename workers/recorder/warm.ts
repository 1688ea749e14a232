// What a fresh recording worker warms before it takes its first job, so that job starts
// writing as soon as later ones: the FFmpeg binary and its libraries (a first spawn reads
// them from disk), werift's DTLS certificate (made once per process, on the first peer
// connection), its ICE gathering and a whole ICE + DTLS handshake (two peer connections on
// loopback: a first handshake's crypto and code paths cost ~300 ms more than later ones), fetch
// (undici loads on its first request), and the code paths JIT-compiled on first use.

import http from 'node:http';
import { RTCPeerConnection } from 'werift';
import '../weriftDtlsFix.ts'; // werift's DTLS client survives a repeated HelloVerifyRequest
import { FfmpegProcess } from '../ffmpeg/FfmpegProcess.ts';
import { iceGathered } from '../iceGathering.ts';

async function warmFfmpeg(): Promise<void> {
  const p = new FfmpegProcess('recorder-warm-up', {
    globalOptions: ['-hide_banner', '-nostats', '-loglevel', 'error', '-nostdin'],
    inputs: [{ url: 'anullsrc=r=48000:cl=stereo', options: ['-f', 'lavfi', '-t', '0.1'] }],
    filterComplex: '',
    outputs: [{ url: '-', options: ['-c:a', 'libopus', '-f', 'webm'] }, { url: '-', options: ['-c:a', 'aac', '-f', 'mp4', '-movflags', '+empty_moov+frag_keyframe'] }],
  });
  await p.exited;
}

async function warmWebrtc(): Promise<void> {
  const offerer = new RTCPeerConnection({});
  const answerer = new RTCPeerConnection({});
  try {
    offerer.addTransceiver('video', { direction: 'recvonly' });
    offerer.addTransceiver('audio', { direction: 'recvonly' });
    await offerer.setLocalDescription(await offerer.createOffer());
    await iceGathered(offerer, 3000);
    await answerer.setRemoteDescription(offerer.localDescription!);
    await answerer.setLocalDescription(await answerer.createAnswer());
    await iceGathered(answerer, 3000);
    const connected = (pc: RTCPeerConnection) =>
      new Promise<void>((resolve) => {
        if (pc.connectionState === 'connected') return resolve();
        const sub = pc.connectionStateChange.subscribe((state) => {
          if (state === 'connected' || state === 'failed' || state === 'closed') (sub.unSubscribe(), resolve());
        });
      });
    const both = Promise.all([connected(offerer), connected(answerer)]);
    await offerer.setRemoteDescription(answerer.localDescription!);
    await both;
  } finally {
    await Promise.allSettled([offerer.close(), answerer.close()]);
  }
}

/** One request with fetch, as the WHEP exchange makes (to a server of its own on loopback). */
async function warmFetch(): Promise<void> {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(201, { Location: '/x', 'Content-Type': 'application/sdp' }).end('v=0'));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const { port } = server.address() as { port: number };
    await (await fetch(`http://127.0.0.1:${port}/`, { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: 'v=0', signal: AbortSignal.timeout(3000) })).text();
  } finally {
    server.closeAllConnections();
    server.close();
  }
}

/** Warms them all; never throws (a failure here shows again, with its cause, in the first job). Returns how long it took (ms). */
export async function warmUp(timeoutMs = 5000): Promise<number> {
  const t0 = performance.now();
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.allSettled([warmFfmpeg(), warmWebrtc(), warmFetch()]),
    new Promise<void>((r) => {
      timer = setTimeout(r, timeoutMs);
    }),
  ]);
  clearTimeout(timer);
  return Math.round(performance.now() - t0);
}
