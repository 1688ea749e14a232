// The shape of an SDP offer (what the ingest's SDP rules care about), so that an interop test
// can tell whether a real client still sends what its recorded fixture in test/fixtures/sdp
// says. Ids, keys, ports and candidates are left out: re-recording changes those, not shapes.
// A missing fixture is recorded; RECORD_SDP=1 writes the live offer over an existing one.

import fs from 'node:fs';
import { isBundleOnly, sectionKind, sectionPort, splitSdp } from '../../pipeline/sdpSections.ts';

export function sdpShape(sdp: string): string[] {
  const { session, sections } = splitSdp(sdp);
  const has = (lines: string[], prefix: string) => lines.some((l) => l.startsWith(prefix));
  const out = [`session: bundle=${has(session, 'a=group:BUNDLE')} ice=${has(session, 'a=ice-ufrag:')} fingerprint=${has(session, 'a=fingerprint:')}`];
  for (const s of sections) {
    const codecs = [...new Set(s.filter((l) => l.startsWith('a=rtpmap:')).map((l) => l.split(/\s+/)[1].split('/')[0].toLowerCase()))].sort();
    const dir = s.find((l) => /^a=(sendrecv|sendonly|recvonly|inactive)$/.test(l))?.slice(2) ?? 'none';
    const ufrag = s.find((l) => l.startsWith('a=ice-ufrag:'));
    out.push(
      `${sectionKind(s)}: port0=${sectionPort(s) === 0} bundle-only=${isBundleOnly(s)} ${dir} ice=${ufrag ? 'own' : 'none'} ` +
        `msid=${has(s, 'a=msid:')} ssrc=${has(s, 'a=ssrc:')} codecs=${codecs.join(',')}`,
    );
  }
  // Per-section ICE credentials that differ inside one BUNDLE (aiortc's shape).
  const ufrags = new Set(sections.map((s) => s.find((l) => l.startsWith('a=ice-ufrag:'))).filter(Boolean));
  out.push(`distinct section ufrags: ${ufrags.size}`);
  return out;
}

const fixturePath = (name: string) => new URL(`../fixtures/sdp/${name}.sdp`, import.meta.url).pathname;

/** Differences between a live offer's shape and its fixture's ([] = same shape). */
export function shapeDrift(name: string, live: string): string[] {
  if (process.env.RECORD_SDP === '1' || !fs.existsSync(fixturePath(name))) {
    fs.writeFileSync(fixturePath(name), live.replace(/\r?\n/g, '\r\n'));
    console.log(`  recorded test/fixtures/sdp/${name}.sdp`);
  }
  const want = sdpShape(fs.readFileSync(fixturePath(name), 'utf8'));
  const got = sdpShape(live);
  const drift: string[] = [];
  for (let i = 0; i < Math.max(want.length, got.length); i++) {
    if (want[i] !== got[i]) drift.push(`fixture "${want[i] ?? '-'}" / live "${got[i] ?? '-'}"`);
  }
  return drift;
}
