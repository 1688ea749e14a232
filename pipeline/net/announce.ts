// ICE behind 1:1 NAT (a container's published ports, a cloud VM's elastic address): the
// server's host candidates carry the address clients must reach (ICE_ANNOUNCED_IP), like
// Janus' nat_1_1_mapping or mediasoup's announcedAddress. The sockets stay bound to the
// wildcard address, so a packet the NAT forwards to port P reaches the socket of the candidate
// that named P. Pure: text in, text out.

import { isIP } from 'node:net';

export interface PortRange {
  min: number;
  max: number;
}

/**
 * `sdp` (a full description or an SDP fragment) with every host candidate of the announced
 * address' family rewritten to `ip`, candidates of the other family and server-reflexive ones
 * dropped (the announced address replaces both), relays kept, duplicate ip:port pairs dropped,
 * and each `c=` line naming the announced address.
 */
export function announceCandidates(sdp: string, ip: string): string {
  const family = isIP(ip);
  if (!family) throw new Error(`not an IP address: "${ip}"`);
  const eol = sdp.includes('\r\n') ? '\r\n' : '\n';
  const seen = new Set<string>();
  const out: string[] = [];
  for (const line of sdp.split(/\r?\n/)) {
    if (line.startsWith('c=IN IP')) {
      out.push(`c=IN IP${family} ${ip}`);
      continue;
    }
    const cand = parseCandidateLine(line);
    if (!cand) {
      out.push(line);
      continue;
    }
    if (cand.type === 'relay') {
      out.push(line);
      continue;
    }
    if (cand.type !== 'host' || isIP(cand.address) !== family) continue;
    const key = `${cand.component} ${cand.transport} ${cand.port}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const f = cand.fields.slice();
    f[4] = ip;
    out.push(`a=candidate:${f.join(' ')}`);
  }
  return out.join(eol);
}

export interface CandidateLine {
  fields: string[];
  component: string;
  transport: string;
  address: string;
  port: number;
  type: string;
}

/** `a=candidate:<foundation> <component> <transport> <priority> <address> <port> typ <type> …` */
export function parseCandidateLine(line: string): CandidateLine | null {
  if (!line.startsWith('a=candidate:')) return null;
  const fields = line.slice('a=candidate:'.length).trim().split(/\s+/);
  if (fields.length < 8 || fields[6] !== 'typ') return null;
  return { fields, component: fields[1], transport: fields[2].toLowerCase(), address: fields[4], port: Number(fields[5]), type: fields[7] };
}

/** The candidates of a description, for checks (every one announced, every port in range). */
export function candidatesOf(sdp: string): CandidateLine[] {
  return sdp.split(/\r?\n/).map(parseCandidateLine).filter((c): c is CandidateLine => c !== null);
}
