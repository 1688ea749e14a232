// The AGC's control loop, in Node: from a participant's 100 ms input levels it keeps a speech
// level estimate (only windows well above the noise floor count as speech) and rides a gain
// towards a target, a few dB per window, held through pauses. The gain reaches FFmpeg as a
// `volume` command, so the audio path holds back nothing for it (speechnorm, which decides per
// half-cycle inside the graph, held each 20 ms write back a whole write). Pure.

export interface GainRiderConfig {
  /** Speech level (dBFS RMS) every voice is brought to. */
  targetDb: number;
  maxBoostDb: number;
  maxCutDb: number;
  /** Largest change per 100 ms window of speech. */
  stepDb: number;
  /** A window counts as speech when this far above the noise floor… */
  aboveFloorDb: number;
  /** …and above this absolute level. */
  minSpeechDb: number;
}

export const DEFAULT_GAIN_RIDER: GainRiderConfig = {
  targetDb: -20,
  maxBoostDb: 20,
  maxCutDb: -12,
  stepDb: 2,
  aboveFloorDb: 10,
  minSpeechDb: -60,
};

export class GainRider {
  gainDb = 0;
  private speechPower: number | null = null;

  constructor(private readonly cfg: GainRiderConfig = DEFAULT_GAIN_RIDER) {}

  /** One 100 ms input level (dBFS) and the current noise floor (null: unknown yet, no change). */
  update(levelDb: number, floorDb: number | null): number {
    const c = this.cfg;
    const speech = floorDb !== null && levelDb > c.minSpeechDb && levelDb > floorDb + c.aboveFloorDb;
    if (!speech) return this.gainDb;
    const p = 10 ** (levelDb / 10);
    this.speechPower = this.speechPower === null ? p : 0.8 * this.speechPower + 0.2 * p;
    const speechDb = 10 * Math.log10(this.speechPower);
    const want = Math.min(c.maxBoostDb, Math.max(c.maxCutDb, c.targetDb - speechDb));
    const step = Math.max(-c.stepDb, Math.min(c.stepDb, want - this.gainDb));
    this.gainDb = Math.round((this.gainDb + step) * 10) / 10;
    return this.gainDb;
  }
}
