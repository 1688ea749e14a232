// Trickle ICE and ICE restarts over HTTP PATCH (RFC 9725 section 4.3): SDP fragments
// (application/trickle-ice-sdpfrag, RFC 8840) read and written. Pure.

import { joinSdp, sectionMid, splitSdp } from './sdpSections.ts';

export const SDPFRAG_TYPE = 'application/trickle-ice-sdpfrag';

export interface SdpFrag {
  ufrag: string | null;
  pwd: string | null;
  /** Candidate attribute values (without "a="), with the mid of the section they came in. */
  candidates: Array<{ candidate: string; mid: string | null }>;
  endOfCandidates: boolean;
}

export class SdpFragError extends Error {}

export function parseSdpFrag(text: string): SdpFrag {
  if (typeof text !== 'string' || text.length > 64 * 1024) throw new SdpFragError('the fragment is empty or too large');
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
  const frag: SdpFrag = { ufrag: null, pwd: null, candidates: [], endOfCandidates: false };
  let mid: string | null = null;
  for (const l of lines) {
    if (!/^[a-z]=/.test(l)) throw new SdpFragError(`malformed line in the fragment: "${l.slice(0, 60)}"`);
    if (l.startsWith('m=')) mid = null;
    else if (l.startsWith('a=mid:')) mid = l.slice(6).trim();
    else if (l.startsWith('a=ice-ufrag:')) frag.ufrag = l.slice(12).trim();
    else if (l.startsWith('a=ice-pwd:')) frag.pwd = l.slice(10).trim();
    else if (l.startsWith('a=candidate:')) {
      if (!/^a=candidate:\S+ \d+ \S+ \d+ \S+ \d+ typ \S+/.test(l)) throw new SdpFragError(`malformed candidate: "${l.slice(0, 80)}"`);
      frag.candidates.push({ candidate: l.slice(2), mid });
    } else if (l === 'a=end-of-candidates') frag.endOfCandidates = true;
  }
  if (frag.pwd !== null && frag.ufrag === null) throw new SdpFragError('a=ice-pwd without a=ice-ufrag');
  return frag;
}

/** The first ICE ufrag of a description (the one a bundle uses). */
export function iceUfragOf(sdp: string): string | null {
  const m = /^a=ice-ufrag:(\S+)/m.exec(sdp);
  return m ? m[1] : null;
}

/** Whether the fragment restarts ICE (new credentials), given the current remote ufrag. */
export function isIceRestart(frag: SdpFrag, currentUfrag: string | null): boolean {
  return frag.ufrag !== null && frag.pwd !== null && frag.ufrag !== currentUfrag;
}

/** The current remote offer with the fragment's new ICE credentials and no old candidates. */
export function restartOffer(remoteSdp: string, frag: SdpFrag): string {
  const s = splitSdp(remoteSdp);
  const swap = (lines: string[]) =>
    lines
      .filter((l) => !l.startsWith('a=candidate:') && l !== 'a=end-of-candidates')
      .map((l) => (l.startsWith('a=ice-ufrag:') ? `a=ice-ufrag:${frag.ufrag}` : l.startsWith('a=ice-pwd:') ? `a=ice-pwd:${frag.pwd}` : l));
  s.session = swap(s.session).map((l) => {
    const o = /^o=(\S+) (\S+) (\d+) (.*)$/.exec(l);
    return o ? `o=${o[1]} ${o[2]} ${BigInt(o[3]) + 1n} ${o[4]}` : l;
  });
  s.sections = s.sections.map(swap);
  return joinSdp(s);
}

/** The server's side of an ICE restart as a fragment: its new credentials and candidates. */
export function answerFrag(localSdp: string): string {
  const s = splitSdp(localSdp);
  const first = s.sections[0] ?? [];
  const pick = (name: string) => [...s.session, ...first].find((l) => l.startsWith(`a=${name}:`));
  const group = s.session.find((l) => l.startsWith('a=group:BUNDLE'));
  const out = ['a=ice-options:trickle', ...(group ? [group] : [])];
  if (first.length) {
    out.push(first[0].replace(/^(m=\S+) \d+/, '$1 9'));
    const mid = sectionMid(first);
    if (mid !== null) out.push(`a=mid:${mid}`);
  }
  for (const a of ['ice-ufrag', 'ice-pwd']) {
    const l = pick(a);
    if (l) out.push(l);
  }
  out.push(...first.filter((l) => l.startsWith('a=candidate:')), 'a=end-of-candidates');
  return out.join('\r\n') + '\r\n';
}
