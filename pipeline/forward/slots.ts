// Which publisher each of a tracks subscriber's video slots shows: the N most recent speakers
// (then, while fewer have spoken, the earliest joiners), each one kept in the slot it already
// has for as long as it stays among the N, so a speaker change moves one slot, not all of
// them. Pure.

/** One subscriber's slots: a participant id, or null for an empty slot. */
export type SlotAssignment = Array<string | null>;

/**
 * The participants a subscriber should see, best first: recent speakers (most recent first),
 * then everyone else in join order. Only `eligible` ones (video whose codec the subscriber
 * takes; not the subscriber itself) count.
 */
export function rankForSlots(recentSpeakers: readonly string[], joinOrder: readonly string[], eligible: (id: string) => boolean): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const id of [...recentSpeakers, ...joinOrder]) {
    if (seen.has(id) || !joinOrder.includes(id) || !eligible(id)) continue;
    seen.add(id);
    out.push(id);
  }
  return out;
}

/**
 * The next assignment for `current` given the ranking: the top `current.length` of `ranked`
 * are shown; those already shown keep their slot, newcomers take the slots that are empty or
 * hold someone who dropped out, in slot order.
 */
export function assignSlots(current: SlotAssignment, ranked: readonly string[]): SlotAssignment {
  const n = current.length;
  const wanted = ranked.slice(0, n);
  const keep = new Set(wanted);
  const next: SlotAssignment = current.map((id) => (id !== null && keep.has(id) ? id : null));
  const placed = new Set(next.filter((id): id is string => id !== null));
  const newcomers = wanted.filter((id) => !placed.has(id));
  for (let i = 0; i < n && newcomers.length; i++) if (next[i] === null) next[i] = newcomers.shift()!;
  return next;
}

/** Slots whose occupant changed (including to or from empty). */
export function changedSlots(before: SlotAssignment, after: SlotAssignment): number[] {
  const out: number[] = [];
  for (let i = 0; i < after.length; i++) if (before[i] !== after[i]) out.push(i);
  return out;
}

/** How many video slots a subscriber gets: ?tracks=N (1..4) or its offer's video m-lines. */
export const MAX_TRACKS = 4;

export function parseTracks(raw: unknown): number | null | string {
  if (raw === undefined || raw === null || raw === '') return null;
  const n = typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > MAX_TRACKS) return `"tracks" must be an integer from 1 to ${MAX_TRACKS}`;
  return n;
}

/** Video m-lines of an offer that can receive (not port 0 unless bundle-only, not sendonly/inactive). */
export function receivingVideoSections(sdp: string): number {
  const sections = sdp.split(/\r?\n(?=m=)/).slice(1);
  return sections.filter((m) => {
    if (!m.startsWith('m=video ')) return false;
    const zeroPort = /^m=video 0 /.test(m);
    if (zeroPort && !/\na=bundle-only/.test(m)) return false;
    return !/\na=(sendonly|inactive)\r?$/m.test(m);
  }).length;
}

/**
 * The number of individual video tracks a WHEP subscriber gets: `?tracks=N` (its offer must
 * hold N receiving video m-lines), or, without the parameter, every receiving video m-line
 * past the first (an offer with 3 video m-lines asks for 3 tracks). null: the mix.
 */
export function tracksFor(query: number | null, videoSections: number): number | null | string {
  if (query !== null) {
    if (videoSections < query) return `?tracks=${query} needs ${query} receiving video m-lines in the offer; it has ${videoSections}`;
    return query;
  }
  return videoSections > 1 ? Math.min(videoSections, MAX_TRACKS) : null;
}
