// Offer shapes no live client in the interop suite writes, but that the SDP rules accept (unit
// test sdp-ingest): each must carry media, not only get its 201. A real werift publisher's offer is
// rewritten into the shape before the POST: no SSRC or msid lines (routing by MID and payload
// type), ICE credentials and DTLS attributes at session level only (OBS / libdatachannel), and
// unusual header-extension lines (two-byte ids, direction suffixes, encrypted extensions,
// extmap-allow-mixed). Each publisher's colour must show in its tile, and its audio must arrive.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startServer } from '../../server/main.ts';
import { exchangeSdp } from '../../workers/clients/webrtc.ts';
import { RtpPublisher } from '../../bench/lib/RtpPublisher.ts';
import { audioFixture, videoFixture } from '../../bench/lib/fixtures.ts';
import { startSubscriber, waitFor } from '../helpers/peers.ts';
import { colorAt, colorDistance } from '../helpers/media.ts';

type Rgb = [number, number, number];
const lines = (sdp: string) => sdp.split(/\r?\n/).filter(Boolean);
const join = (ls: string[]) => ls.join('\r\n') + '\r\n';

/** No a=ssrc, a=ssrc-group or a=msid lines. */
const noSsrc = (sdp: string) => join(lines(sdp).filter((l) => !/^a=(ssrc|ssrc-group|msid)[:-]/.test(l) && !/^a=msid-semantic/.test(l)));

/** ICE credentials, fingerprint and setup once at session level, none in the media sections. */
function sessionLevelIce(sdp: string): string {
  const ls = lines(sdp);
  const firstM = ls.findIndex((l) => l.startsWith('m='));
  const moved = ['a=ice-ufrag:', 'a=ice-pwd:', 'a=fingerprint:', 'a=setup:'].map((p) => ls.find((l) => l.startsWith(p))!);
  assert.ok(moved.every(Boolean), 'the offer has the attributes to move');
  const media = ls.slice(firstM).filter((l) => !moved.some((m) => l.startsWith(m.slice(0, m.indexOf(':') + 1))));
  return join([...ls.slice(0, firstM), ...moved, ...media]);
}

/** Extra header-extension lines of the odd kinds real offers carry (unused by the sender). */
function oddExtmaps(sdp: string): string {
  const out: string[] = [];
  for (const l of lines(sdp)) {
    out.push(l);
    if (l.startsWith('m=')) {
      out.push(
        'a=extmap:15 urn:ietf:params:rtp-hdrext:encrypt http://www.webrtc.org/experiments/rtp-hdrext/abs-capture-time',
        'a=extmap:14/sendonly http://www.webrtc.org/experiments/rtp-hdrext/video-timing',
        'a=extmap:200 http://example.com/two-byte-id-extension',
      );
    }
    if (l.startsWith('t=')) out.push('a=extmap-allow-mixed');
  }
  return join(out);
}

const SHAPES: Array<{ name: string; rgb: Rgb; rewrite: (sdp: string) => string; check: (sdp: string) => boolean }> = [
  { name: 'no-ssrc', rgb: [220, 40, 40], rewrite: noSsrc, check: (s) => !/a=ssrc/.test(s) && !/a=msid/.test(s) },
  { name: 'session-ice', rgb: [40, 180, 40], rewrite: sessionLevelIce, check: (s) => (s.match(/a=ice-ufrag/g) ?? []).length === 1 && s.indexOf('a=ice-ufrag') < s.indexOf('m=') },
  { name: 'odd-extmap', rgb: [40, 40, 220], rewrite: oddExtmaps, check: (s) => /a=extmap:200 /.test(s) && /extmap-allow-mixed/.test(s) },
];

test('offers without SSRC lines, with session-level ICE, with odd extmap lines: each one\'s picture in its tile and its audio in the room', async () => {
  const server = await startServer({ port: 0, host: '127.0.0.1', demo: false });
  const room = 'sdp-shapes';
  const whip = `${server.url}/rooms/${room}/whip`;
  const audio = await audioFixture('tone');
  const pubs: RtpPublisher[] = [];
  try {
    for (const shape of SHAPES) {
      const video = await videoFixture(shape.rgb);
      let location = '';
      const p = await RtpPublisher.start({
        video,
        audio,
        negotiate: async (offer) => {
          const shaped = shape.rewrite(offer);
          assert.ok(shape.check(shaped), `${shape.name}: the offer has the shape`);
          const r = await exchangeSdp(`${whip}?name=${shape.name}`, shaped);
          location = r.location;
          return r.answer;
        },
      });
      p.location = location;
      pubs.push(p);
    }
    const sub = await startSubscriber({ baseUrl: server.url, room });
    try {
      await sub.waitForFrames(10, 15_000);
      const seen = await waitFor(async () => {
        const info = (await (await fetch(`${server.url}/rooms/${room}`)).json()) as any;
        const frame = sub.lastFrame();
        if (!frame) return null;
        const out = SHAPES.map((shape) => {
          const p = info.participants.find((x: any) => x.name === shape.name);
          const t = p && info.layout.tiles.find((x: any) => x.participantId === p.id);
          if (!t) return { shape, ok: false, c: [0, 0, 0] as Rgb };
          const sx = frame.width / info.layout.canvas.width;
          const sy = frame.height / info.layout.canvas.height;
          // The stamp fixture's top rows carry the frame counter: sample below the middle.
          const c = colorAt(frame, (t.video.x + t.video.width / 2) * sx, (t.video.y + (t.video.height * 2) / 3) * sy, 6);
          return { shape, c, ok: colorDistance(c, shape.rgb) < 60 };
        });
        return out.every((o) => o.ok) ? out : null;
      }, 15_000, 'each shaped publisher\'s colour in its tile');
      console.log(`  ${seen.map((s) => `${s.shape.name} ${s.c.join(',')}`).join('; ')}`);
      // Each one's audio reaches its slot of the mixer (the input meter hears its 600 Hz tone).
      const levels = await waitFor(async () => {
        const info = (await (await fetch(`${server.url}/rooms/${room}`)).json()) as any;
        const ls = SHAPES.map((shape) => info.participants.find((x: any) => x.name === shape.name)?.voice?.inputDb ?? null);
        return ls.every((l) => l !== null && l > -30) ? ls : null;
      }, 10_000, 'each shaped publisher\'s audio at its mixer input');
      console.log(`  input levels: ${SHAPES.map((s, i) => `${s.name} ${levels[i].toFixed(1)} dB`).join(', ')}; 600 Hz in the mix ${sub.toneDb(600, 1000).toFixed(1)} dB`);
    } finally {
      await sub.close();
    }
  } finally {
    for (const p of pubs) await p.close();
    await server.close();
  }
});

test.run();
