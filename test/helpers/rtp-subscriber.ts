// A WHEP subscriber at the RTP level (werift): counts packets and keyframes without decoding,
// sends PLIs on demand, and can offer only H.264 (a device that decodes nothing else).

import { RTCPeerConnection, RTCRtpCodecParameters, type RtpPacket } from 'werift';
import { isH264KeyframeStart, isVp8KeyframeStart } from '../../pipeline/rtp/Continuity.ts';

const FB = [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'goog-remb' }];

export interface RtpSubscriber {
  location: string;
  answer: string;
  packets: RtpPacket[];
  keyframeTimes: number[];
  videoPackets(): number;
  audioPackets(): number;
  sendPli(): void;
  close(): Promise<void>;
}

export async function startRtpSubscriber(url: string, codec: 'VP8' | 'H264', keep = false): Promise<RtpSubscriber> {
  const video =
    codec === 'H264'
      ? new RTCRtpCodecParameters({ mimeType: 'video/H264', clockRate: 90000, rtcpFeedback: FB, parameters: 'profile-level-id=42e01f;packetization-mode=1;level-asymmetry-allowed=1' })
      : new RTCRtpCodecParameters({ mimeType: 'video/VP8', clockRate: 90000, rtcpFeedback: FB });
  const pc = new RTCPeerConnection({
    codecs: { video: [video], audio: [new RTCRtpCodecParameters({ mimeType: 'audio/opus', clockRate: 48000, channels: 2 })] },
  });
  const vt = pc.addTransceiver('video', { direction: 'recvonly' });
  const at = pc.addTransceiver('audio', { direction: 'recvonly' });
  const packets: RtpPacket[] = [];
  const keyframeTimes: number[] = [];
  let nVideo = 0;
  let nAudio = 0;
  let mediaSsrc = 0;
  vt.onTrack.subscribe((track) => {
    track.onReceiveRtp.subscribe((rtp) => {
      nVideo++;
      mediaSsrc = rtp.header.ssrc;
      const buf = rtp.serialize();
      if (codec === 'H264' ? isH264KeyframeStart(buf) : isVp8KeyframeStart(buf)) keyframeTimes.push(performance.now());
      if (keep) packets.push(rtp);
    });
  });
  at.onTrack.subscribe((track) => track.onReceiveRtp.subscribe(() => nAudio++));
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise<void>((resolve) => {
    if (pc.iceGatheringState === 'complete') return resolve();
    const t = setTimeout(resolve, 3000);
    pc.iceGatheringStateChange.subscribe((s) => {
      if (s === 'complete') {
        clearTimeout(t);
        resolve();
      }
    });
  });
  const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: pc.localDescription!.sdp });
  const answer = await res.text();
  if (res.status !== 201) throw new Error(`HTTP ${res.status}: ${answer}`);
  const location = new URL(res.headers.get('Location')!, url).toString();
  await pc.setRemoteDescription({ type: 'answer', sdp: answer });
  let closed = false;
  return {
    location,
    answer,
    packets,
    keyframeTimes,
    videoPackets: () => nVideo,
    audioPackets: () => nAudio,
    sendPli: () => {
      if (mediaSsrc) void vt.receiver.sendRtcpPLI(mediaSsrc);
    },
    async close() {
      if (closed) return;
      closed = true;
      await fetch(location, { method: 'DELETE' }).catch(() => {});
      await pc.close();
    },
  };
}

/** Annex-B H.264 elementary stream from RTP packets (single NAL, STAP-A, FU-A; RFC 6184). */
export function depacketizeH264(packets: RtpPacket[]): Buffer {
  const start = Buffer.from([0, 0, 0, 1]);
  const out: Buffer[] = [];
  let fu: Buffer[] = [];
  // Loopback delivers in order; packets are taken as they came.
  for (const p of packets) {
    const pl = p.payload;
    const type = pl[0] & 0x1f;
    if (type >= 1 && type <= 23) out.push(start, pl);
    else if (type === 24) {
      for (let i = 1; i + 2 <= pl.length; ) {
        const size = pl.readUInt16BE(i);
        out.push(start, pl.subarray(i + 2, i + 2 + size));
        i += 2 + size;
      }
    } else if (type === 28) {
      const s = pl[1] & 0x80;
      const e = pl[1] & 0x40;
      if (s) fu = [Buffer.from([(pl[0] & 0xe0) | (pl[1] & 0x1f)])];
      fu.push(pl.subarray(2));
      if (e && fu.length) {
        out.push(start, Buffer.concat(fu));
        fu = [];
      }
    }
  }
  return Buffer.concat(out);
}

