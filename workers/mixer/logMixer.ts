// A room's mixer in the log: each restart with its cause, each error.

import type { Logger } from '../log.ts';
import type { RoomMixer } from './RoomMixer.ts';

/**
 * Logs every restart and error of a room's mixer with its cause (RoomMixer logs the details): a
 * planned replacement (a rung added or dropped, capacity) is routine; anything else is a fault.
 */
export function logMixer(mixer: RoomMixer, room: string, log: Logger): void {
  mixer.on('restarted', (r) => {
    const planned = r.reason === 'rungs' || r.reason === 'capacity';
    if (planned) log.info({ room, reason: r.reason, epoch: r.epoch, lane: r.lane }, 'room mixer replaced');
    else log.warn({ room, reason: r.reason, epoch: r.epoch, lane: r.lane }, 'room mixer restarted');
  });
  mixer.on('error', (err) => log.error({ room, err }, 'room mixer error'));
}
