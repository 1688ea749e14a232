// Test-facing wrappers around the wrtc WHIP/WHEP clients (workers/clients/webrtc.ts).

import { SyntheticPublisher, WhepSubscriber, type SyntheticPublisherOptions } from '../../workers/clients/webrtc.ts';
import { toneLevelDb } from './media.ts';

export interface PublisherOptions
  extends Pick<SyntheticPublisherOptions, 'color' | 'toneHz' | 'amplitude' | 'width' | 'height' | 'fps' | 'pattern'> {
  baseUrl: string;
  room: string;
  name?: string;
  /** Bearer token (when the server runs with MCU_AUTH_SECRET). */
  token?: string;
}

export type Publisher = SyntheticPublisher;

export function startPublisher(o: PublisherOptions): Promise<Publisher> {
  const q = o.name ? `?name=${encodeURIComponent(o.name)}` : '';
  return SyntheticPublisher.start({
    whipUrl: `${o.baseUrl}/rooms/${o.room}/whip${q}`,
    color: o.color === undefined ? [200, 200, 200] : o.color,
    toneHz: o.toneHz === undefined ? 440 : o.toneHz,
    amplitude: o.amplitude,
    width: o.width,
    height: o.height,
    fps: o.fps,
    headers: o.token ? { Authorization: `Bearer ${o.token}` } : undefined,
    pattern: o.pattern,
  });
}

export interface SubscriberOptions {
  baseUrl: string;
  room: string;
  participant?: string;
  token?: string;
}

export interface Subscriber extends WhepSubscriber {
  toneDb(hz: number, ms?: number): number;
}

export async function startSubscriber(o: SubscriberOptions): Promise<Subscriber> {
  const q = o.participant ? `?participant=${encodeURIComponent(o.participant)}` : '';
  const sub = (await WhepSubscriber.start({
    whepUrl: `${o.baseUrl}/rooms/${o.room}/whep${q}`,
    headers: o.token ? { Authorization: `Bearer ${o.token}` } : undefined,
  })) as Subscriber;
  sub.toneDb = (hz: number, ms = 1000) => toneLevelDb(sub.audio(ms), sub.audioSampleRate(), hz);
  return sub;
}

/**
 * Synthetic publishers send steady tones, which RNNoise rightly takes for noise (-30 dB): a
 * test that checks tones in the mix switches the room's denoiser off (test/e2e/voice.test.ts
 * covers the denoiser with speech). Call it once a publisher has joined (an empty room closes).
 */
export async function denoiseOff(baseUrl: string, room: string): Promise<void> {
  const res = await fetch(`${baseUrl}/rooms/${room}`, {
    method: 'PATCH',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ audio: { denoise: false } }),
  });
  if (res.status !== 200) throw new Error(`PATCH /rooms/${room}: ${res.status} ${await res.text()}`);
}

/** Resolves with the first truthy value of `fn`, polling; throws after `timeoutMs`. */
/** `what` names what is awaited in the timeout's message; a function is asked at the timeout (the state then). */
export async function waitFor<T>(fn: () => T | Promise<T>, timeoutMs: number, what: string | (() => string), intervalMs = 50): Promise<NonNullable<T>> {
  const until = performance.now() + timeoutMs;
  let lastError: unknown = null;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      lastError = err;
    }
    if (performance.now() > until) {
      throw new Error(`timed out waiting for ${typeof what === 'function' ? what() : what}${lastError ? ` (last error: ${(lastError as Error).message})` : ''}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
