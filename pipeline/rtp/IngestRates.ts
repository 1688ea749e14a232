// A publisher's frame rate, decode work and bitrates over the last interval, from the counters
// its receivers keep (they only grow): each update turns their change into per-second figures.

export interface IngestCounts {
  frames: number;
  pixels: number;
  videoBytes: number;
  audioBytes: number;
  /** Per simulcast layer (rid): frames assembled and bytes received. */
  layers: Map<string, { frames: number; bytes: number }>;
}

export class IngestRates {
  fps = 0;
  videoKbps = 0;
  audioKbps = 0;
  pixelsPerSec = 0;
  readonly layers = new Map<string, { fps: number; kbps: number }>();
  private prev: IngestCounts = { frames: 0, pixels: 0, videoBytes: 0, audioBytes: 0, layers: new Map() };

  /** The counters now, `dt` seconds after the last update (an implausible dt keeps the figures). */
  update(c: IngestCounts, dt: number): void {
    if (dt > 0 && dt < 10) {
      this.fps = (c.frames - this.prev.frames) / dt;
      this.pixelsPerSec = (c.pixels - this.prev.pixels) / dt;
      this.videoKbps = ((c.videoBytes - this.prev.videoBytes) * 8) / dt / 1000;
      this.audioKbps = ((c.audioBytes - this.prev.audioBytes) * 8) / dt / 1000;
      for (const [rid, l] of c.layers) {
        const was = this.prev.layers.get(rid) ?? { frames: 0, bytes: 0 };
        this.layers.set(rid, { fps: (l.frames - was.frames) / dt, kbps: ((l.bytes - was.bytes) * 8) / dt / 1000 });
      }
    }
    this.prev = c;
  }
}
