// What a room is made with: its ICE servers and network, first settings, mixer settings, seat
// limits and session timeouts. Each left out takes its default, the timeouts from the
// environment, read when the room is made.

import { DEFAULT_MIXER_SETTINGS, type MixerSettings } from '../../pipeline/mixer/graph.ts';
import type { RoomSettingsPatch } from '../../pipeline/room/settings.ts';
import type { SeatLimits } from '../../pipeline/room/Seats.ts';
import { envInt } from '../../pipeline/env.ts';
import { parseAlwaysOnRungs } from '../../pipeline/ladder.ts';
import { HOST_NETWORK, type IceNetwork } from '../rtc/network.ts';

export interface RoomOptions {
  iceServers: () => any[];
  settings: RoomSettingsPatch;
  mixerSettings: MixerSettings;
  limits: SeatLimits;
  /** A stalled publisher (connected, no media) is removed after this long (PUBLISHER_STALLED_REMOVE_MS). */
  stalledRemoveMs: number;
  /** A WHIP or WHEP session whose ICE/DTLS has not connected by then is closed, its slot freed (SESSION_CONNECT_TIMEOUT_MS). */
  connectTimeoutMs: number;
  /** The shortest RTCP silence after which a subscriber is taken for gone (SUBSCRIBER_SILENT_MIN_MS; see Egress). */
  subscriberSilentMs: number;
  /** ICE_ANNOUNCED_IP and the UDP port range of this room's peer connections. */
  network: IceNetwork;
  /** Rungs encoded while the room has publishers or subscribers, watched or not (MIX_ALWAYS_ON_RUNGS; pipeline/ladder.ts). */
  alwaysOnRungs: readonly string[];
}

/** `o` with every option it leaves out (or gives as undefined) set to its default. */
export function roomOptions(o: Partial<RoomOptions>, env: NodeJS.ProcessEnv = process.env): RoomOptions {
  return {
    iceServers: o.iceServers ?? (() => []),
    settings: o.settings ?? {},
    mixerSettings: o.mixerSettings ?? DEFAULT_MIXER_SETTINGS,
    limits: o.limits ?? { maxParticipants: 16, maxSubscribers: 500 },
    stalledRemoveMs: o.stalledRemoveMs ?? Number(env.PUBLISHER_STALLED_REMOVE_MS ?? 20_000),
    connectTimeoutMs: o.connectTimeoutMs ?? envInt(env, 'SESSION_CONNECT_TIMEOUT_MS', 15_000, 500, 600_000),
    subscriberSilentMs: o.subscriberSilentMs ?? envInt(env, 'SUBSCRIBER_SILENT_MIN_MS', 5000, 500, 600_000),
    network: o.network ?? HOST_NETWORK,
    alwaysOnRungs: o.alwaysOnRungs ?? parseAlwaysOnRungs(env.MIX_ALWAYS_ON_RUNGS),
  };
}
