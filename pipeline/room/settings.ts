// A room's settings (mode, layout, fit, pinned participant, voice processing) and the validation of
// a PUT/PATCH body that changes them. Pure.

import { FIT_MODES, LAYOUT_KINDS, type FitMode, type LayoutKind } from '../layout/layouts.ts';
import { DEFAULT_ROOM_AUDIO, parseAudioPatch, type RoomAudioSettings } from '../audio/voice.ts';

export const ROOM_MODES = ['conference', 'webinar'] as const;
export type RoomMode = (typeof ROOM_MODES)[number];

export interface RoomSettings {
  /** conference: everyone may publish; webinar: only hosts are mixed, everyone else watches. */
  mode: RoomMode;
  layout: LayoutKind;
  fit: FitMode;
  /** The participant shown large in the presentation layout (and preferred in speaker). */
  pinned: string | null;
  /** Voice processing in the mix (pipeline/audio/voice.ts). */
  audio: RoomAudioSettings;
}

/** A PUT/PATCH body, validated: any settings, `audio` switches one by one. */
export type RoomSettingsPatch = Partial<Omit<RoomSettings, 'audio'>> & { audio?: Partial<RoomAudioSettings> };

export const DEFAULT_ROOM_SETTINGS: RoomSettings = { mode: 'conference', layout: 'grid', fit: 'fit', pinned: null, audio: DEFAULT_ROOM_AUDIO };

/** Validates a settings patch (PUT/PATCH bodies); returns a message for the first problem. */
export function parseSettingsPatch(body: unknown): RoomSettingsPatch | string {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return 'the body must be a JSON object';
  const b = body as Record<string, unknown>;
  const out: RoomSettingsPatch = {};
  for (const key of Object.keys(b)) {
    if (!['mode', 'layout', 'fit', 'pinned', 'audio'].includes(key)) return `unknown setting "${key}" (known: mode, layout, fit, pinned, audio)`;
  }
  if (b.audio !== undefined) {
    const audio = parseAudioPatch(b.audio);
    if (typeof audio === 'string') return audio;
    out.audio = audio;
  }
  if (b.mode !== undefined) {
    if (!ROOM_MODES.includes(b.mode as RoomMode)) return `"mode" must be one of ${ROOM_MODES.join(', ')}`;
    out.mode = b.mode as RoomMode;
  }
  if (b.layout !== undefined) {
    if (!LAYOUT_KINDS.includes(b.layout as LayoutKind)) return `"layout" must be one of ${LAYOUT_KINDS.join(', ')}`;
    out.layout = b.layout as LayoutKind;
  }
  if (b.fit !== undefined) {
    if (!FIT_MODES.includes(b.fit as FitMode)) return `"fit" must be one of ${FIT_MODES.join(', ')}`;
    out.fit = b.fit as FitMode;
  }
  if (b.pinned !== undefined) {
    if (b.pinned !== null && typeof b.pinned !== 'string') return '"pinned" must be a participant id or null';
    out.pinned = b.pinned as string | null;
  }
  return out;
}

export const ROOM_NAME = /^[A-Za-z0-9_-]{1,64}$/;

