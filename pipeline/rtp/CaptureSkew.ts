// How much longer a publisher's audio takes than its video from capture to the server. A sender
// packs audio in 20 ms frames after a capture buffer, video a frame at a time, so the audio of
// an instant arrives later than its picture, by an amount that depends on the client (Chromium,
// OBS, GStreamer, aiortc each buffer differently). The publisher's sender reports say when each
// RTP timestamp was captured, on one clock for both kinds; the server's arrival times are on
// another. arrival − capture per kind carries the unknown offset between the two clocks, the
// same for both kinds, so the difference of the two kinds is exact: what a receiver's lip sync
// computes. The least (arrival − capture) over the last few seconds is the path's fixed part
// (a packet held in a burst or a queue arrives later, never earlier).
// A sender's reports are trusted once two in a row agree with its RTP clock (the NTP time
// between them within SR_TOLERANCE_MS of the RTP time between them): some stacks write a wrong
// NTP fraction (werift writes the decimal digits of the fraction of a second, so its reports
// jump by up to a second), and a lag taken from them would be that wrong. A lag outside
// MIN_LAG_MS…MAX_LAG_MS is not believed either.
// Pure: times and reports are passed in.

/** The least is taken over two windows of this length (the current one and the last). */
const WINDOW_MS = 4000;
/** Two reports agree when their NTP and RTP times apart differ by at most this (ms). */
const SR_TOLERANCE_MS = 15;
/** A believable lag of the audio over the video (ms): a capture buffer and a frame or two. */
const MIN_LAG_MS = -50;
const MAX_LAG_MS = 150;

interface Mapping {
  ntpMs: number;
  rtpTs: number;
  /** Agreed with the report before it. */
  trusted: boolean;
}

/** RTP clock rates: Opus is always 48 kHz, video 90 kHz. */
const CLOCK_RATE = { audio: 48000, video: 90000 } as const;

class WindowedMin {
  private current = Infinity;
  private previous = Infinity;
  private startedAt = -Infinity;

  add(v: number, now: number): void {
    if (now - this.startedAt >= WINDOW_MS) {
      this.previous = now - this.startedAt >= 2 * WINDOW_MS ? Infinity : this.current;
      this.current = Infinity;
      this.startedAt = now;
    }
    if (v < this.current) this.current = v;
  }

  get value(): number | null {
    const v = Math.min(this.current, this.previous);
    return Number.isFinite(v) ? v : null;
  }
}

export class CaptureSkew {
  private readonly mappings = new Map<number, Mapping>();
  private readonly audio = new WindowedMin();
  private readonly video = new WindowedMin();

  /** A sender report: RTP timestamp `rtpTs` of stream `ssrc` (of `kind`) was captured at `ntpMs` (the sender's clock, ms). */
  onSenderReport(ssrc: number, ntpMs: number, rtpTs: number, kind: 'audio' | 'video'): void {
    const last = this.mappings.get(ssrc);
    if (!last && this.mappings.size >= 16) return; // a sender inventing SSRCs
    const rtpMs = last ? (((rtpTs - last.rtpTs) | 0) / CLOCK_RATE[kind]) * 1000 : NaN;
    const trusted = last !== undefined && Math.abs(ntpMs - last.ntpMs - rtpMs) <= SR_TOLERANCE_MS;
    this.mappings.set(ssrc, { ntpMs, rtpTs: rtpTs >>> 0, trusted });
  }

  /** A packet of `kind` with RTP timestamp `ts` on stream `ssrc` arrived at `arrivalMs` (the server's clock). */
  onPacket(kind: 'audio' | 'video', ssrc: number, ts: number, arrivalMs: number): void {
    const m = this.mappings.get(ssrc);
    if (!m?.trusted) return;
    // Signed 32-bit distance from the report's timestamp: wraps come out right.
    const capturedMs = m.ntpMs + (((ts - m.rtpTs) | 0) / CLOCK_RATE[kind]) * 1000;
    (kind === 'audio' ? this.audio : this.video).add(arrivalMs - capturedMs, arrivalMs);
  }

  /**
   * How much later than its picture the audio of one instant arrives (ms, may be negative):
   * null until both kinds have a sender report and packets after it.
   */
  audioLagMs(): number | null {
    const a = this.audio.value;
    const v = this.video.value;
    if (a === null || v === null) return null;
    const lag = a - v;
    return lag >= MIN_LAG_MS && lag <= MAX_LAG_MS ? lag : null;
  }
}
