// Active speaker detection from decoded audio levels, with hysteresis so the large tile does
// not flap: a challenger must be the loudest voice, clearly louder than the current speaker
// (or the current speaker silent), continuously for `windowMs`, and switches are at least
// `minSwitchIntervalMs` apart. Pure: callers pass the levels and the time.

export interface SpeakerConfig {
  /** How long a challenger must dominate before it takes over (ms). */
  windowMs: number;
  /** At most one switch per this interval (ms), between two speakers. */
  minSwitchIntervalMs: number;
  /** Smoothed levels at or below this (dBFS) are silence: no voice activity. */
  voiceThresholdDb: number;
  /** A challenger must be this much (dB) louder than the current speaker. */
  marginDb: number;
  /** Time constant of the exponential level smoothing (ms). */
  smoothingMs: number;
}

export const DEFAULT_SPEAKER_CONFIG: SpeakerConfig = {
  windowMs: 1000,
  minSwitchIntervalMs: 2000,
  voiceThresholdDb: -50,
  marginDb: 6,
  smoothingMs: 300,
};

const FLOOR_DB = -100;

/** RMS level in dBFS (a full-scale sine reads -3 dB); -100 for silence or no samples. */
export function levelDbfs(samples: Int16Array): number {
  if (samples.length === 0) return FLOOR_DB;
  let sum = 0;
  for (let i = 0; i < samples.length; i++) sum += samples[i] * samples[i];
  const rms = Math.sqrt(sum / samples.length) / 32768;
  return rms > 0 ? Math.max(FLOOR_DB, 20 * Math.log10(rms)) : FLOOR_DB;
}

interface Track {
  /** Smoothed level, dBFS. */
  level: number;
  /** Time of the last update. */
  at: number;
  /** Last time this participant was the dominant voice or the speaking current speaker. */
  heardAt: number;
}

export class ActiveSpeakerDetector {
  private readonly cfg: SpeakerConfig;
  private readonly tracks = new Map<string, Track>();
  private speaker: string | null = null;
  private challenger: string | null = null;
  private challengerSince = 0;
  private lastSwitchAt = -Infinity;

  constructor(config: Partial<SpeakerConfig> = {}) {
    this.cfg = { ...DEFAULT_SPEAKER_CONFIG, ...config };
  }

  get current(): string | null {
    return this.speaker;
  }

  /** One level measurement of a participant at time nowMs. */
  update(participantId: string, levelDb: number, nowMs: number): void {
    const level = Number.isFinite(levelDb) ? Math.min(0, Math.max(FLOOR_DB, levelDb)) : FLOOR_DB;
    const t = this.tracks.get(participantId);
    if (!t) {
      this.tracks.set(participantId, { level, at: nowMs, heardAt: -Infinity });
      return;
    }
    // Exponential smoothing in the dB domain, weighted by the time since the last update, so
    // the result does not depend on how often a participant's audio is measured.
    const a = 1 - Math.exp(-Math.max(0, nowMs - t.at) / this.cfg.smoothingMs);
    t.level += a * (level - t.level);
    t.at = Math.max(t.at, nowMs);
  }

  remove(participantId: string): void {
    this.tracks.delete(participantId);
    if (this.speaker === participantId) this.speaker = null;
    if (this.challenger === participantId) this.challenger = null;
  }

  /**
   * Participants who have spoken (were the dominant voice, or the current speaker while voice
   * active), most recent first; the current speaker first on a tie.
   */
  recent(): string[] {
    return [...this.tracks.entries()]
      .filter(([, t]) => t.heardAt > -Infinity)
      .sort(([a, ta], [b, tb]) => tb.heardAt - ta.heardAt || Number(b === this.speaker) - Number(a === this.speaker))
      .map(([id]) => id);
  }

  /** Re-evaluates; returns the new speaker id if a switch happened at this call, else null. */
  tick(nowMs: number): string | null {
    const { voiceThresholdDb, marginDb, windowMs, minSwitchIntervalMs } = this.cfg;
    let loudest: string | null = null;
    let loudestLevel = -Infinity;
    for (const [id, t] of this.tracks) {
      const level = this.levelAt(t, nowMs);
      if (level > voiceThresholdDb && level > loudestLevel) {
        loudest = id;
        loudestLevel = level;
      }
    }
    const current = this.speaker === null ? undefined : this.tracks.get(this.speaker);
    const currentLevel = current ? this.levelAt(current, nowMs) : FLOOR_DB;
    if (loudest !== null) this.tracks.get(loudest)!.heardAt = nowMs;
    if (current && currentLevel > voiceThresholdDb) current.heardAt = nowMs;

    const dominates =
      loudest !== null &&
      loudest !== this.speaker &&
      (currentLevel <= voiceThresholdDb || loudestLevel >= currentLevel + marginDb);
    if (!dominates) {
      // Any interruption restarts the challenger's window: domination must be continuous.
      this.challenger = null;
      return null;
    }
    if (this.challenger !== loudest) {
      this.challenger = loudest;
      this.challengerSince = nowMs;
      return null;
    }
    if (nowMs - this.challengerSince < windowMs) return null;
    // The interval guards against flapping between two people; with nobody on the floor (at
    // the start, or after the speaker left) there is nothing to flap from.
    if (this.speaker !== null && nowMs - this.lastSwitchAt < minSwitchIntervalMs) return null;
    this.speaker = loudest;
    this.lastSwitchAt = nowMs;
    this.challenger = null;
    return loudest;
  }

  /** A participant whose audio stopped arriving (muted, stalled) counts as silent. */
  private levelAt(t: Track, nowMs: number): number {
    return nowMs - t.at > 2 * this.cfg.smoothingMs ? FLOOR_DB : t.level;
  }
}
