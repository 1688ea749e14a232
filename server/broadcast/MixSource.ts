// What a broadcast (HLS, RTMP push) needs of a room: its name and a tap on the mix. Rooms
// implement it; broadcasts depend on this, not on Room, so nothing imports back up into rooms/.

/** A listener on a room's mixed output. */
export interface MixTap {
  /** Video rungs it takes, e.g. ['720p-h264', '360p-h264']. */
  rungs: string[];
  /** A packet of `rung`, continuous across mixer restarts and starting on a keyframe. */
  video(rung: string, packet: Buffer): void;
  /** A packet of the full audio mix. */
  audio(packet: Buffer): void;
}

export interface MixSource {
  readonly name: string;
  /** Starts feeding `tap`; the returned function stops it (idempotent). */
  addTap(tap: MixTap): () => void;
}
