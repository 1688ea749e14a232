// One outgoing track of a subscriber's connection: the mix's (or a publisher's) RTP rewritten
// continuous across source switches (video gated on a first keyframe), sent through
// native/srtpfan once DTLS is up (FastSend.ts) or werift's sender, with the NACK history, the
// sender-report clock and what the subscriber's receiver reports say of it.

import { MediaStreamTrack } from 'werift';
import { ContinuousStream, writeSeqTs } from '../../../pipeline/rtp/Continuity.ts';
import { LossWindow } from '../../../pipeline/rtp/LossWindow.ts';
import { ntpFromUnixMs, SenderReportClock } from '../../../pipeline/rtp/SenderReportClock.ts';
import { FastTrackHistory, type FastTransport } from '../FastSend.ts';
import { addHeaderExtension } from '../../../pipeline/rtp/PlayoutDelay.ts';

/**
 * MIX_SR_CLOCK=content: the mix's sender reports map RTP time to when its content was captured
 * (the mixer's writes less the age of what they carry, one clock for both kinds); default
 * `send`: to when each packet left (docs/AUDIO-PATH.md, "Sender reports": content measured
 * as close as a direct call's lip sync, same latency, in too few runs to switch).
 */
const CONTENT_SR = process.env.MIX_SR_CLOCK === 'content';

/** One outgoing track: continuity across source switches, gated on a first keyframe for video. */
export class ForwardedTrack {
  readonly track: MediaStreamTrack;
  private readonly stream: ContinuousStream;
  packets = 0;
  bytes = 0;
  /** Frames forwarded (RTP marker bit ends a video frame). */
  frames = 0;
  firstPacketAt = 0;
  sender: any = null;
  /** Interarrival jitter the subscriber last reported for this track, ms. */
  remoteJitterMs: number | null = null;
  /** The subscriber's receiver reports for this track: loss over the last few seconds. */
  private readonly loss = new LossWindow();

  onReceiverReport(report: { packetsLost: number; highestSequence: number; jitter: number }, clockRate: number): void {
    this.remoteJitterMs = (report.jitter / clockRate) * 1000;
    this.loss.add(report.packetsLost, report.highestSequence, performance.now());
  }

  /** Forget earlier reports: after a rung switch they describe another stream (LossWindow.reset). */
  resetFeedback(): void {
    this.loss.reset(this.lastSeq === null ? null : this.lastSeq + 1);
  }

  /** Sequence number of the last packet forwarded (null: none yet). */
  private lastSeq: number | null = null;

  /** Video codec of this track ('vp8' | 'h264'); decides how keyframes are recognised. */
  get codec(): 'vp8' | 'h264' {
    return this.stream.codec;
  }
  set codec(c: 'vp8' | 'h264') {
    this.stream.codec = c;
  }

  /** The NTP ↔ RTP mapping of this track's sender reports (see SenderReportClock). */
  private readonly srClock: SenderReportClock;
  /** Packets came with their content instant: a packet without one keeps the last mapping. */
  private contentMapped = false;

  constructor(readonly kind: 'audio' | 'video') {
    this.track = new MediaStreamTrack({ kind });
    this.stream = new ContinuousStream(kind);
    this.srClock = new SenderReportClock(kind === 'audio' ? 48000 : 90000);
  }

  /** The playout-delay extension the subscriber negotiated and its value (PlayoutDelay.ts), put on each keyframe. */
  playoutDelay: { id: number; data: Buffer } | null = null;

  /** Set once DTLS is up and native/srtpfan takes this track's RTP (null: werift's path). */
  fast: FastTransport | null = null;
  private history: FastTrackHistory | null = null;

  /**
   * `contentAt`: where the packet's content stands on the mixer's content clock (performance.now():
   * the write's instant less the age of what it carried, for audio and video alike; RoomMixer);
   * its sender reports then map the RTP timestamp to that instant. Without it (forwarded publisher tracks), to the send time (SenderReportClock).
   */
  forward(source: string, packet: Buffer, contentAt: number | null = null): boolean {
    if (!CONTENT_SR) contentAt = null;
    const r = this.stream.rewrite(source, packet, performance.now());
    if (!r) return false;
    if (this.playoutDelay && this.kind === 'video' && this.stream.isKeyframeStart(packet)) {
      packet = addHeaderExtension(packet, this.playoutDelay.id, this.playoutDelay.data);
    }
    this.lastSeq = r.sequenceNumber;
    const s = this.sender;
    if (this.fast && this.dropForTest > 0 && s?.codec) {
      // Fault injection (tests): kept in the history as sent, never put on the wire.
      this.dropForTest--;
      this.droppedForTest.push(r.sequenceNumber);
      this.history!.put(r.sequenceNumber, r.timestamp, packet);
    } else if (this.fast && s?.codec && this.fast.send(packet, s.ssrc, s.codec.payloadType, r.sequenceNumber, r.timestamp)) {
      // What werift's sender would have done: NACK history, and the counters its SRs carry.
      this.history!.put(r.sequenceNumber, r.timestamp, packet);
      s.rtpTimestamp = r.timestamp;
      s.packetCount = (s.packetCount + 1) >>> 0;
      s.octetCount += packet.length - 12;
    } else {
      const copy = Buffer.from(packet);
      writeSeqTs(copy, r);
      this.track.writeRtp(copy);
    }
    // The SR announces our clock, not werift's ntpTime(): a right NTP fraction, and for the mix
    // the instant its content was captured, so audio and video (two ingest paths, two FFmpegs,
    // each with its own delay) map to one content clock and the subscriber's lip sync lines up
    // what was captured together. Otherwise the send time without its jitter (werift's sender or the fast path has
    // just noted the packet's RTP timestamp).
    if (s && typeof s.rtpTimestamp === 'number') {
      if (contentAt !== null) s.ntpTimestamp = ntpFromUnixMs(performance.timeOrigin + contentAt);
      else if (!this.contentMapped) s.ntpTimestamp = ntpFromUnixMs(this.srClock.map(s.rtpTimestamp, performance.timeOrigin + performance.now()));
      if (contentAt !== null) this.contentMapped = true;
    }
    this.packets++;
    this.bytes += packet.length;
    if (packet[1] & 0x80) this.frames++;
    if (!this.firstPacketAt) this.firstPacketAt = Date.now();
    return true;
  }

  /** Moves this track to the fast path (idempotent). */
  useFastPath(transport: FastTransport): void {
    if (this.fast || !this.sender) return;
    this.fast = transport;
    this.history = new FastTrackHistory();
    // werift starts its SR loop on its first send; this track's sends no longer pass it.
    void this.sender.runRtcp();
  }

  /** Resends what a NACK asks for, from this track's fast-path history. */
  retransmit(lost: number[]): number {
    const s = this.sender;
    if (!this.fast || !this.history || !s?.codec) return 0;
    let n = 0;
    for (const seq of lost) {
      const h = this.history.get(seq);
      if (h && this.fast.send(h.packet, s.ssrc, s.codec.payloadType, seq, h.timestamp)) {
        n++;
        this.retransmittedSeqs.push(seq);
        if (this.retransmittedSeqs.length > 64) this.retransmittedSeqs.shift();
      }
    }
    this.retransmitted += n;
    return n;
  }
  /** Sequence numbers resent on NACK (the last 64). */
  readonly retransmittedSeqs: number[] = [];
  retransmitted = 0;
  /** Tests: the next N fast-path packets are dropped (see droppedForTest). */
  dropForTest = 0;
  readonly droppedForTest: number[] = [];

  isKeyframeStart(packet: Buffer): boolean {
    return this.stream.isKeyframeStart(packet);
  }

  /** What the subscriber's RTCP says of this track: loss, RTT, bandwidth estimate. */
  feedback(): { lossPercent: number; rttMs: number | null; estimateKbps: number | null } {
    const s = this.sender;
    return {
      lossPercent: this.loss.percent() ?? 0,
      rttMs: typeof s?.rtt === 'number' ? s.rtt * 1000 : null,
      estimateKbps: s?.receiverEstimatedMaxBitrate ? Number(s.receiverEstimatedMaxBitrate) / 1000 : null,
    };
  }

  get needsKeyframe(): boolean {
    return this.stream.needsKeyframe;
  }
}
