// One publisher's connection (werift for ICE, DTLS and SRTP; RTP handled here): answers the
// WHIP offer recvonly, routes each packet (pipeline/rtp/IngestRouter), sends the publisher the
// feedback its encoder and bandwidth estimator need (NACK, PLI/FIR, transport-wide CC,
// receiver reports), assembles and decodes video in an FFmpeg per publisher (slot-sized
// frames + the picture's content rect) and Opus in Node (mono PCM, 48 kHz).
//
// Liveness: ICE must connect within `connectTimeoutMs`; a peer that goes silent (no RTP, no
// RTCP) is gone after `silentGoneMs` (4 s); a peer that keeps its RTCP but sends no media for
// `stalledAfterMs` is `stalled` (the room decides what to do).

import { EventEmitter } from 'node:events';
import {
  RTCPeerConnection,
  RTCRtpCodecParameters,
  useRepairedRtpStreamId,
  useSdesMid,
  useSdesRTPStreamId,
  useTransportWideCC,
} from 'werift';
import '../../workers/weriftDtlsFix.ts'; // werift's DTLS client survives a repeated HelloVerifyRequest
import { iceSummary } from './iceState.ts';
import { normalizeOffer, stripRecvonlySsrcs, trimTrailingSpace } from '../../pipeline/sdpSections.ts';
import { planIngest, type IngestPlan } from '../../pipeline/ingestCodecs.ts';
import { IngestRouter } from '../../pipeline/rtp/IngestRouter.ts';
import { IngestRates } from '../../pipeline/rtp/IngestRates.ts';
import { CaptureSkew } from '../../pipeline/rtp/CaptureSkew.ts';
import { unixMsFromNtp } from '../../pipeline/rtp/SenderReportClock.ts';
import { publisherLiveness } from '../../pipeline/rtp/PublisherLiveness.ts';
import type { Size } from '../../pipeline/layout/geometry.ts';
import { log as rootLog, type Logger } from '../../workers/log.ts';
import { VideoReceiver } from './ingest/VideoReceiver.ts';
import { AudioReceiver } from './ingest/AudioReceiver.ts';
import { PublisherFeedback } from './ingest/PublisherFeedback.ts';
import { ingestStats, simulcastStats, type IngestStats } from './ingest/stats.ts';
import type { DecodeWork, IngestEvents, IngestOptions } from './ingest/types.ts';
import { answerForClients, gatherTurn, HOST_NETWORK, peerNetworkConfig } from './network.ts';
import { iceGathered } from '../../workers/iceGathering.ts';

export type { IngestStats } from './ingest/stats.ts';

export type { DecodeWork, ForwardablePacket, IngestEvents, IngestOptions } from './ingest/types.ts';

const FEEDBACK = [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }, { type: 'transport-cc' }];
const TICK_MS = 10;
const TWCC_EVERY_MS = 50;
const RR_EVERY_MS = 1000;

function codecs() {
  const video = (mimeType: string) => new RTCRtpCodecParameters({ mimeType, clockRate: 90000, rtcpFeedback: FEEDBACK });
  return {
    // werift matches offered codecs by MIME type only; which one is used was decided by planIngest.
    audio: [new RTCRtpCodecParameters({ mimeType: 'audio/opus', clockRate: 48000, channels: 2, rtcpFeedback: [{ type: 'transport-cc' }] })],
    video: [video('video/VP8'), video('video/H264'), video('video/VP9'), video('video/AV1'), new RTCRtpCodecParameters({ mimeType: 'video/rtx', clockRate: 90000 })],
  };
}

/** A 20 ms audio frame's first sample is this old when its packet leaves (no sender report yet). */
const DEFAULT_AUDIO_LAG_MS = 20;

export class Ingest extends EventEmitter<IngestEvents> {
  readonly video: VideoReceiver | null;
  readonly audio: AudioReceiver | null;
  /** How much later than its picture the publisher's audio of an instant arrives (its sender reports). */
  readonly captureSkew = new CaptureSkew();
  private readonly router: IngestRouter;
  /** NACK, PLI/FIR, TWCC and receiver reports to the publisher. */
  private readonly feedback = new PublisherFeedback();
  private timer: NodeJS.Timeout | null = null;
  private connectTimer: NodeJS.Timeout | null = null;
  private lastTwccAt = 0;
  private lastRrAt = 0;
  private lastLivenessAt = 0;
  private readonly createdAt = performance.now();
  connectedAt = 0;
  lastRtpAt = 0;
  lastRtcpAt = 0;
  stalled = false;
  /** Packets whose handling threw (malformed beyond what the parsers reject): dropped. */
  unhandledPackets = 0;
  private _closed = false;
  /** Why the peer is gone (set once; a listener attached late can still read it). */
  goneReason: string | null = null;
  private readonly log: Logger;
  firstVideoAt = 0;
  firstAudioAt = 0;
  framesIn = 0;

  private constructor(readonly pc: RTCPeerConnection, readonly plan: IngestPlan, private readonly opts: IngestOptions) {
    super();
    this.log = (opts.log ?? rootLog).child({ ingest: opts.name ?? 'publisher' });
    this.router = new IngestRouter(plan);
    const name = opts.name ?? 'publisher';
    this.video = plan.video
      ? new VideoReceiver(plan.video, opts.slotSize, name, this.log, {
          frame: (f, arrivedAt) => {
            if (!this.firstVideoAt) this.firstVideoAt = Date.now();
            this.framesIn++;
            this.emit('video', f, arrivedAt);
          },
          requestKeyframe: (why, ssrc) => this.requestKeyframe(why, ssrc),
          nack: (ssrc, seqs) => this.feedback.sendNack(ssrc, seqs),
        })
      : null;
    this.audio = plan.audio
      ? new AudioReceiver((pcm, arrivedAt) => {
          if (!this.firstAudioAt) this.firstAudioAt = Date.now();
          this.emit('audio', pcm, 48000, 1, arrivedAt - this.audioLagMs);
        })
      : null;
    pc.connectionStateChange.subscribe((state) => {
      if (state === 'connected' && !this.connectedAt) {
        this.connectedAt = performance.now();
        if (this.connectTimer) clearTimeout(this.connectTimer);
        this.requestKeyframe('connected');
      }
      // Before it ever connected, werift reports 'failed' as soon as it has no remote candidate
      // to check — a trickling client sends them later, or connects peer-reflexive: only the
      // connect timeout decides then.
      if (state === 'failed' && this.connectedAt) this.gone('connection failed');
      if (state === 'closed') this.gone('connection closed');
    });
    // RTP is routed here, not by werift's receivers (they route by SSRC lines only and would
    // run NACK/TWCC of their own).
    (pc as any).router.routeRtp = () => {};
  }

  /** The server's answer to a WHIP offer (already checked by checkPublishOffer). */
  static async answer(offer: string, opts: IngestOptions): Promise<{ ingest: Ingest; answer: string }> {
    const net = opts.network ?? HOST_NETWORK;
    const { sdp, plan } = planIngest(normalizeOffer(offer));
    const pc = new RTCPeerConnection({
      iceServers: opts.iceServers ?? [],
      ...peerNetworkConfig(net),
      codecs: codecs(),
      headerExtensions: {
        audio: [useSdesMid(), useTransportWideCC()],
        // The RID extensions are answered only to an offer that keeps its simulcast lines (planIngest).
        video: [useSdesMid(), useTransportWideCC(), ...(plan.video?.simulcast ? [useSdesRTPStreamId(), useRepairedRtpStreamId()] : [])],
      },
    });
    const ingest = new Ingest(pc, plan, opts);
    const release = await gatherTurn(net);
    try {
      await pc.setRemoteDescription({ type: 'offer', sdp });
      for (const t of pc.getTransceivers()) t.setDirection('recvonly');
      await pc.setLocalDescription(await pc.createAnswer());
      ingest.hookTransports();
      await iceGathered(pc, 2000);
      release();
      const answer = answerForClients(net, trimTrailingSpace(stripRecvonlySsrcs(pc.localDescription!.sdp)));
      ingest.start();
      return { ingest, answer };
    } catch (err) {
      release();
      await ingest.close();
      throw err;
    }
  }

  get closed(): boolean {
    return this._closed;
  }

  /** The picture size the layout's tile for this publisher needs (null: not shown); picks the simulcast layer decoded. */
  setTile(size: Size | null): void {
    this.video?.setTile(size);
  }

  /** Size of the picture as the publisher sends it (null before the first decoded frame). */
  get videoSize(): Size | null {
    return this.video?.source ?? null;
  }

  private hookTransports(): void {
    for (const t of this.pc.getTransceivers()) {
      const dtls = (t as any).receiver?.dtlsTransport ?? (t as any).dtlsTransport;
      if (!dtls || !this.feedback.addTransport(dtls)) continue;
      dtls.onRtp.subscribe((rtp: any) => this.onRtp(dtls, rtp));
      dtls.onRtcp.subscribe((rtcp: any) => this.onRtcp(rtcp));
    }
  }

  private start(): void {
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.connectTimer = setTimeout(() => {
      if (!this.connectedAt) this.gone(`ICE did not connect within ${(this.opts.connectTimeoutMs ?? 15000) / 1000} s (${iceSummary(this.pc)})`);
    }, this.opts.connectTimeoutMs ?? 15000);
  }

  private onRtp(dtls: any, rtp: any): void {
    if (this._closed) return;
    const now = performance.now();
    this.lastRtpAt = now;
    if (this.stalled) {
      this.stalled = false;
      this.emit('resumed');
    }
    try {
      const routed = this.router.route(rtp);
      const kind = routed?.kind ?? this.router.kindOfPt(rtp.header.payloadType);
      const twccId = kind ? this.plan[kind]?.twccExtId : this.plan.video?.twccExtId || this.plan.audio?.twccExtId;
      if (twccId) {
        const ext = rtp.header.extensions.find((e: any) => e.id === twccId);
        if (ext && ext.payload.length >= 2) this.feedback.recordTwcc(dtls, ext.payload.readUInt16BE(0), now * 1000);
      }
      if (!routed || routed.payload.length === 0) return;
      if (!routed.retransmit) this.captureSkew.onPacket(routed.kind, routed.ssrc, rtp.header.timestamp, now);
      const bytes = rtp.payload.length + 12;
      if (routed.kind === 'video') {
        this.video?.onPacket(routed.ssrc, routed.rid, routed.sequenceNumber, rtp.header.timestamp, rtp.header.marker, routed.payload, bytes, routed.retransmit, now);
        this.emit('videoRtp', { rid: routed.rid, sequenceNumber: routed.sequenceNumber, timestamp: rtp.header.timestamp, marker: rtp.header.marker, payload: routed.payload });
      } else {
        this.audio?.onPacket(routed.ssrc, routed.sequenceNumber, rtp.header.timestamp, routed.payload, bytes, now);
      }
    } catch (err) {
      // Counted and dropped; logged once per 1000 so a hostile sender cannot flood the log.
      if (this.unhandledPackets++ % 1000 === 0) this.log.warn({ err, unhandled: this.unhandledPackets }, 'ingest: a packet could not be handled');
    }
  }

  /**
   * The audio's extra capture → arrival time over the video's (ms): from the publisher's sender
   * reports, else one 20 ms Opus frame (its first sample is that old when the packet leaves).
   * The PCM's content instant is its arrival less this, on the clock the pictures' arrivals are on.
   */
  get audioLagMs(): number {
    return this.captureSkew.audioLagMs() ?? DEFAULT_AUDIO_LAG_MS;
  }

  private onRtcp(rtcp: any): void {
    this.lastRtcpAt = performance.now();
    if (rtcp?.type === 200 && rtcp.senderInfo) {
      this.feedback.onSenderReport(rtcp.ssrc, rtcp.senderInfo.ntpTimestamp, performance.now());
      const kind = this.router.kindOfSsrc(rtcp.ssrc);
      if (kind) this.captureSkew.onSenderReport(rtcp.ssrc, unixMsFromNtp(BigInt(rtcp.senderInfo.ntpTimestamp)), rtcp.senderInfo.rtpTimestamp, kind);
    }
    if (rtcp?.type === 203) this.gone('the publisher said goodbye (RTCP BYE)');
  }

  private tick(): void {
    if (this._closed) return;
    const now = performance.now();
    this.video?.tick(now);
    this.audio?.tick(now);
    if (now - this.lastTwccAt >= TWCC_EVERY_MS) {
      this.lastTwccAt = now;
      this.feedback.sendTwcc(this.router.ssrcOf('video') ?? this.router.ssrcOf('audio'));
    }
    if (now - this.lastLivenessAt >= 250) {
      this.lastLivenessAt = now;
      this.checkLiveness(now);
    }
    if (now - this.lastRrAt >= RR_EVERY_MS) {
      const dt = (now - this.lastRrAt) / 1000;
      this.lastRrAt = now;
      this.updateRates(dt);
      const streams = [...(this.video?.streams.values() ?? [])].map((v) => v.stats);
      this.feedback.sendReceiverReports([...streams, ...(this.audio?.stats ? [this.audio.stats] : [])], now);
      const rtt = this.rttMs();
      if (rtt !== null) this.video?.setRtt(rtt);
    }
  }

  /** Frame rate and bitrates over the last second (stats()). */
  readonly rates = new IngestRates();

  private updateRates(dt: number): void {
    this.rates.update({
      frames: this.video?.framesDecoded ?? 0,
      pixels: this.video?.pixelsDecoded ?? 0,
      videoBytes: this.video?.bytes ?? 0,
      audioBytes: this.audio?.stats?.bytes ?? 0,
      layers: new Map([...(this.video?.streams ?? [])].map(([rid, s]) => [rid, { frames: s.assembler.stats.framesOut, bytes: s.stats.bytes }])),
    }, dt);
  }

  private checkLiveness(now: number): void {
    const l = publisherLiveness(this, now, this.stalled, { stalledAfterMs: this.opts.stalledAfterMs ?? 10_000, silentGoneMs: this.opts.silentGoneMs ?? 4000 });
    if (l && 'gone' in l) return this.gone(l.gone);
    if (l) {
      this.stalled = true;
      this.log.info({ silentMs: Math.round(l.stalledMs) }, 'publisher stalled: no media');
      this.emit('stalled');
    }
  }

  /**
   * Asks the publisher for a keyframe (PLI, or FIR if that is all it offered), rate-limited per
   * SSRC. Without an SSRC: the stream tracks subscribers are forwarded (simulcast: its layer).
   */
  requestKeyframe(reason = 'asked', mediaSsrc?: number): void {
    const now = performance.now();
    const forwarded = this.video?.forwardedLayer;
    const ssrc = mediaSsrc ?? (forwarded ? this.video?.streams.get(forwarded)?.ssrc : undefined) ?? this.router.ssrcOf('video') ?? this.plan.video?.ssrcs[0];
    if (this._closed || ssrc === undefined || !this.plan.video) return;
    if (!this.feedback.requestKeyframe(ssrc, this.plan.video.feedback.pli || !this.plan.video.feedback.fir, now)) return;
    this.log.debug({ reason }, 'keyframe requested');
  }

  /** Round-trip time of the ICE pair (consent checks), ms. */
  rttMs(): number | null {
    return this.feedback.rttMs();
  }

  stats(): IngestStats {
    return ingestStats(this);
  }

  /** What the publisher's decoder does (GET /rooms/{room}): frames and pixels per second, and the simulcast layer. */
  decodeWork(): DecodeWork | null {
    const v = this.video;
    if (!v) return null;
    return { fps: Math.round(this.rates.fps * 10) / 10, pixelsPerSec: Math.round(this.rates.pixelsPerSec), simulcast: simulcastStats(v, this.rates) };
  }

  get twccFeedbackSent(): number {
    return this.feedback.twccFeedbackSent;
  }

  get pliSent(): number {
    return this.feedback.pliSent;
  }

  get firSent(): number {
    return this.feedback.firSent;
  }

  get nackPacketsSent(): number {
    return this.feedback.nackPacketsSent;
  }

  get connecting(): boolean {
    return !this.connectedAt && performance.now() - this.createdAt < (this.opts.connectTimeoutMs ?? 15000);
  }

  private gone(reason: string): void {
    if (this._closed || this.goneReason) return;
    this.goneReason = reason;
    this.log.info({ reason }, 'publisher gone');
    this.emit('gone', reason);
  }

  async close(): Promise<void> {
    if (this._closed) return;
    this._closed = true;
    if (this.timer) clearInterval(this.timer);
    if (this.connectTimer) clearTimeout(this.connectTimer);
    this.removeAllListeners();
    await Promise.all([
      this.video?.close(),
      this.pc.close().catch(() => {}),
    ]);
  }
}
