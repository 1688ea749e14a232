// Admission from measured load (pure: the caller measures). A new room is admitted only if the
// CPU it will need fits in what is left: the busy cores measured now, plus what the rooms
// admitted in the last few seconds will add once their publishers arrive (not measured yet),
// plus one more room's worth, must stay under the limit. One room's worth is what this
// server's rooms cost on average (its own process and its FFmpeg children), never less than
// MIN_ROOM_CORES, so the estimate is sound before the first room and while rooms are starting.
// A new publisher in an existing room is refused only when the limit is already exceeded.

/** The least one room is assumed to cost (cores): a mixer encoding one rung at 30 fps. */
export const MIN_ROOM_CORES = 0.3;
/** A room admitted this recently is counted at the estimate, on top of what is measured. */
export const PENDING_ROOM_MS = 8000;

export interface LoadSample {
  /** Cores this machine (or this container's CPU quota) has. */
  capacityCores: number;
  /** Cores busy over the last seconds, whoever used them. */
  busyCores: number;
  /** Cores this server used (its process and its FFmpeg children). */
  serverCores: number;
  /** Rooms hosted now. */
  rooms: number;
}

/** What one more room is expected to cost, in cores. */
export function roomCostCores(s: LoadSample): number {
  return Math.max(MIN_ROOM_CORES, s.rooms > 0 ? s.serverCores / s.rooms : 0);
}

/**
 * Why a new room (kind 'room') or a new publisher ('publisher') would be refused under
 * `maxCpuPct` (a share of capacityCores), or null. `pendingRooms`: rooms admitted within
 * PENDING_ROOM_MS.
 */
export function cpuRefusal(s: LoadSample, maxCpuPct: number, kind: 'room' | 'publisher', pendingRooms = 0): string | null {
  if (!maxCpuPct || s.capacityCores <= 0) return null;
  const limit = (s.capacityCores * maxCpuPct) / 100;
  const pct = (cores: number) => Math.round((100 * cores) / s.capacityCores);
  if (kind === 'publisher') {
    return s.busyCores > limit ? `the server is overloaded (CPU ${pct(s.busyCores)} % > ${maxCpuPct} %)` : null;
  }
  const room = roomCostCores(s);
  const projected = s.busyCores + (pendingRooms + 1) * room;
  if (projected <= limit) return null;
  return `the server has no CPU headroom for another room (CPU ${pct(s.busyCores)} % now${pendingRooms ? `, ${pendingRooms} room(s) starting` : ''}, a room needs about ${pct(room)} %, limit ${maxCpuPct} %)`;
}
