// A WHEP subscriber of individual tracks (?tracks=N) at the RTP level (werift): N recvonly
// video m-lines and one audio, every packet kept with its arrival time, per MID. Also follows
// the room's SSE events, so a test knows which participant each slot shows and when it changed.

import { RTCPeerConnection, RTCRtpCodecParameters, type RtpPacket } from 'werift';
import '../../workers/weriftDtlsFix.ts'; // werift's DTLS client survives a repeated HelloVerifyRequest
import { exchangeSdp } from '../../workers/clients/webrtc.ts';
import { vp8Payload } from '../../pipeline/rtp/depacketize.ts';

export interface ReceivedFrame {
  /** Arrival of its first and last packet (performance.now). */
  firstAt: number;
  lastAt: number;
  timestamp: number;
  keyframe: boolean;
  /** The VP8 frame, depacketized (null while a packet is missing). */
  data: Buffer | null;
}

export class TracksSubscriber {
  readonly pc = new RTCPeerConnection({
    codecs: {
      video: [new RTCRtpCodecParameters({ mimeType: 'video/VP8', clockRate: 90000, payloadType: 96, rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }] })],
      audio: [new RTCRtpCodecParameters({ mimeType: 'audio/opus', clockRate: 48000, channels: 2, payloadType: 111 })],
    },
  });
  /** Packets per MID, in arrival order. */
  readonly packets = new Map<string, Array<{ at: number; rtp: RtpPacket }>>();
  audioPackets = 0;
  location = '';
  mids: string[] = [];

  static async connect(url: string, tracks: number): Promise<TracksSubscriber> {
    const s = new TracksSubscriber();
    const { pc } = s;
    const at = pc.addTransceiver('audio', { direction: 'recvonly' });
    at.onTrack.subscribe((track) => track.onReceiveRtp.subscribe(() => s.audioPackets++));
    const vts = Array.from({ length: tracks }, () => pc.addTransceiver('video', { direction: 'recvonly' }));
    await pc.setLocalDescription(await pc.createOffer());
    // Before the answer: werift fires onTrack while applying it.
    s.mids = vts.map((t) => t.mid!);
    for (const t of vts) {
      const list: Array<{ at: number; rtp: RtpPacket }> = [];
      s.packets.set(t.mid!, list);
      t.onTrack.subscribe((track) => track.onReceiveRtp.subscribe((rtp) => list.push({ at: performance.now(), rtp })));
    }
    await new Promise<void>((resolve) => {
      if (pc.iceGatheringState === 'complete') return resolve();
      const t = setTimeout(resolve, 3000);
      pc.iceGatheringStateChange.subscribe((st) => st === 'complete' && (clearTimeout(t), resolve()));
    });
    const { answer, location } = await exchangeSdp(url, pc.localDescription!.sdp);
    s.location = location;
    await pc.setRemoteDescription({ type: 'answer', sdp: answer });
    return s;
  }

  /** The frames of one MID since `from` (by arrival), depacketized, in RTP timestamp order of arrival. */
  frames(mid: string, from = 0): ReceivedFrame[] {
    const byTs = new Map<number, Array<{ at: number; rtp: RtpPacket }>>();
    const order: number[] = [];
    for (const p of this.packets.get(mid) ?? []) {
      if (p.at < from) continue;
      const ts = p.rtp.header.timestamp;
      if (!byTs.has(ts)) {
        byTs.set(ts, []);
        order.push(ts);
      }
      byTs.get(ts)!.push(p);
    }
    return order.map((ts) => {
      const seen = new Map<number, { at: number; rtp: RtpPacket }>();
      for (const p of byTs.get(ts)!) seen.set(p.rtp.header.sequenceNumber, p); // duplicates (retransmissions) once
      const ps = [...seen.values()].sort((a, b) => ((a.rtp.header.sequenceNumber - b.rtp.header.sequenceNumber + 0x8000) & 0xffff) - 0x8000);
      const parts = ps.map((p) => vp8Payload(p.rtp.payload));
      const contiguous = ps.every((p, i) => i === 0 || ((p.rtp.header.sequenceNumber - ps[i - 1].rtp.header.sequenceNumber) & 0xffff) === 1);
      const complete = contiguous && parts[0]?.begin === true && ps[ps.length - 1].rtp.header.marker && parts.every((x) => x);
      return {
        firstAt: Math.min(...ps.map((p) => p.at)),
        lastAt: Math.max(...ps.map((p) => p.at)),
        timestamp: ts,
        keyframe: parts[0]?.keyframe ?? false,
        data: complete ? Buffer.concat(parts.map((x) => x!.data)) : null,
      };
    });
  }

  async close(): Promise<void> {
    if (this.location) await fetch(this.location, { method: 'DELETE' }).catch(() => {});
    await this.pc.close().catch(() => {});
  }
}

/** The room's SSE events as they come ({type, data, at}). */
export class RoomEvents {
  readonly events: Array<{ type: string; data: any; at: number }> = [];
  private readonly ctrl = new AbortController();
  private done: Promise<void> = Promise.resolve();

  static async follow(url: string): Promise<RoomEvents> {
    const e = new RoomEvents();
    const res = await fetch(url, { signal: e.ctrl.signal });
    const reader = res.body!.getReader();
    const dec = new TextDecoder();
    let buf = '';
    e.done = (async () => {
      for (;;) {
        const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
        if (done) break;
        buf += dec.decode(value, { stream: true });
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const type = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (type && data) e.events.push({ type, data: JSON.parse(data), at: performance.now() });
        }
      }
    })();
    return e;
  }

  async close(): Promise<void> {
    this.ctrl.abort();
    await this.done;
  }
}
