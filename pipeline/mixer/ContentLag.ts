// How old the content the mixer writes at an instant is: for the video, the pictures' frames
// since they arrived; for the audio, the samples pulled since their packets arrived, less what
// the publishers' own audio path takes over their video's (pipeline/rtp/CaptureSkew.ts). The
// mix's sender reports map each write to (its instant − this lag) instead of the instant, so a
// subscriber's lip sync lines up what was captured together rather than what was mixed together
// (the audio that is mixed at an instant was captured earlier than the pictures mixed with it).
// One figure per write: the mean over the slots that have content, smoothed so that the mapping
// the sender reports carry does not jitter with each tick's mix of ages. Pure.

export class ContentLag {
  private value: number | null = null;

  /** @param alpha how far each write's mean moves the estimate (0…1) */
  constructor(private readonly alpha = 0.05) {}

  /**
   * One write at `atMs` of content that stands at `contentAt` per slot (NaN: a slot without
   * content, left out). Returns the instant the write's content stands for: atMs − the lag.
   */
  contentAt(atMs: number, contentAt: readonly number[]): number {
    let sum = 0;
    let n = 0;
    for (const c of contentAt) {
      // A lag outside 0…1 s is a clock mix-up (or a frozen picture), not an age.
      const lag = atMs - c;
      if (lag >= 0 && lag < 1000) {
        sum += lag;
        n++;
      }
    }
    if (n > 0) {
      const mean = sum / n;
      this.value = this.value === null ? mean : this.value + this.alpha * (mean - this.value);
    }
    return atMs - (this.value ?? 0);
  }

  /** The current lag (ms; 0 before any content). */
  get ms(): number {
    return this.value ?? 0;
  }
}
