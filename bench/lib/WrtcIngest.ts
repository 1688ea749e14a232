// The ingest as it was before werift (libwebrtc through @roamhq/wrtc: decoded I420 + PCM from
// RTCVideoSink / RTCAudioSink), kept only so bench/ingest.ts can measure old and new in one run.

import { EventEmitter } from 'node:events';
import wrtc from '@roamhq/wrtc';
import { unsyncedOffer } from '../../pipeline/sdp.ts';
import type { VideoFrame } from '../../workers/mixer/RoomMixer.ts';
import { gatherComplete } from '../../workers/clients/webrtc.ts';

const { RTCPeerConnection, nonstandard } = wrtc as any;

export interface WrtcIngestEvents {
  video: [VideoFrame];
  audio: [Int16Array, number, number];
  /** The connection failed or closed from the remote side. */
  gone: [string];
}

export class WrtcIngest extends EventEmitter<WrtcIngestEvents> {
  private readonly sinks: Array<{ stop(): void }> = [];
  private _closed = false;
  firstVideoAt = 0;
  firstAudioAt = 0;
  videoSize: { width: number; height: number } | null = null;
  framesIn = 0;

  private constructor(readonly pc: any) {
    super();
    pc.addEventListener('track', (e: any) => this.onTrack(e.track));
    pc.addEventListener('connectionstatechange', () => {
      const state = pc.connectionState;
      if (state === 'failed' || state === 'closed') this.emit('gone', `connection ${state}`);
    });
  }

  static async answer(offer: string, iceServers: unknown[] = []): Promise<{ ingest: WrtcIngest; answer: string }> {
    const pc = new RTCPeerConnection({ iceServers });
    const ingest = new WrtcIngest(pc);
    try {
      // Audio and video in separate streams: no lip-sync delay on video (see unsyncedOffer).
      await pc.setRemoteDescription({ type: 'offer', sdp: unsyncedOffer(offer) });
      // Only receive: a WHIP session never sends media back.
      for (const t of pc.getTransceivers()) t.direction = 'recvonly';
      await pc.setLocalDescription(await pc.createAnswer());
      await gatherComplete(pc, 2000);
      return { ingest, answer: pc.localDescription.sdp };
    } catch (err) {
      ingest.close();
      throw err;
    }
  }

  get closed(): boolean {
    return this._closed;
  }

  private onTrack(track: any): void {
    if (this._closed) return;
    if (track.kind === 'video') {
      const sink = new nonstandard.RTCVideoSink(track);
      sink.onframe = ({ frame }: { frame: VideoFrame }) => {
        if (!this.firstVideoAt) this.firstVideoAt = Date.now();
        this.framesIn++;
        this.videoSize = { width: frame.width, height: frame.height };
        this.emit('video', frame);
      };
      this.sinks.push(sink);
    } else if (track.kind === 'audio') {
      const sink = new nonstandard.RTCAudioSink(track);
      sink.ondata = (d: { samples: Int16Array; sampleRate: number; channelCount: number }) => {
        if (!this.firstAudioAt) this.firstAudioAt = Date.now();
        this.emit('audio', d.samples, d.sampleRate, d.channelCount);
      };
      this.sinks.push(sink);
    }
  }

  close(): void {
    if (this._closed) return;
    this._closed = true;
    for (const s of this.sinks) {
      try {
        s.stop();
      } catch {
        /* already stopped */
      }
    }
    try {
      this.pc.close();
    } catch {
      /* already closed */
    }
    this.removeAllListeners();
  }
}
