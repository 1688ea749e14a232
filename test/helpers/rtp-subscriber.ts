// A WHEP subscriber at the RTP level (werift): counts packets and keyframes without decoding,
// sends PLIs on demand, and can offer only H.264 (a device that decodes nothing else).

import type { RtpPacket } from 'werift';
import { isH264KeyframeStart, isVp8KeyframeStart } from '../../pipeline/rtp/Continuity.ts';
import { WhepRtpClient } from '../../workers/clients/WhepRtpClient.ts';

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
  const client = await WhepRtpClient.connect({ url, codec });
  const packets: RtpPacket[] = [];
  const keyframeTimes: number[] = [];
  client.on('video', (rtp) => {
    const buf = rtp.serialize();
    if (codec === 'H264' ? isH264KeyframeStart(buf) : isVp8KeyframeStart(buf)) keyframeTimes.push(performance.now());
    if (keep) packets.push(rtp);
  });
  return {
    location: client.location,
    answer: client.answer,
    packets,
    keyframeTimes,
    videoPackets: () => client.videoPackets,
    audioPackets: () => client.audioPackets,
    sendPli: () => client.requestKeyframe(),
    close: () => client.close(),
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

