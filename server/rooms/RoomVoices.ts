// The room's voices: who is speaking (the speaker detector, fed each publisher's levels and
// ticked every 100 ms), each participant's AGC gain ridden to the mixer on that tick, and voice
// processing (the room's switches combined with each participant's flag) and the limiter sent
// to the mixer as commands.

import { ActiveSpeakerDetector } from '../../pipeline/audio/ActiveSpeaker.ts';
import { slotVoice, type RoomAudioSettings, type SlotVoice } from '../../pipeline/audio/voice.ts';
import type { Participant } from './types.ts';

/** The mixer's voice commands (RoomMixer). */
export interface VoiceMixer {
  setGain(participantId: string, db: number): void;
  setVoice(participantId: string, voice: SlotVoice): void;
  setLimiter(on: boolean): void;
}

export interface VoiceHooks {
  participants(): Iterable<Participant>;
  /** The room's audio settings now. */
  audio(): RoomAudioSettings;
  /** The active speaker changed (decided on a tick). */
  speakerChanged(id: string): void;
  /** After every tick: what follows the recent speakers (individual tracks). */
  ticked(): void;
}

export class RoomVoices {
  private readonly speakers = new ActiveSpeakerDetector();
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly mixer: VoiceMixer, private readonly hooks: VoiceHooks) {
    this.timer = setInterval(() => this.tick(performance.now()), 100);
  }

  private tick(now: number): void {
    // The AGC: each participant's gain, ridden in Node, reaches FFmpeg as a command.
    for (const p of this.hooks.participants()) this.mixer.setGain(p.id, p.meter.rider.gainDb);
    const switched = this.speakers.tick(now);
    if (switched) this.hooks.speakerChanged(switched);
    this.hooks.ticked();
  }

  /** The speaker detector's input: a publisher's level (dBFS) at a time. */
  level(id: string, db: number, now: number): void {
    this.speakers.update(id, db, now);
  }

  /** A new publisher's voice processing, from the room's settings and its own flag. */
  joined(p: Participant): void {
    this.mixer.setVoice(p.id, slotVoice(this.hooks.audio(), p.processing));
  }

  left(id: string): void {
    this.speakers.remove(id);
  }

  /** Every publisher's voice processing and the limiter, after a change of settings or flags. */
  apply(): void {
    for (const p of this.hooks.participants()) this.mixer.setVoice(p.id, slotVoice(this.hooks.audio(), p.processing));
    this.mixer.setLimiter(this.hooks.audio().limiter);
  }

  get current(): string | null {
    return this.speakers.current;
  }

  /** Those who have spoken, most recent first (ActiveSpeakerDetector.recent). */
  recent(): string[] {
    return this.speakers.recent();
  }

  close(): void {
    clearInterval(this.timer);
  }
}
