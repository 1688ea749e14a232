// A WHEP subscriber on @roamhq/wrtc that keeps the latest decoded frame, the frame times and the
// last seconds of received PCM (mono), with callbacks per frame and per audio chunk. Used by the
// tests and the benchmarks.

import wrtc from '@roamhq/wrtc';
import { openSession, WrtcSession } from './WrtcSession.ts';

const { nonstandard } = wrtc as any;

export interface DecodedFrame {
  width: number;
  height: number;
  data: Uint8Array;
}

export interface WhepSubscriberOptions {
  /** e.g. http://127.0.0.1:8080/rooms/r1/whep?participant=... */
  whepUrl: string;
  audio?: boolean;
  video?: boolean;
  headers?: Record<string, string>;
  /** Seconds of PCM kept. */
  keepAudioSec?: number;
}

export class WhepSubscriber extends WrtcSession {
  readonly frameTimes: number[] = [];
  private latest: DecodedFrame | null = null;
  private frames = 0;
  private readonly sinks: any[] = [];
  private readonly pcm: Int16Array;
  private written = 0;
  private rate = 48000;
  onFrame: ((frame: DecodedFrame, at: number) => void) | null = null;
  /** Each chunk of received mono PCM as it arrives (10 ms from libwebrtc's playout). */
  onAudio: ((mono: Int16Array, at: number) => void) | null = null;

  private constructor(private readonly o: WhepSubscriberOptions) {
    super({}, o.headers);
    this.pcm = new Int16Array(48000 * (o.keepAudioSec ?? 5));
  }

  static start(o: WhepSubscriberOptions): Promise<WhepSubscriber> {
    return openSession(new WhepSubscriber(o), (s) => s.connect());
  }

  get subscriptionId(): string {
    return this.sessionId;
  }

  private async connect(): Promise<void> {
    if (this.o.audio !== false) this.pc.addTransceiver('audio', { direction: 'recvonly' });
    if (this.o.video !== false) this.pc.addTransceiver('video', { direction: 'recvonly' });
    this.pc.addEventListener('track', (e: any) => {
      if (e.track.kind === 'video') {
        const sink = new nonstandard.RTCVideoSink(e.track);
        sink.onframe = ({ frame }: { frame: DecodedFrame }) => {
          const at = performance.now();
          this.frames++;
          this.frameTimes.push(at);
          if (this.frameTimes.length > 20000) this.frameTimes.splice(0, 10000);
          // libwebrtc hands over a fresh buffer per frame, so keeping a reference is safe.
          this.latest = { width: frame.width, height: frame.height, data: frame.data };
          this.onFrame?.(this.latest, at);
        };
        this.sinks.push(sink);
      } else if (e.track.kind === 'audio') {
        const sink = new nonstandard.RTCAudioSink(e.track);
        sink.ondata = (d: { samples: Int16Array; sampleRate: number; channelCount: number }) => {
          this.rate = d.sampleRate;
          const ch = d.channelCount;
          const n = Math.floor(d.samples.length / ch);
          const start = this.written;
          for (let i = 0; i < n; i++) {
            let sum = 0;
            for (let c = 0; c < ch; c++) sum += d.samples[i * ch + c];
            this.pcm[this.written++ % this.pcm.length] = sum / ch;
          }
          if (this.onAudio) {
            const mono = new Int16Array(n);
            for (let i = 0; i < n; i++) mono[i] = this.pcm[(start + i) % this.pcm.length];
            this.onAudio(mono, performance.now());
          }
        };
        this.sinks.push(sink);
      }
    });
    await this.negotiate(this.o.whepUrl);
  }

  frameCount(): number {
    return this.frames;
  }

  lastFrame(): DecodedFrame | null {
    return this.latest;
  }

  audioSampleRate(): number {
    return this.rate;
  }

  /** The last `ms` of received mono PCM. */
  audio(ms: number): Int16Array {
    const n = Math.min(Math.floor((ms * this.rate) / 1000), this.written, this.pcm.length);
    const out = new Int16Array(n);
    for (let i = 0; i < n; i++) out[i] = this.pcm[(this.written - n + i) % this.pcm.length];
    return out;
  }

  async waitForFrames(n: number, timeoutMs: number): Promise<void> {
    const target = this.frames + n;
    const until = performance.now() + timeoutMs;
    while (this.frames < target) {
      if (performance.now() > until) throw new Error(`received ${this.frames} frames, wanted ${target} within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  protected stopMedia(): void {
    for (const s of this.sinks) {
      try {
        s.stop();
      } catch {
        /* already stopped */
      }
    }
  }
}
