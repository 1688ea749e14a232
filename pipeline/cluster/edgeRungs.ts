// Rate adaptation of a webinar edge's viewers, decided without I/O. An edge viewer moves between
// rungs exactly as a viewer on the owner does (server/rooms/RungSelection.ts + MixRouter): once a
// second its own RTCP feedback goes through the same RungAdapter (loss > 5 % or RTT > 300 ms →
// down, loss < 1 % and RTT < 100 ms → up, with hysteresis), and a move to another rung is made
// pending and taken on that rung's next keyframe start. At an edge a rung is a pull from the owner
// (pullKey: "720p/vp8", "360p/vp8", …, "audio"), so a switch is from one pull to another, and the
// pulls an edge keeps are those its viewers watch or switch to: a rung is pulled when its first
// viewer needs it and dropped after the linger when none does.
// server/cluster/EdgeRelays.ts does the pulls and moves the viewers.

import { RungAdapter, type AdapterConfig, type Codec, type Feedback, type Level } from '../ladder.ts';
import { pullKey } from './edges.ts';

/** The audio-only pull: a switch to it needs no keyframe. */
export const AUDIO_PULL = pullKey('audio', null);

/** One edge viewer's rung: the pull it receives now, and the one it switches to. */
export class EdgeViewerRung {
  /** The pull key forwarded now. */
  current: string;
  /** The pull key it moves to at that pull's next keyframe start (null: none). */
  pending: string | null = null;
  /** Null when the level is pinned (?level=) or the viewer takes no video. */
  private readonly adapter: RungAdapter | null;

  constructor(
    readonly codec: Codec | null,
    start: Level,
    pinned: boolean,
    config: Partial<AdapterConfig> = {},
  ) {
    const level: Level = codec ? start : 'audio';
    this.current = pullKey(level, codec);
    this.adapter = codec && !pinned ? new RungAdapter(level, config) : null;
  }

  /** The level the viewer's feedback asks for (the pinned or starting one when not adapted). */
  get level(): Level {
    return this.adapter?.level ?? levelOfPull(this.current);
  }

  get adapts(): boolean {
    return this.adapter !== null;
  }

  /**
   * Once a second, the viewer's own feedback (only once it has received video, as on the owner).
   * Returns the pull to switch to when that changes (a new pending switch: make sure the pull
   * exists and ask it for a keyframe), else null. While a switch is pending the feedback still
   * describes the rung being left, and at an edge the new rung's pull may take seconds to start
   * (WHEP, ICE, DTLS, the owner's mixer adding the rung): it is not acted on, so a viewer does
   * not step a second level down on the strength of the stream it is leaving (seen at 600 kbit/s:
   * 720p → 360p pending → audio). A switch whose pull could not be had is asked for again at the
   * next sample.
   */
  adapt(fb: Feedback): string | null {
    if (!this.adapter || this.pending !== null) return null;
    this.adapter.update(fb);
    const want = pullKey(this.adapter.level, this.codec);
    if (want === this.current) return null;
    this.pending = want;
    return want;
  }

  /** The pending pull could not be had (its connect failed): stay, and ask again at the next sample. */
  cancel(): void {
    this.pending = null;
  }

  /**
   * A packet from pull `from`: true when the viewer moves to that pull now — on its keyframe
   * start for a video rung (the decoder never sees a gap), on any packet for audio only.
   */
  onPacket(from: string, kind: 'audio' | 'video', keyframeStart: boolean): boolean {
    if (this.pending === null || from !== this.pending) return false;
    if (from !== AUDIO_PULL && !(kind === 'video' && keyframeStart)) return false;
    this.current = from;
    this.pending = null;
    return true;
  }
}

/** The level a pull key carries. */
export function levelOfPull(key: string): Level {
  return key === AUDIO_PULL ? 'audio' : (key.split('/')[0] as Level);
}
