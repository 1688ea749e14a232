// A synthetic WHIP publisher on @roamhq/wrtc: a solid colour (or noise) and a sine tone (or
// beeps), each changeable while it runs. Used by the demo room, the tests and the benchmarks.

import { randomFillSync } from 'node:crypto';
import wrtc from '@roamhq/wrtc';
import { openSession, WrtcSession } from './WrtcSession.ts';

const { nonstandard } = wrtc as any;

export type Rgb = [number, number, number];

export function rgbToYuv([r, g, b]: Rgb): Rgb {
  return [
    Math.round(16 + 0.257 * r + 0.504 * g + 0.098 * b),
    Math.round(128 - 0.148 * r - 0.291 * g + 0.439 * b),
    Math.round(128 + 0.439 * r - 0.368 * g - 0.071 * b),
  ];
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
    return openSession(new SyntheticPublisher(o), (p) => p.connect());
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
