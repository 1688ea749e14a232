// One participant's place in the mix: their latest picture (sample-and-hold), their audio's
// jitter buffer, their label and placeholder (rendered with sharp, see labels.ts), and their
// voice settings. RoomMixer holds one per occupied slot and reads them on its clocks.

import type { Rect, Size } from '../../pipeline/layout/geometry.ts';
import { adaptiveDrain, JitterBuffer, toMono } from '../../pipeline/audio/JitterBuffer.ts';
import { VOICE_ON, type SlotVoice } from '../../pipeline/audio/voice.ts';
import { i420Size } from '../../pipeline/media/i420.ts';
import { looksBlack, participantColour, renderLabel, renderPlaceholder, stampLabel, type I420Image } from './labels.ts';

/** A decoded picture at the mixer's slot size (the ingest's decoder scales and letterboxes). */
export interface VideoFrame {
  width: number;
  height: number;
  data: Uint8Array;
  /** Where the picture is inside the frame (the rest is letterbox); the whole frame when absent. */
  content?: Rect;
  /** Gives the buffer back to its decoder (called once the next picture replaces it). */
  release?: () => void;
}

/**
 * MIX_AUDIO_DRAIN=0: each slot's audio queue keeps whatever depth it reached (the old
 * behaviour, for comparison); by default a standing queue deeper than the arrivals need is
 * drained (pipeline/audio/JitterBuffer.ts, docs/AUDIO-PATH.md).
 */
const DRAIN = process.env.MIX_AUDIO_DRAIN !== '0';

/** No frame for this long means the camera is off or muted: show the placeholder. */
const VIDEO_MUTED_AFTER_MS = 2000;

export class MixSlot {
  picture: Buffer | null = null;
  /** Gives `picture`'s buffer back to its decoder. */
  private releasePicture: (() => void) | null = null;
  pictureAt = 0;
  /** Where the picture's content stands on the content clock (its frame's arrival; see RoomMixer's content lag). */
  pictureContentAt = NaN;
  /** Where the audio last pulled starts on the content clock (NaN: silence, concealment or unknown). */
  audioContentAt = NaN;
  /** The latest picture is (nearly) all black: a camera that sends black frames when muted. */
  black = false;
  // Prime with 30 ms (a 20 ms audio tick + a margin), never hold more than 120 ms, and drain a
  // standing queue down to what the arrivals' jitter needs.
  readonly audio: JitterBuffer;
  label: I420Image | null = null;
  /** Initials on the participant's colour, with the label: shown while there is no live video. */
  placeholder: Buffer | null = null;
  /** What the slot's voice chain does (pipeline/audio/voice.ts), and the AGC's gain (dB). */
  voice: SlotVoice = VOICE_ON;
  // Unknown: the slot's volume may still hold a previous participant's gain.
  gainDb = NaN;

  constructor(
    readonly participantId: string,
    public name: string,
    private readonly sampleRate: number,
  ) {
    this.audio = new JitterBuffer((sampleRate * 30) / 1000, (sampleRate * 120) / 1000, DRAIN ? adaptiveDrain(sampleRate) : null);
  }

  /** Renders the label and placeholder for the slot's current name (the newest render wins). */
  async renderDecorations(size: Size): Promise<void> {
    const name = this.name || 'Guest';
    const colour = participantColour(this.participantId);
    const [label, placeholder] = await Promise.all([renderLabel(name, colour, size), renderPlaceholder(name, colour, size)]);
    if (this.name !== name && this.name) return; // renamed meanwhile: the newer render wins
    stampLabel(placeholder.data, size, label);
    this.label = label;
    this.placeholder = placeholder.data;
  }

  /**
   * Keeps a decoded picture (until the next one: sample-and-hold). False when it is not of the
   * slot size. The label goes in the part of the frame the tile shows (`shown`: the crop
   * window; else the picture), at its bottom-left.
   */
  setPicture(frame: VideoFrame, size: Size, shown: Rect | undefined, now: number, contentAt = now): boolean {
    if (frame.width !== size.width || frame.height !== size.height || frame.data.byteLength < i420Size(size)) {
      frame.release?.();
      return false;
    }
    // The decoder's buffer is ours to stamp the label on until we give it back.
    const picture = Buffer.from(frame.data.buffer, frame.data.byteOffset, frame.data.byteLength);
    this.black = looksBlack(picture, size);
    if (this.label) stampLabel(picture, size, this.label, shown ?? frame.content);
    this.picture = picture;
    this.releasePicture?.();
    this.releasePicture = frame.release ?? null;
    this.pictureAt = now;
    this.pictureContentAt = contentAt;
    return true;
  }

  /** The live picture, or null while the camera is off, muted or black (show the placeholder). */
  livePicture(now: number): Buffer | null {
    return this.picture !== null && !this.black && now - this.pictureAt < VIDEO_MUTED_AFTER_MS ? this.picture : null;
  }

  /** `contentAt`: where the first sample stands on the content clock (NaN: unknown). */
  pushAudio(samples: Int16Array, sampleRate: number, channels: number, contentAt = NaN): void {
    if (sampleRate === this.sampleRate) this.audio.push(toMono(samples, channels), performance.now(), contentAt);
  }

  /** `n` samples of the slot's audio (silence where there is none), noting where they stand on the content clock. */
  pullAudio(n: number, now: number): Int16Array {
    const pcm = this.audio.pull(n, now);
    // The block ends where the next one starts (a drain's cut, now and then, moves that tick's
    // figure by the cut; ContentLag smooths it away). Nothing queued after it: unknown this tick.
    const next = this.audio.nextContent();
    this.audioContentAt = next ? next.at + ((next.offsetSamples - n) * 1000) / this.sampleRate : NaN;
    return pcm;
  }
}
