// The RTCP a publisher's encoder and bandwidth estimator need from us, on its DTLS transports:
// NACKs, keyframe requests (PLI, or FIR if that is all it offered; rate-limited per SSRC),
// transport-wide CC feedback and receiver reports (LSR/DLSR from its sender reports).

import { randomInt } from 'node:crypto';
import {
  GenericNack,
  PictureLossIndication,
  RtcpPayloadSpecificFeedback,
  RtcpReceiverInfo,
  RtcpRrPacket,
  RtcpTransportLayerFeedback,
} from 'werift';
import { TwccFeedback } from '../../../pipeline/rtp/TwccFeedback.ts';
import type { ReportBlock } from '../../../pipeline/rtp/ReceiveStats.ts';

const KEYFRAME_MIN_GAP_MS = 300;

export class PublisherFeedback {
  readonly rtcpSsrc = randomInt(1, 0xffffffff);
  private readonly transports = new Set<any>();
  private readonly twcc = new Map<any, TwccFeedback>();
  /** Last keyframe request per media SSRC (simulcast layers are asked separately). */
  private readonly lastKeyRequestAt = new Map<number, number>();
  /** The publisher's last sender report per SSRC: the middle of its NTP time, and when it came. */
  private readonly lastSr = new Map<number, { ntpMid: number; at: number }>();
  pliSent = 0;
  firSent = 0;
  nackPacketsSent = 0;

  /** Takes a DTLS transport (once each); returns false if it already had it. */
  addTransport(dtls: any): boolean {
    if (this.transports.has(dtls)) return false;
    this.transports.add(dtls);
    this.twcc.set(dtls, new TwccFeedback(this.rtcpSsrc));
    return true;
  }

  /** Notes a packet's transport-wide sequence number for the TWCC feedback of its transport. */
  recordTwcc(dtls: any, seq: number, nowUs: number): void {
    this.twcc.get(dtls)!.record(seq, nowUs);
  }

  /** Sends each transport's TWCC feedback (about `mediaSsrc`, when known). */
  sendTwcc(mediaSsrc: number | undefined): void {
    for (const [dtls, fb] of this.twcc) {
      if (mediaSsrc !== undefined) fb.setMediaSsrc(mediaSsrc);
      const pkt = fb.build();
      if (pkt) this.sendRaw(dtls, pkt);
    }
  }

  /** A sender report from the publisher (for the LSR/DLSR of our receiver reports). */
  onSenderReport(ssrc: number, ntpTimestamp: bigint | number, now: number): void {
    const ntp = BigInt(ntpTimestamp);
    this.lastSr.set(ssrc, { ntpMid: Number((ntp >> 16n) & 0xffffffffn), at: now });
  }

  /** Asks for a keyframe on `ssrc`; false if rate-limited or there is no transport yet. */
  requestKeyframe(ssrc: number, usePli: boolean, now: number): boolean {
    if (now - (this.lastKeyRequestAt.get(ssrc) ?? -Infinity) < KEYFRAME_MIN_GAP_MS) return false;
    this.lastKeyRequestAt.set(ssrc, now);
    const dtls = this.firstTransport();
    if (!dtls) return false;
    if (usePli) {
      this.pliSent++;
      void dtls.sendRtcp([new RtcpPayloadSpecificFeedback({ feedback: new PictureLossIndication({ senderSsrc: this.rtcpSsrc, mediaSsrc: ssrc }) })]).catch(() => {});
    } else {
      this.firSent++;
      const fir = Buffer.alloc(20);
      fir[0] = 0x80 | 4;
      fir[1] = 206;
      fir.writeUInt16BE(4, 2);
      fir.writeUInt32BE(this.rtcpSsrc >>> 0, 4);
      fir.writeUInt32BE(ssrc >>> 0, 12);
      fir[16] = this.firSent & 0xff;
      this.sendRaw(dtls, fir);
    }
    return true;
  }

  sendNack(ssrc: number, seqs: number[]): void {
    const dtls = this.firstTransport();
    if (!dtls) return;
    this.nackPacketsSent++;
    const nack = new GenericNack({ senderSsrc: this.rtcpSsrc, mediaSourceSsrc: ssrc, lost: seqs });
    void dtls.sendRtcp([new RtcpTransportLayerFeedback({ feedback: nack })]).catch(() => {});
  }

  /** One receiver report block per stream (at most 31). */
  sendReceiverReports(streams: Array<{ report(): ReportBlock }>, now: number): void {
    const dtls = this.firstTransport();
    if (!dtls) return;
    const reports = streams.slice(0, 31).map((s) => {
      const r = s.report();
      const sr = this.lastSr.get(r.ssrc);
      return new RtcpReceiverInfo({
        ssrc: r.ssrc,
        fractionLost: r.fractionLost,
        packetsLost: r.packetsLost,
        highestSequence: r.highestSequence,
        jitter: r.jitter,
        lsr: sr?.ntpMid ?? 0,
        dlsr: sr ? Math.round(((now - sr.at) / 1000) * 65536) : 0,
      });
    });
    if (!reports.length) return;
    void dtls.sendRtcp([new RtcpRrPacket({ ssrc: this.rtcpSsrc, reports })]).catch(() => {});
  }

  /** Round-trip time of the ICE pair (consent checks), ms. */
  rttMs(): number | null {
    const rtt = this.firstTransport()?.iceTransport?.connection?.nominated?.rtt;
    return typeof rtt === 'number' && rtt > 0 ? rtt * 1000 : null;
  }

  get twccFeedbackSent(): number {
    let n = 0;
    for (const fb of this.twcc.values()) n += fb.packetsSent;
    return n;
  }

  private firstTransport(): any {
    return [...this.transports][0];
  }

  private sendRaw(dtls: any, buf: Buffer): void {
    void dtls.sendRtcp([{ serialize: () => buf }]).catch(() => {});
  }
}
