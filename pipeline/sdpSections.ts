// SDP as real clients write it, made into the shape the server's WebRTC stack (werift) reads
// correctly. Pure string work on m-sections:
//
// - bundle-only: GStreamer's webrtcbin (and JSEP's max-bundle) writes every bundled section
//   but the first as `m=video 0` + `a=bundle-only`. Such a section is active (RFC 9143 / JSEP
//   5.2.1); a port-0 section without bundle-only is one the client rejected.
// - ICE credentials inside one BUNDLE group: aiortc gives each m-section its own ufrag/pwd and
//   answers connectivity checks with the first section's; werift keeps the last. Every section
//   of a group gets the first bundled section's credentials (the ones the transport uses).

export interface SdpSplit {
  session: string[];
  sections: string[][];
}

export function splitSdp(sdp: string): SdpSplit {
  const lines = sdp.split(/\r?\n/).filter((l) => l.length > 0);
  const session: string[] = [];
  const sections: string[][] = [];
  for (const line of lines) {
    if (line.startsWith('m=')) sections.push([line]);
    else if (sections.length) sections[sections.length - 1].push(line);
    else session.push(line);
  }
  return { session, sections };
}

export function joinSdp(s: SdpSplit): string {
  return [...s.session, ...s.sections.flat()].join('\r\n') + '\r\n';
}

const attr = (lines: string[], name: string): string | null => {
  const prefix = `a=${name}:`;
  const l = lines.find((x) => x.startsWith(prefix));
  return l ? l.slice(prefix.length).trim() : null;
};

export const sectionMid = (section: string[]): string | null => attr(section, 'mid');
export const sectionPort = (section: string[]): number => Number(section[0].split(/\s+/)[1]);
export const sectionKind = (section: string[]): string => section[0].slice(2).split(/\s+/)[0];
export const isBundleOnly = (section: string[]): boolean => section.includes('a=bundle-only');

/** The mids of each `a=group:BUNDLE` line. */
export function bundleGroups(session: string[]): string[][] {
  return session
    .filter((l) => l.startsWith('a=group:BUNDLE'))
    .map((l) => l.slice('a=group:BUNDLE'.length).trim().split(/\s+/).filter(Boolean));
}

/** A section that takes part: a non-zero port, or port 0 with bundle-only inside a BUNDLE group. */
export function sectionActive(section: string[], groups: string[][]): boolean {
  if (sectionPort(section) !== 0) return true;
  const mid = sectionMid(section);
  return isBundleOnly(section) && mid !== null && groups.some((g) => g.includes(mid));
}

/** bundle-only sections of a BUNDLE group get port 9 (werift treats port 0 as rejected). */
export function activateBundleOnly(sdp: string): string {
  const s = splitSdp(sdp);
  const groups = bundleGroups(s.session);
  let changed = false;
  s.sections = s.sections.map((sec) => {
    if (sectionPort(sec) !== 0 || !sectionActive(sec, groups)) return sec;
    changed = true;
    const m = sec[0].split(/\s+/);
    m[1] = '9';
    return [m.join(' '), ...sec.slice(1).filter((l) => l !== 'a=bundle-only')];
  });
  return changed ? joinSdp(s) : sdp;
}

/** Every section of a BUNDLE group carries the first bundled section's ICE ufrag and pwd. */
export function normalizeBundleIce(sdp: string): string {
  const s = splitSdp(sdp);
  const groups = bundleGroups(s.session);
  if (!groups.length) return sdp;
  const sessionUfrag = attr(s.session, 'ice-ufrag');
  const sessionPwd = attr(s.session, 'ice-pwd');
  let changed = false;
  for (const group of groups) {
    const members = s.sections.filter((sec) => {
      const mid = sectionMid(sec);
      return mid !== null && group.includes(mid);
    });
    if (members.length < 2) continue;
    // The group's first mid names the section whose transport the bundle uses.
    const first = members.find((sec) => sectionMid(sec) === group[0]) ?? members[0];
    const ufrag = attr(first, 'ice-ufrag') ?? sessionUfrag;
    const pwd = attr(first, 'ice-pwd') ?? sessionPwd;
    if (!ufrag || !pwd) continue;
    for (const sec of members) {
      const u = attr(sec, 'ice-ufrag');
      const p = attr(sec, 'ice-pwd');
      if ((u === null || u === ufrag) && (p === null || p === pwd)) continue;
      changed = true;
      for (let i = 0; i < sec.length; i++) {
        if (sec[i].startsWith('a=ice-ufrag:')) sec[i] = `a=ice-ufrag:${ufrag}`;
        else if (sec[i].startsWith('a=ice-pwd:')) sec[i] = `a=ice-pwd:${pwd}`;
      }
    }
  }
  return changed ? joinSdp(s) : sdp;
}

/** What both WHIP and WHEP offers go through before werift reads them. */
export function normalizeOffer(sdp: string): string {
  return normalizeBundleIce(activateBundleOnly(sdp));
}

/**
 * An answer's recvonly sections without a=ssrc / a=ssrc-group lines: the server sends no
 * media there, and libwebrtc refuses an answer whose section lists several SSRCs (werift
 * writes its unused sender's SSRC and RTX SSRC).
 */
export function stripRecvonlySsrcs(sdp: string): string {
  const s = splitSdp(sdp);
  s.sections = s.sections.map((sec) =>
    sec.includes('a=recvonly') ? sec.filter((l) => !l.startsWith('a=ssrc:') && !l.startsWith('a=ssrc-group:')) : sec,
  );
  return joinSdp(s);
}

/** Drops spaces at line ends (werift writes `a=simulcast:recv q;h;f ` with one; strict parsers refuse it). */
export function trimTrailingSpace(sdp: string): string {
  return sdp.replace(/[ \t]+(?=\r?\n|$)/g, '');
}
