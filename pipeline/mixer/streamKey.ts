// The names of the mixer's output streams: one per video rung, the full audio mix, and one
// mix-minus per slot (everyone but that slot). Made and read only here, so no caller slices
// a prefix off a string.

export type VideoStreamKey = `video:${string}`;
export type AudioStreamKey = 'full' | `minus:${number}`;
export type MixStreamKey = VideoStreamKey | AudioStreamKey;

const VIDEO = 'video:';
const MINUS = 'minus:';

export const FULL_MIX_KEY = 'full' satisfies AudioStreamKey;

export const videoStreamKey = (rungId: string): VideoStreamKey => `${VIDEO}${rungId}`;
export const minusStreamKey = (slot: number): AudioStreamKey => `${MINUS}${slot}`;

export function isVideoStreamKey(key: string): key is VideoStreamKey {
  return key.startsWith(VIDEO);
}

/** The rung a video stream carries, or null for an audio stream. */
export function rungOfStreamKey(key: string): string | null {
  return isVideoStreamKey(key) ? key.slice(VIDEO.length) : null;
}

/** The slot a mix-minus stream leaves out, or null for any other stream. */
export function slotOfStreamKey(key: string): number | null {
  if (!key.startsWith(MINUS)) return null;
  const slot = Number(key.slice(MINUS.length));
  return Number.isInteger(slot) && slot >= 0 ? slot : null;
}
