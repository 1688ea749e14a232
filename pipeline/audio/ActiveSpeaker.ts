// Active speaker detection from decoded audio levels, with hysteresis so the big tile does not
// flap: a challenger must be the loudest voice, clearly louder than the current speaker,
// continuously for `windowMs`, and switches are at least `minSwitchIntervalMs` apart. Pure:
// callers pass levels and the time.

export interface SpeakerConfig {
  /** How long a challenger must dominate before it takes over. */
  windowMs: number;
  /** At most one switch per this interval. */
  minSwitchIntervalMs: number;
  /** Smoothed levels below this are silence (no voice activity). */
  voiceThresholdDb: number;
  /** A challenger must be this much louder than the current speaker. */
  marginDb: number;
  /** Time constant of the level smoothing. */
  smoothingMs: number;
}

export const DEFAULT_SPEAKER_CONFIG: SpeakerConfig = {
  windowMs: 1000,
  minSwitchIntervalMs: 2000,
  voiceThresholdDb: -50,
  marginDb: 6,
  smoothingMs: 300,
};

/** RMS level in dBFS (a full-scale sine reads -3 dB); -100 for silence. */
export function levelDbfs(samples: Int16Array): number {
  if (samples.length === 0) return -100;
  let sum = 0;
  for (let i = 0; i < samples.length; i++) sum += samples[i] * samples[i];
  const rms = Math.sqrt(sum / samples.length) / 32768;
  return rms > 0 ? Math.max(-100, 20 * Math.log10(rms)) : -100;
}

interface Track {
  level: number;
  at: number;
  lastActiveAt: number;
}

export class ActiveSpeakerDetector {
  private readonly cfg: SpeakerConfig;
  private readonly tracks = new Map<string, Track>();
  private speaker: string | null = null;
  private challenger: string | null = null;
  private challengerSince = 0;
  private lastSwitchAt = -Infinity;
  private readonly recency: string[] = [];

  constructor(config: Partial<SpeakerConfig> = {}) {
    this.cfg = { ...DEFAULT_SPEAKER_CONFIG, ...config };
  }

  get current(): string | null {
    return this.speaker;
  }

  update(participantId: string, levelDb: number, nowMs: number): void {
    const t = this.tracks.get(participantId);
    if (!t) {
      this.tracks.set(participantId, { level: levelDb, at: nowMs, lastActiveAt: levelDb > this.cfg.voiceThresholdDb ? nowMs : -Infinity });
      return;
    }
    // Exponential smoothing in the dB domain, weighted by the time since the last update.
    const a = 1 - Math.exp(-Math.max(0, nowMs - t.at) / this.cfg.smoothingMs);
    t.level += a * (levelDb - t.level);
    t.at = nowMs;
    if (t.level > this.cfg.voiceThresholdDb) t.lastActiveAt = nowMs;
  }

  remove(participantId: string): void {
    this.tracks.delete(participantId);
    const i = this.recency.indexOf(participantId);
    if (i >= 0) this.recency.splice(i, 1);
    if (this.speaker === participantId) this.speaker = null;
    if (this.challenger === participantId) this.challenger = null;
  }

  /** Most recent speakers first (everyone who has ever held the floor, or spoke). */
  recent(): string[] {
    return [...this.recency];
  }

  tick(nowMs: number): string | null {
    let loudest: string | null = null;
    let loudestLevel = -Infinity;
    for (const [id, t] of this.tracks) {
      // A track that stopped reporting is silent.
      const level = nowMs - t.at > this.cfg.smoothingMs * 2 ? -100 : t.level;
      if (level > this.cfg.voiceThresholdDb && level > loudestLevel) {
        loudest = id;
        loudestLevel = level;
      }
    }
    const current = this.speaker ? this.tracks.get(this.speaker) : undefined;
    const currentLevel = current && nowMs - current.at <= this.cfg.smoothingMs * 2 ? current.level : -100;
    const dominates =
      loudest !== null &&
      loudest !== this.speaker &&
      (currentLevel <= this.cfg.voiceThresholdDb || loudestLevel >= currentLevel + this.cfg.marginDb);
    if (!dominates) {
      this.challenger = null;
      return null;
    }
    if (this.challenger !== loudest) {
      this.challenger = loudest;
      this.challengerSince = nowMs;
      return null;
    }
    if (nowMs - this.challengerSince < this.cfg.windowMs) return null;
    if (nowMs - this.lastSwitchAt < this.cfg.minSwitchIntervalMs) return null;
    this.speaker = loudest;
    this.lastSwitchAt = nowMs;
    this.challenger = null;
    const i = this.recency.indexOf(loudest!);
    if (i >= 0) this.recency.splice(i, 1);
    this.recency.unshift(loudest!);
    return loudest;
  }
}
