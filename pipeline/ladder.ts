// The bitrate ladder and per-subscriber adaptation. Pure: feedback and time come in as data.
//
// Levels: 720p (30 fps, 1500 kbps), 360p (15 fps, 400 kbps), audio-only. Each level that
// carries video is encoded once per room per codec (VP8, or H.264 for devices that need it)
// and only while someone watches it.

export type Codec = 'vp8' | 'h264';
export type Level = '720p' | '360p' | 'audio';
export const LEVELS: readonly Level[] = ['720p', '360p', 'audio']; // best first

export interface RungSpec {
  /** e.g. "720p", "360p-h264". */
  id: string;
  level: Exclude<Level, 'audio'>;
  codec: Codec;
  width: number;
  height: number;
  fps: number;
  bitrateKbps: number;
}

const VIDEO_LEVELS: Record<Exclude<Level, 'audio'>, Omit<RungSpec, 'id' | 'level' | 'codec'>> = {
  '720p': { width: 1280, height: 720, fps: 30, bitrateKbps: 1500 },
  '360p': { width: 640, height: 360, fps: 15, bitrateKbps: 400 },
};

/**
 * Encoded while a room has publishers or subscribers, watched or not (MIX_ALWAYS_ON_RUNGS): nearly every member
 * watches 720p, and 360p is where a subscriber on a poor link steps down to. The first watcher of
 * either, or a step down, then joins a running encode: adding a rung to the mixer replaces its
 * video process (make before break), which costs every other subscriber a new FFmpeg starting
 * on the box beside theirs. 360p15 VP8 costs ~1/8 of 720p30's encode.
 */
export const DEFAULT_ALWAYS_ON_RUNGS: readonly string[] = ['720p', '360p'];

/** MIX_ALWAYS_ON_RUNGS: a comma-separated list of rung ids ("720p,360p", "720p", "" for none). */
export function parseAlwaysOnRungs(raw: string | undefined): string[] {
  if (raw === undefined) return [...DEFAULT_ALWAYS_ON_RUNGS];
  const ids = raw.split(',').map((s) => s.trim()).filter(Boolean);
  const bad = ids.filter((id) => !rungById(id));
  if (bad.length) throw new Error(`MIX_ALWAYS_ON_RUNGS: unknown rung ${bad.map((b) => `"${b}"`).join(', ')} (known: 720p, 360p, 720p-h264, 360p-h264)`);
  return sortRungs(ids);
}

/** Audio bitrate every level carries. */
export const AUDIO_KBPS = 48;

export function rungFor(level: Level, codec: Codec): RungSpec | null {
  if (level === 'audio') return null;
  return { id: codec === 'vp8' ? level : `${level}-${codec}`, level, codec, ...VIDEO_LEVELS[level] };
}

export function rungById(id: string): RungSpec | null {
  const [level, codec = 'vp8'] = id.split('-') as [Level, Codec?];
  if (!(level in VIDEO_LEVELS) || (codec !== 'vp8' && codec !== 'h264')) return null;
  return rungFor(level, codec);
}

/** Stable order for the mixer's outputs: 720p before 360p, VP8 before H.264. */
export function sortRungs(ids: Iterable<string>): string[] {
  const rank = (id: string) => {
    const r = rungById(id)!;
    return LEVELS.indexOf(r.level) * 2 + (r.codec === 'h264' ? 1 : 0);
  };
  return [...new Set(ids)].filter((id) => rungById(id)).sort((a, b) => rank(a) - rank(b));
}

export interface Feedback {
  atMs: number;
  /** Loss the subscriber reported for the last interval, percent. */
  lossPercent: number;
  rttMs: number | null;
  /** Receiver / transport bandwidth estimate (REMB, TWCC), kbps. */
  estimateKbps: number | null;
}

export interface AdapterConfig {
  /** Bad feedback must persist this long before stepping down. */
  downAfterMs: number;
  /** Good feedback must persist this long before stepping up (doubles after each failed probe, up to maxUpAfterMs). */
  upAfterMs: number;
  maxUpAfterMs: number;
  /** Thresholds from the article: loss > 5 % or RTT > 300 ms → down; loss < 1 % and RTT < 100 ms → up. */
  downLossPercent: number;
  downRttMs: number;
  upLossPercent: number;
  upRttMs: number;
}

export const DEFAULT_ADAPTER_CONFIG: AdapterConfig = {
  downAfterMs: 1500,
  upAfterMs: 5000,
  maxUpAfterMs: 40_000,
  downLossPercent: 5,
  downRttMs: 300,
  upLossPercent: 1,
  upRttMs: 100,
};

export function levelKbps(level: Level): number {
  return level === 'audio' ? AUDIO_KBPS : VIDEO_LEVELS[level].bitrateKbps + AUDIO_KBPS;
}

/**
 * One subscriber's level, with hysteresis: down quickly when the network says so, up slowly
 * and only when it has been good for a while. A step up that fails soon after (a failed probe:
 * a step down from the level it reached, within twice the wait) makes the next attempt wait
 * twice as long, so it does not flap; a step up that holds that long resets the wait. Only the
 * probe's own level counts: falling further (the link got worse) is not another failed probe,
 * so a link that drops and recovers is climbed back at the base pace.
 */
export class RungAdapter {
  private readonly cfg: AdapterConfig;
  private badSince: number | null = null;
  private goodSince: number | null = null;
  private upWait: number;
  /** The last step up still on probation (not yet held 2 × the wait, not yet failed). */
  private probe: { level: Level; atMs: number } | null = null;
  level: Level;

  constructor(start: Level = '720p', config: Partial<AdapterConfig> = {}) {
    this.cfg = { ...DEFAULT_ADAPTER_CONFIG, ...config };
    this.upWait = this.cfg.upAfterMs;
    this.level = start;
  }

  /** Feeds one sample; returns the new level when it changes. */
  update(fb: Feedback): Level | null {
    const c = this.cfg;
    const rtt = fb.rttMs ?? 0;
    // The article's rule, on the subscriber's own RTCP: loss and RTT decide. The receiver's
    // bandwidth estimate (REMB) is reported but does not decide: libwebrtc's REMB starts low,
    // ramps slowly, only measures what it receives (it cannot see room above a 360p stream)
    // and means nothing while only audio flows, so trusting it pins subscribers low.
    const bad = fb.lossPercent > c.downLossPercent || rtt > c.downRttMs;
    const good = fb.lossPercent < c.upLossPercent && rtt < c.upRttMs;
    const i = LEVELS.indexOf(this.level);

    if (bad) {
      this.goodSince = null;
      this.badSince ??= fb.atMs;
      if (fb.atMs - this.badSince >= c.downAfterMs && i < LEVELS.length - 1) {
        // Leaving the level a step up just reached, within twice its wait: a failed probe, back off.
        if (this.probe?.level === this.level && fb.atMs - this.probe.atMs < 2 * this.upWait) this.upWait = Math.min(c.maxUpAfterMs, this.upWait * 2);
        this.probe = null;
        this.level = LEVELS[i + 1];
        this.badSince = null;
        return this.level;
      }
      return null;
    }
    this.badSince = null;
    // The last step up held for twice its wait: it was no failed probe, the next one waits the base time.
    if (this.probe && fb.atMs - this.probe.atMs >= 2 * this.upWait) {
      this.probe = null;
      this.upWait = c.upAfterMs;
    }
    if (!good || i === 0) {
      this.goodSince = null;
      return null;
    }
    this.goodSince ??= fb.atMs;
    if (fb.atMs - this.goodSince >= this.upWait) {
      this.level = LEVELS[i - 1];
      this.goodSince = null;
      this.probe = { level: this.level, atMs: fb.atMs };
      return this.level;
    }
    return null;
  }

  /** The wait before the next step up (grows after failed probes). */
  get upAfterMs(): number {
    return this.upWait;
  }
}
