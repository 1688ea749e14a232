// One subscriber's peer connection (werift, RTP level): answers the WHEP offer and forwards
// already-encoded RTP of the mix. Nothing is decoded or encoded per subscriber, so adding one
// costs a copy, a header rewrite and SRTP per packet: through native/srtpfan once DTLS is up
// (FastSend.ts), else werift's sender.

import { EventEmitter } from 'node:events';
import { RTCPeerConnection, RTCRtpCodecParameters, RTCRtpHeaderExtensionParameters } from 'werift';
import '../../workers/weriftDtlsFix.ts'; // werift's DTLS client survives a repeated HelloVerifyRequest
import { answerForClients, gatherTurn, HOST_NETWORK, peerNetworkConfig, type IceNetwork } from './network.ts';
import { iceSummary } from './iceState.ts';
import { iceGathered } from '../../workers/iceGathering.ts';
import { RtcpSilence } from '../../pipeline/rtp/RtcpSilence.ts';
import { FastTransport } from './FastSend.ts';
import { ForwardedTrack } from './egress/ForwardedTrack.ts';
import { normalizeOffer } from '../../pipeline/sdpSections.ts';
import { egressStats, type EgressStats } from './egress/stats.ts';
import { PLAYOUT_DELAY_URI, parsePlayoutDelay, playoutDelayBytes } from '../../pipeline/rtp/PlayoutDelay.ts';

export { ForwardedTrack } from './egress/ForwardedTrack.ts';

const FEEDBACK = [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }, { type: 'goog-remb' }];

export interface EgressEvents {
  keyframeRequest: [];
  /** A PLI/FIR for one of the individual video tracks (its slot index). */
  slotKeyframeRequest: [number];
  gone: [string];
  /** ICE and DTLS are up: media sent from now on reaches the subscriber. */
  connected: [];
}

export interface EgressOptions {
  /** ICE/DTLS must connect within this long, or the subscription is gone (default 15 s). */
  connectTimeoutMs?: number;
  /**
   * A subscriber that has been sending RTCP and stops is gone after 3 × its longest RTCP
   * interval seen (once two intervals are known; 20 s before that), but at least this long
   * (default 5 s) and at most 20 s. One that never sent
   * RTCP is left to ICE/DTLS (a close_notify ends it at once).
   */
  silentMinMs?: number;
}

const MIX_STREAM_ID = 'mcu-mix';
/**
 * What the mix's video tells subscribers of its playout delay (docs/DEPLOY.md); null: nothing.
 * Read at the first answer; loadConfig has refused a bad value at start-up already.
 */
let playoutDelaySetting: ReturnType<typeof parsePlayoutDelay> | undefined;
function playoutDelay(): ReturnType<typeof parsePlayoutDelay> {
  if (playoutDelaySetting === undefined) playoutDelaySetting = parsePlayoutDelay(process.env.EGRESS_PLAYOUT_DELAY);
  return playoutDelaySetting;
}

export class Egress extends EventEmitter<EgressEvents> {
  readonly video: ForwardedTrack | null;
  readonly audio: ForwardedTrack | null;
  /** Individual video tracks (?tracks=N): one per slot, in the offer's video m-line order. */
  readonly slots: ForwardedTrack[] = [];
  /** The MID of each slot's m-line (the client maps SSE slot events to its tracks with it). */
  readonly slotMids: string[] = [];
  private _closed = false;
  connectedAt = 0;
  /** When the subscriber's RTCP has been silent too long (see pipeline/rtp/RtcpSilence.ts). */
  private readonly rtcp: RtcpSilence;
  private connectTimer: NodeJS.Timeout | null = null;
  private livenessTimer: NodeJS.Timeout | null = null;
  /** Why the subscriber is gone (set once; a listener attached late can still read it). */
  goneReason: string | null = null;

  private constructor(readonly pc: RTCPeerConnection, wantsAudio: boolean, wantsVideo: boolean, private readonly opts: EgressOptions = {}) {
    super();
    this.video = wantsVideo ? new ForwardedTrack('video') : null;
    this.audio = wantsAudio ? new ForwardedTrack('audio') : null;
    this.rtcp = new RtcpSilence(opts.silentMinMs ?? 5000, this.video !== null);
    pc.connectionStateChange.subscribe((state) => {
      const first = state === 'connected' && !this.connectedAt;
      if (first) {
        this.connectedAt = performance.now();
        if (this.connectTimer) clearTimeout(this.connectTimer);
      }
      if (state === 'connected') this.startFastPath();
      if (first) this.emit('connected');
      if (state === 'failed') this.gone(`connection failed${this.connectedAt ? '' : ` before it connected (${iceSummary(pc)})`}`);
      if (state === 'closed') this.gone('connection closed');
    });
  }

  /** Counters and RTCP figures of the forwarded tracks (the monitor reads these). */
  stats(): EgressStats {
    return egressStats(this.video, this.audio);
  }

  private readonly fastTransports = new Map<unknown, FastTransport | null>();

  /** The send path its tracks use: 'fast' (native/srtpfan) or 'werift'. */
  get sendPath(): 'fast' | 'werift' {
    const tracks = [this.video, this.audio].filter((t) => t?.sender);
    return tracks.length && tracks.every((t) => t!.fast) ? 'fast' : 'werift';
  }

  /** Once DTLS is up: each track's RTP through native/srtpfan when it can (see FastSend.ts). */
  private startFastPath(): void {
    if (this._closed) return;
    for (const fwd of [this.video, this.audio]) {
      const dtls = fwd?.sender?.dtlsTransport;
      if (!fwd || !dtls || fwd.fast) continue;
      if (!this.fastTransports.has(dtls)) {
        const ft = FastTransport.open(dtls);
        this.fastTransports.set(dtls, ft);
        // NACKs, read off the transport like PLI below (werift's own lookup finds nothing:
        // fast-path packets never enter its history).
        if (ft) dtls.onRtcp.subscribe((p: any) => this.onNack(p));
      }
      const ft = this.fastTransports.get(dtls);
      if (ft) fwd.useFastPath(ft);
    }
  }

  private onNack(p: any): void {
    if (p.type !== 205 || p.feedback?.count !== 1 || !Array.isArray(p.feedback.lost)) return;
    for (const fwd of [this.video, this.audio]) {
      if (fwd?.fast && fwd.sender?.ssrc === p.feedback.mediaSourceSsrc) fwd.retransmit(p.feedback.lost);
    }
  }

  private onRtcpIn(): void {
    this.rtcp.note(performance.now());
  }

  private startLiveness(): void {
    const connectMs = this.opts.connectTimeoutMs ?? 15_000;
    this.connectTimer = setTimeout(() => {
      if (!this.connectedAt) this.gone(`ICE did not connect within ${connectMs / 1000} s (${iceSummary(this.pc)})`);
    }, connectMs);
    this.connectTimer.unref();
    this.livenessTimer = setInterval(() => {
      if (!this.connectedAt) return;
      const silent = this.rtcp.overdue(performance.now());
      if (silent !== null) this.gone(`no RTCP for ${Math.round(silent / 1000)} s`);
    }, 250);
    this.livenessTimer.unref();
  }

  private gone(reason: string): void {
    if (this._closed || this.goneReason) return;
    this.goneReason = reason;
    this.emit('gone', reason);
  }

  static async answer(
    offer: string,
    wants: { audio: boolean; video: boolean; videoCodec?: string | null; videoSlots?: number },
    iceServers: Array<{ urls: string; username?: string; credential?: string }> = [],
    opts: EgressOptions = {},
    net: IceNetwork = HOST_NETWORK,
  ): Promise<{ egress: Egress; answer: string }> {
    const delay = playoutDelay();
    const pc = new RTCPeerConnection({
      iceServers,
      ...peerNetworkConfig(net),
      codecs: {
        audio: [new RTCRtpCodecParameters({ mimeType: 'audio/opus', clockRate: 48000, channels: 2 })],
        // Offer exactly the codec the subscriber gets, so the answer cannot pick another.
        video: [
          wants.videoCodec === 'H264'
            ? new RTCRtpCodecParameters({
                mimeType: 'video/H264',
                clockRate: 90000,
                rtcpFeedback: FEEDBACK,
                parameters: 'profile-level-id=42e01f;packetization-mode=1;level-asymmetry-allowed=1',
              })
            : new RTCRtpCodecParameters({ mimeType: 'video/VP8', clockRate: 90000, rtcpFeedback: FEEDBACK }),
        ],
      },
      headerExtensions: { audio: [], video: delay ? [new RTCRtpHeaderExtensionParameters({ uri: PLAYOUT_DELAY_URI })] : [] },
    });
    const slotCount = wants.video ? (wants.videoSlots ?? 0) : 0;
    const egress = new Egress(pc, wants.audio, wants.video && !slotCount, opts);
    if (egress.video) egress.video.codec = wants.videoCodec === 'H264' ? 'h264' : 'vp8';
    for (let i = 0; i < slotCount; i++) {
      const t = new ForwardedTrack('video');
      t.codec = wants.videoCodec === 'H264' ? 'h264' : 'vp8';
      egress.slots.push(t);
    }
    const release = await gatherTurn(net);
    try {
      await pc.setRemoteDescription({ type: 'offer', sdp: normalizeOffer(offer) });
      let videoBound = false;
      let audioBound = false;
      let slotsBound = 0;
      for (const t of pc.getTransceivers()) {
        const slot = t.kind === 'video' && slotCount ? slotsBound++ : -1;
        const fwd = slot >= 0 ? (egress.slots[slot] ?? null) : t.kind === 'video' && !videoBound ? egress.video : t.kind === 'audio' && !audioBound ? egress.audio : null;
        if (!fwd) {
          t.setDirection('inactive');
          continue;
        }
        if (slot >= 0) egress.slotMids[slot] = t.mid ?? String(slot);
        else if (t.kind === 'video') videoBound = true;
        else audioBound = true;
        t.setDirection('sendonly');
        await t.sender.replaceTrack(fwd.track);
        // One stream id for the mix's audio and video (a=msid): the receiver's lip-sync group,
        // stated rather than left to each client's default for a missing msid.
        t.sender.streamId = MIX_STREAM_ID;
        fwd.sender = t.sender;
        // The mix's video carries the playout delay on its keyframes, when the subscriber offered the extension.
        const pd = delay && fwd === egress.video ? t.headerExtensions.find((e: { uri: string }) => e.uri === PLAYOUT_DELAY_URI) : undefined;
        if (delay && pd) fwd.playoutDelay = { id: pd.id, data: playoutDelayBytes(delay.minMs, delay.maxMs) };
        const clockRate = t.kind === 'video' ? 90000 : 48000;
        t.sender.onRtcp.subscribe((rtcp: any) => {
          for (const report of rtcp.reports ?? []) {
            if (report.ssrc === t.sender.ssrc && typeof report.jitter === 'number') fwd.onReceiverReport(report, clockRate);
          }
        });

      }
      await pc.setLocalDescription(await pc.createAnswer());
      // Liveness: any RTCP the subscriber sends on any of its transports.
      const transports = new Set(pc.getTransceivers().map((t) => t.sender.dtlsTransport).filter(Boolean));
      for (const dtls of transports) dtls.onRtcp.subscribe(() => egress.onRtcpIn());
      egress.startLiveness();
      // PLI / FIR. Read off the transport rather than werift's per-sender PLI event: werift
      // routes feedback by the sender SSRC first, which misses when the client's offer
      // announced SSRCs of its own.
      const videoSender = pc.getTransceivers().find((t) => t.kind === 'video' && egress.video?.sender === t.sender)?.sender;
      videoSender?.dtlsTransport.onRtcp.subscribe((p: any) => {
        if (p.type !== 206 || !p.feedback) return;
        const fmt = p.feedback.count;
        if ((fmt === 1 && p.feedback.mediaSsrc === videoSender.ssrc) || fmt === 4) egress.emit('keyframeRequest');
      });
      // The same for individual tracks: a PLI names the slot's SSRC (a FIR carries it in its FCI).
      const slotDtls = egress.slots[0]?.sender?.dtlsTransport;
      slotDtls?.onRtcp.subscribe((p: any) => {
        if (p.type !== 206 || !p.feedback) return;
        const ssrc = p.feedback.count === 4 ? p.feedback.fir?.[0]?.ssrc : p.feedback.count === 1 ? p.feedback.mediaSsrc : undefined;
        const slot = egress.slots.findIndex((s) => s.sender?.ssrc === ssrc);
        if (slot >= 0) egress.emit('slotKeyframeRequest', slot);
      });
      await iceGathered(pc, 2000);
      release();
      return { egress, answer: answerForClients(net, pc.localDescription!.sdp) };
    } catch (err) {
      release();
      await egress.close();
      throw err;
    }
  }

  get closed(): boolean {
    return this._closed;
  }

  async close(): Promise<void> {
    if (this._closed) return;
    this._closed = true;
    if (this.connectTimer) clearTimeout(this.connectTimer);
    if (this.livenessTimer) clearInterval(this.livenessTimer);
    this.removeAllListeners();
    for (const ft of this.fastTransports.values()) ft?.close();
    try {
      await this.pc.close();
    } catch {
      /* already closed */
    }
  }
}
