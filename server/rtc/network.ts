// The network side of the server's own peer connections (ingest and egress alike): which UDP
// ports their ICE sockets bind and which address their candidates announce.

import { isIP } from 'node:net';
import { announceCandidates, candidatesOf, type PortRange } from '../../pipeline/net/announce.ts';
import { unavailable } from '../../pipeline/errors.ts';

export interface IceNetwork {
  /** The address clients reach (1:1 NAT, a container's published ports); null: the host's own. */
  announcedIp: string | null;
  /** Every ICE socket binds a port in this range; null: any ephemeral port. */
  portRange: PortRange | null;
}

export const HOST_NETWORK: IceNetwork = { announcedIp: null, portRange: null };

/** werift RTCPeerConnection settings for this network. */
export function peerNetworkConfig(net: IceNetwork): { icePortRange?: [number, number]; iceUseIpv4?: boolean; iceUseIpv6?: boolean } {
  const out: { icePortRange?: [number, number]; iceUseIpv4?: boolean; iceUseIpv6?: boolean } = {};
  if (net.portRange) out.icePortRange = [net.portRange.min, net.portRange.max];
  // Sockets of the other family would only use up ports of the range: their candidates are dropped.
  if (net.announcedIp) {
    out.iceUseIpv4 = isIP(net.announcedIp) === 4;
    out.iceUseIpv6 = isIP(net.announcedIp) === 6;
  }
  return out;
}

/** The local description (or fragment) as clients get it: candidates announced and checked. */
export function answerForClients(net: IceNetwork, sdp: string): string {
  const out = net.announcedIp ? announceCandidates(sdp, net.announcedIp) : sdp;
  if (net.portRange && candidatesOf(out).length === 0) {
    throw unavailable(
      `no UDP port free in ICE_UDP_PORT_MIN..ICE_UDP_PORT_MAX (${net.portRange.min}-${net.portRange.max}) for a new peer connection; try again later or widen the range`,
    );
  }
  return out;
}

let queue: Promise<void> = Promise.resolve();

/**
 * werift picks a port of the range by binding, closing, then binding again; two peer
 * connections gathering at once can pick the same port, and the second bind then fails
 * outside any handler. With a range, gathering runs one peer connection at a time: call the
 * returned release() once gathering is complete (or failed).
 */
export async function gatherTurn(net: IceNetwork): Promise<() => void> {
  if (!net.portRange) return () => {};
  let release!: () => void;
  const mine = new Promise<void>((r) => (release = r));
  const before = queue;
  queue = before.then(() => mine);
  await before;
  return release;
}
