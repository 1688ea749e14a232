// The audio state a room's mixer process must be told by command (it starts with every voice
// chain on, every gain at unity and the limiter on): each slot's voice chain (high-pass,
// denoise, AGC switches), the AGC's gain, the limiter. Sent as it changes to the serving
// process, and replayed to a process when it is promoted.

import { gainCommand, limiterCommands, voiceCommands, VOICE_ON, type SlotVoice } from '../../pipeline/audio/voice.ts';
import type { MixerProcess } from './MixerProcess.ts';
import type { MixSlot } from './MixSlot.ts';

export class AudioControls {
  /** Voice state of each slot as last sent to the current process (a new one starts all on). */
  private sentVoice: SlotVoice[] = [];
  private limiterOn = true;

  constructor(
    private readonly slots: () => ReadonlyArray<MixSlot | null>,
    private readonly serving: () => MixerProcess | null,
  ) {}

  setVoice(slot: MixSlot, voice: SlotVoice): void {
    slot.voice = { ...voice };
    this.syncVoice();
  }

  setGain(k: number, slot: MixSlot, db: number): void {
    if (slot.gainDb === db) return;
    slot.gainDb = db;
    void this.serving()?.sendAudioCommands([gainCommand(k, db)]);
  }

  setLimiter(on: boolean): void {
    if (on === this.limiterOn) return;
    this.limiterOn = on;
    const proc = this.serving();
    if (proc) void proc.sendAudioCommands(limiterCommands(proc.capacity, on));
  }

  /** `proc` has just been promoted: it gets the state set while it was starting. */
  replay(proc: MixerProcess): void {
    this.sentVoice = [];
    this.syncVoice();
    const gains = this.slots().flatMap((s, k) => (s && Number.isFinite(s.gainDb) && s.gainDb !== 0 ? [gainCommand(k, s.gainDb)] : []));
    if (gains.length) void proc.sendAudioCommands(gains);
    if (!this.limiterOn) void proc.sendAudioCommands(limiterCommands(proc.capacity, false));
  }

  private syncVoice(): void {
    const proc = this.serving();
    if (!proc) return;
    const want = this.slots().map((s) => s?.voice ?? VOICE_ON);
    const cmds = voiceCommands(this.sentVoice, want, proc.denoiseModel);
    this.sentVoice = want;
    if (cmds.length) void proc.sendAudioCommands(cmds);
  }
}
