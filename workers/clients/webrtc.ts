// WHIP/WHEP clients built on @roamhq/wrtc: a synthetic publisher (a solid colour and a sine
// tone, both controllable) and a subscriber that keeps the latest decoded frame and the last
// seconds of PCM. Used by the demo room, the tests and the benchmarks.

import { randomFillSync } from 'node:crypto';
import wrtc from '@roamhq/wrtc';

const { RTCPeerConnection, nonstandard } = wrtc as any;

export type Rgb = [number, number, number];

export interface DecodedFrame {
  width: number;
  height: number;
  data: Uint8Array;
}

export async function gatherComplete(pc: any, timeoutMs = 3000): Promise<void> {
  if (pc.iceGatheringState === 'complete') return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(done, timeoutMs);
    function done() {
      clearTimeout(timer);
      pc.removeEventListener('icegatheringstatechange', check);
      resolve();
    }
    function check() {
      if (pc.iceGatheringState === 'complete') done();
    }
    pc.addEventListener('icegatheringstatechange', check);
  });
}

export class HttpStatusError extends Error {
  constructor(readonly status: number, readonly body: string) {
    super(`HTTP ${status}: ${body.slice(0, 300)}`);
  }
}

/** POSTs an SDP offer; returns the answer and the session URL (absolute). */
export async function exchangeSdp(
  url: string,
  offer: string,
  headers: Record<string, string> = {},
): Promise<{ answer: string; location: string }> {
  const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/sdp', ...headers }, body: offer });
  const body = await res.text();
  if (res.status !== 201) throw new HttpStatusError(res.status, body);
  const location = res.headers.get('Location');
  if (!location) throw new Error('201 without a Location header');
  return { answer: body, location: new URL(location, url).toString() };
}

export function rgbToYuv([r, g, b]: Rgb): Rgb {
  return [
    Math.round(16 + 0.257 * r + 0.504 * g + 0.098 * b),
    Math.round(128 - 0.148 * r - 0.291 * g + 0.439 * b),
    Math.round(128 + 0.439 * r - 0.368 * g - 0.071 * b),
  ];
}

/**
 * One WHIP or WHEP session of a wrtc peer connection: offer, answer, and an idempotent close
 * that stops the media, ends the session on the server (errors ignored) and closes the pc.
 */
abstract class WrtcSession {
  readonly pc: any;
  location = '';
  private closing: Promise<void> | null = null;

  protected constructor(rtcConfig: Record<string, unknown>, protected readonly headers?: Record<string, string>) {
    this.pc = new RTCPeerConnection(rtcConfig);
  }

  /** The session id: the last segment of its Location. */
  protected get sessionId(): string {
    return this.location.split('/').pop() ?? '';
  }

  protected async negotiate(url: string): Promise<void> {
    await this.pc.setLocalDescription(await this.pc.createOffer());
    await gatherComplete(this.pc);
    const { answer, location } = await exchangeSdp(url, this.pc.localDescription.sdp, this.headers);
    this.location = location;
    await this.pc.setRemoteDescription({ type: 'answer', sdp: answer });
  }

  /** Stops this session's own media sources or sinks. */
  protected abstract stopMedia(): void;

  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closing = (async () => {
      this.stopMedia();
      if (this.location) await fetch(this.location, { method: 'DELETE', headers: this.headers }).catch(() => {});
      try {
        this.pc.close();
      } catch {
        /* already closed */
      }
    })();
    return this.closing;
  }
}

/** Creates a session and connects it; a failed connect closes what was opened. */
async function open<T extends WrtcSession>(session: T, connect: (s: T) => Promise<void>): Promise<T> {
  try {
    await connect(session);
  } catch (err) {
    await session.close();
    throw err;
  }
  return session;
}

export interface SyntheticPublisherOptions {
  /** e.g. http://127.0.0.1:8080/rooms/r1/whip?name=Ada */
  whipUrl: string;
  color?: Rgb | null;
  toneHz?: number | null;
  /** 0..1 of full scale. */
  amplitude?: number;
  width?: number;
  height?: number;
  fps?: number;
  /** Tone on for `onMs` every `periodMs` (starting `phaseMs` in); continuous when absent. */
  beep?: { onMs: number; periodMs: number; phaseMs?: number };
  headers?: Record<string, string>;
  /** 'noise' fills the luma with fresh random bytes each frame: the encoder's worst case. */
  pattern?: 'solid' | 'noise';
  /** RTCConfiguration (iceServers, iceTransportPolicy). */
  rtcConfig?: Record<string, unknown>;
}

export class SyntheticPublisher extends WrtcSession {
  private videoSource: any = null;
  private audioSource: any = null;
  private frame: Uint8Array | null = null;
  private color: Rgb | null;
  private width: number;
  private height: number;
  private amplitude: number;
  private videoPaused = false;
  private timers: NodeJS.Timeout[] = [];
  private sample = 0;
  framesSent = 0;

  private constructor(private readonly o: SyntheticPublisherOptions) {
    super(o.rtcConfig ?? {}, o.headers);
    this.color = o.color ?? null;
    this.width = o.width ?? 640;
    this.height = o.height ?? 360;
    this.amplitude = o.amplitude ?? 0.25;
  }

  static start(o: SyntheticPublisherOptions): Promise<SyntheticPublisher> {
    return open(new SyntheticPublisher(o), (p) => p.connect());
  }

  get participantId(): string {
    return this.sessionId;
  }

  private async connect(): Promise<void> {
    const fps = this.o.fps ?? 30;
    if (this.o.color !== null && this.o.color !== undefined) {
      this.videoSource = new nonstandard.RTCVideoSource();
      this.pc.addTrack(this.videoSource.createTrack());
      this.timers.push(setInterval(() => this.sendFrame(), 1000 / fps));
    }
    if (this.o.toneHz !== null && this.o.toneHz !== undefined) {
      this.audioSource = new nonstandard.RTCAudioSource();
      this.pc.addTrack(this.audioSource.createTrack());
      const start = performance.now();
      let chunks = 0;
      // Drift-corrected: send every 10 ms chunk that is due, whatever the timer's jitter.
      this.timers.push(
        setInterval(() => {
          const due = Math.floor((performance.now() - start) / 10);
          for (; chunks < due; chunks++) this.sendAudio();
        }, 10),
      );
    }
    await this.negotiate(this.o.whipUrl);
  }

  private sendFrame(): void {
    if (!this.videoSource || this.videoPaused || !this.color) return;
    if (!this.frame) {
      const [y, u, v] = rgbToYuv(this.color);
      const luma = this.width * this.height;
      const chroma = Math.ceil(this.width / 2) * Math.ceil(this.height / 2);
      this.frame = new Uint8Array(luma + 2 * chroma);
      this.frame.fill(y, 0, luma);
      this.frame.fill(u, luma, luma + chroma);
      this.frame.fill(v, luma + chroma);
    }
    if (this.o.pattern === 'noise') randomFillSync(this.frame, 0, this.width * this.height);
    this.videoSource.onFrame({ width: this.width, height: this.height, data: this.frame });
    this.framesSent++;
  }

  private sendAudio(): void {
    const hz = this.o.toneHz!;
    const samples = new Int16Array(480);
    const beep = this.o.beep;
    for (let i = 0; i < 480; i++, this.sample++) {
      const ms = (this.sample / 48) + (beep?.phaseMs ?? 0);
      const on = !beep || ms % beep.periodMs < beep.onMs;
      samples[i] = on ? Math.round(this.amplitude * 32767 * Math.sin((2 * Math.PI * hz * this.sample) / 48000)) : 0;
    }
    this.audioSource.onData({ samples, sampleRate: 48000, bitsPerSample: 16, channelCount: 1, numberOfFrames: 480 });
  }

  setColor(rgb: Rgb): void {
    this.color = rgb;
    this.frame = null;
  }

  setResolution(width: number, height: number): void {
    this.width = width;
    this.height = height;
    this.frame = null;
  }

  pauseVideo(): void {
    this.videoPaused = true;
  }

  resumeVideo(): void {
    this.videoPaused = false;
  }

  setAmplitude(a: number): void {
    this.amplitude = a;
  }

  protected stopMedia(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
  }
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
    return open(new WhepSubscriber(o), (s) => s.connect());
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
