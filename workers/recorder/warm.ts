// What a fresh recording worker warms before it takes its first job, so that job starts
// writing as soon as later ones: the FFmpeg binary and its libraries (a first spawn reads
// them from disk), werift's DTLS certificate (made once per process, on the first peer
// connection) and its ICE gathering, and the code paths JIT-compiled on first use.

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
  const pc = new RTCPeerConnection({});
  try {
    pc.addTransceiver('video', { direction: 'recvonly' });
    pc.addTransceiver('audio', { direction: 'recvonly' });
    await pc.setLocalDescription(await pc.createOffer());
    await iceGathered(pc, 3000);
  } finally {
    await pc.close().catch(() => {});
  }
}

/** Warms both; never throws (a failure here shows again, with its cause, in the first job). Returns how long it took (ms). */
export async function warmUp(timeoutMs = 5000): Promise<number> {
  const t0 = performance.now();
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.allSettled([warmFfmpeg(), warmWebrtc()]),
    new Promise<void>((r) => {
      timer = setTimeout(r, timeoutMs);
    }),
  ]);
  clearTimeout(timer);
  return Math.round(performance.now() - t0);
}
