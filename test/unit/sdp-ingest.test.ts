// SDP as real clients write it (recorded offers in test/fixtures/sdp, see its README): what
// the ingest accepts, which codec it takes, and how offers are normalised for werift.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import { checkPublishOffer, checkSubscribeOffer, SdpError } from '../../pipeline/sdp.ts';
import { planIngest } from '../../pipeline/ingestCodecs.ts';
import { answerFrag, isIceRestart, parseSdpFrag, restartOffer, SdpFragError } from '../../pipeline/sdpFrag.ts';
import { activateBundleOnly, normalizeBundleIce, normalizeOffer, splitSdp, stripRecvonlySsrcs, trimTrailingSpace } from '../../pipeline/sdpSections.ts';

const fx = (name: string) => fs.readFileSync(new URL(`../fixtures/sdp/${name}.sdp`, import.meta.url), 'utf8');
const kindOf = (fn: () => unknown) => {
  try {
    fn();
    return 'ok';
  } catch (err) {
    return err instanceof SdpError ? err.kind : 'other';
  }
};

test('publish offers from real clients are accepted with the media they send', () => {
  const cases: Array<[string, { audio: boolean; video: boolean }, string | null]> = [
    ['aiortc-whip', { audio: true, video: true }, 'vp8'],
    ['chromium156-whip-whep-whip', { audio: true, video: true }, 'vp8'],
    ['gstreamer-vp8-opus', { audio: true, video: true }, 'vp8'],
    ['gstreamer-vp8-opus-video-first', { audio: true, video: true }, 'vp8'],
    ['gstreamer-vp8-opus-bundle-none', { audio: true, video: true }, 'vp8'],
    ['gstreamer-h264-baseline-opus', { audio: true, video: true }, 'h264'],
    ['gstreamer-h264-high-opus', { audio: true, video: true }, 'h264'],
    ['gstreamer-h264-baseline-only', { audio: false, video: true }, 'h264'],
    ['gstreamer-h264-baseline-opus-sendrecv', { audio: true, video: true }, 'h264'],
    ['hand-whip-no-msid-no-ssrc', { audio: true, video: true }, 'vp8'],
    ['hand-whip-mids-audio-video', { audio: true, video: true }, 'vp8'],
    ['hand-whip-per-section-ice', { audio: true, video: true }, 'vp8'],
    ['hand-whip-red-ulpfec-rtx-first', { audio: true, video: true }, 'vp8'],
    ['hand-whip-extmap-variations', { audio: true, video: true }, 'vp8'],
    ['hand-whip-obs-h264-opus', { audio: true, video: true }, 'h264'],
    ['hand-whip-h264-high-pmode0', { audio: true, video: true }, 'h264'],
    ['hand-whip-video-rejected-port0', { audio: true, video: false }, null],
    ['hand-whip-chromium-simulcast', { audio: true, video: true }, 'vp8'],
  ];
  for (const [name, media, codec] of cases) {
    assert.equal(checkPublishOffer(fx(name)), media, name);
    assert.is(planIngest(normalizeOffer(fx(name))).plan.video?.codec ?? null, codec, name);
  }
});

test('offers that cannot carry media are refused with the reason', () => {
  assert.is(kindOf(() => checkPublishOffer(fx('hand-whip-h265-only'))), 'unsupported');
  assert.throws(() => checkPublishOffer(fx('hand-whip-h265-only')), /H265/);
  assert.is(kindOf(() => checkPublishOffer(fx('hand-whip-pcmu-only'))), 'unsupported');
  assert.throws(() => checkPublishOffer(fx('hand-whip-pcmu-only')), /not Opus/);
  assert.is(kindOf(() => checkPublishOffer(fx('hand-whip-no-fingerprint'))), 'malformed');
});

test('subscribe offers: bundle-only video is video', () => {
  assert.equal(checkSubscribeOffer(fx('hand-whep-bundle-only-video'), ['VP8', 'H264']).video, true);
  assert.equal(checkSubscribeOffer(fx('aiortc-whep'), ['VP8', 'H264']), { audio: true, video: true, videoCodec: 'VP8', videoAsksKeyframes: true });
  assert.equal(checkSubscribeOffer(fx('hand-whep-mids-audio-video'), ['VP8']).video, true);
  // webrtcbin's WHEP offer: recvonly VP8 first, the Opus section `port 0` + bundle-only.
  assert.equal(checkSubscribeOffer(fx('gstreamer-whep-vp8-opus'), ['VP8', 'H264']), { audio: true, video: true, videoCodec: 'VP8', videoAsksKeyframes: true });
  assert.equal(checkSubscribeOffer(fx('chromium156-whip-whep-whep'), ['VP8', 'H264']).audio, true);
});

test('bundle-only sections become active sections; a rejected port-0 section stays rejected', () => {
  for (const name of ['gstreamer-whep-vp8-opus', 'gstreamer-h264-baseline-opus-sendrecv', 'gstreamer-vp8-opus-video-first']) {
    const s = splitSdp(activateBundleOnly(fx(name)));
    assert.ok(s.sections.every((sec) => !sec[0].split(' ')[1].startsWith('0') && !sec.includes('a=bundle-only')), name);
  }
  const gst = splitSdp(activateBundleOnly(fx('gstreamer-h264-baseline-opus')));
  assert.ok(gst.sections[1][0].startsWith('m=video 9 '));
  assert.not.ok(gst.sections[1].includes('a=bundle-only'));
  const rejected = splitSdp(activateBundleOnly(fx('hand-whip-video-rejected-port0')));
  assert.ok(rejected.sections.some((s) => s[0].startsWith('m=video 0 ')));
});

test('per-section ICE credentials in a BUNDLE group become the first section\'s', () => {
  for (const name of ['aiortc-whip', 'aiortc-whep', 'hand-whip-per-section-ice']) {
    const s = splitSdp(normalizeBundleIce(fx(name)));
    const ufrags = new Set(s.sections.flatMap((sec) => sec.filter((l) => l.startsWith('a=ice-ufrag:'))));
    const pwds = new Set(s.sections.flatMap((sec) => sec.filter((l) => l.startsWith('a=ice-pwd:'))));
    assert.is(ufrags.size, 1, name);
    assert.is(pwds.size, 1, name);
    const first = splitSdp(fx(name)).sections[0].find((l) => l.startsWith('a=ice-ufrag:'));
    assert.ok(ufrags.has(first!), `${name}: the first section's`);
  }
  const plain = fx('gstreamer-vp8-opus');
  assert.is(normalizeBundleIce(plain), plain, 'nothing to do');
});

test('a Chromium simulcast offer (RIDs q/h/f): accepted, its layers kept with the RID extensions, plain rid lines', () => {
  const offer = fx('hand-whip-chromium-simulcast');
  assert.equal(checkPublishOffer(offer), { audio: true, video: true });
  const { sdp, plan } = planIngest(normalizeOffer(offer));
  const sim = plan.video!.simulcast!;
  assert.equal(sim.rids, ['q', 'h', 'f']);
  assert.is(sim.ridExtId, 10);
  assert.is(sim.repairedRidExtId, 11);
  assert.is(plan.video!.codec, 'vp8');
  assert.equal(plan.video!.ssrcs, [], 'no SSRC lines: layers are learned from the RID extension');
  const video = splitSdp(sdp).sections.find((x) => x[0].startsWith('m=video'))!;
  assert.equal(video.filter((l) => /^a=(rid|simulcast):/.test(l)), ['a=rid:q send', 'a=rid:h send', 'a=rid:f send', 'a=simulcast:send q;h;f']);
  assert.ok(video.includes('a=extmap:10 urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id'));
  // Restrictions and paused layers: the rid lines werift sees are plain, paused layers left out.
  const restricted = offer.replace('a=rid:f send', 'a=rid:f send max-width=1280;max-height=720').replace('a=simulcast:send q;h;f', 'a=simulcast:send q;h;~f');
  const r = planIngest(normalizeOffer(restricted));
  assert.equal(r.plan.video!.simulcast!.rids, ['q', 'h']);
  assert.equal(splitSdp(r.sdp).sections[1].filter((l) => /^a=(rid|simulcast):/.test(l)), ['a=rid:q send', 'a=rid:h send', 'a=simulcast:send q;h']);
  // Without the RID extension the layers cannot be told apart: simulcast dropped, one stream.
  const noExt = planIngest(normalizeOffer(offer.replace(/a=extmap:10 [^\r\n]*\r\n/, '')));
  assert.is(noExt.plan.video!.simulcast, null);
  assert.not.match(noExt.sdp, /a=(rid|simulcast):/);
});

test('answers lose trailing spaces (werift writes "a=simulcast:recv q;h;f ")', () => {
  assert.is(trimTrailingSpace('v=0\r\na=simulcast:recv q;h;f \r\na=x\r\n'), 'v=0\r\na=simulcast:recv q;h;f\r\na=x\r\n');
});

test('the ingest plan: one codec per section (+ its RTX), simulcast and FEC left out, SPS/PPS from sprop', () => {
  const red = planIngest(normalizeOffer(fx('hand-whip-red-ulpfec-rtx-first')));
  const video = splitSdp(red.sdp).sections.find((s) => s[0].startsWith('m=video'))!;
  assert.is(video[0].split(' ').length, 5, 'VP8 and its RTX only');
  assert.ok(red.plan.video!.rtxPt !== null);
  assert.not.ok(video.some((l) => /a=rtpmap:\d+ (red|ulpfec)/i.test(l)));
  const gst = planIngest(normalizeOffer(fx('gstreamer-h264-baseline-opus'))).plan;
  assert.ok(gst.video!.parameterSets && gst.video!.parameterSets.length > 8);
  assert.equal(gst.video!.feedback, { nack: false, pli: true, fir: true, twcc: true });
  const chrome = planIngest(normalizeOffer(fx('chromium156-whip-whep-whip'))).plan;
  assert.ok(chrome.video!.twccExtId > 0 && chrome.video!.midExtId > 0);
  assert.equal(chrome.video!.feedback, { nack: true, pli: true, fir: true, twcc: true });
  const pmode0 = planIngest(fx('hand-whip-h264-high-pmode0')).plan.video!;
  assert.match(pmode0.fmtp, /packetization-mode=0/);
});

test('recvonly answer sections carry no SSRC lines', () => {
  const answer = ['v=0', 'm=video 9 UDP/TLS/RTP/SAVPF 96', 'a=recvonly', 'a=ssrc-group:FID 1 2', 'a=ssrc:1 cname:x', 'a=ssrc:2 cname:x', 'm=audio 9 UDP/TLS/RTP/SAVPF 111', 'a=sendonly', 'a=ssrc:3 cname:x'].join('\r\n');
  const out = stripRecvonlySsrcs(answer);
  assert.not.ok(out.includes('a=ssrc:1'));
  assert.ok(out.includes('a=ssrc:3'));
});

test('trickle ICE fragments (RFC 8840): candidates by section, restarts, the server\'s answer', () => {
  const frag = parseSdpFrag(['a=ice-ufrag:EsAw', 'm=audio 9 RTP/AVP 0', 'a=mid:0', 'a=candidate:1 1 udp 2122260223 192.0.2.1 61764 typ host', 'a=end-of-candidates', ''].join('\r\n'));
  assert.equal(frag.candidates, [{ candidate: 'candidate:1 1 udp 2122260223 192.0.2.1 61764 typ host', mid: '0' }]);
  assert.ok(frag.endOfCandidates);
  assert.not.ok(isIceRestart(frag, 'EsAw'));
  assert.throws(() => parseSdpFrag('garbage'), (e: unknown) => e instanceof SdpFragError);
  assert.throws(() => parseSdpFrag('a=candidate:bad'), /malformed candidate/);
  const restart = parseSdpFrag('a=ice-ufrag:new1\r\na=ice-pwd:0123456789abcdefghijkl\r\n');
  assert.ok(isIceRestart(restart, 'EsAw'));
  const offer = restartOffer(fx('aiortc-whip'), restart);
  assert.not.match(offer, /a=candidate:/);
  assert.is(offer.match(/a=ice-ufrag:new1/g)!.length, splitSdp(offer).sections.length);
  assert.match(offer, /^o=\S+ \S+ \d+ /m);
  const answer = ['v=0', 'o=- 1 1 IN IP4 0.0.0.0', 's=-', 't=0 0', 'a=group:BUNDLE 0 1', 'm=audio 9 UDP/TLS/RTP/SAVPF 111', 'a=mid:0', 'a=ice-ufrag:srv2', 'a=ice-pwd:pppppppppppppppppppppp', 'a=candidate:1 1 udp 1 127.0.0.1 5000 typ host', 'm=video 9 UDP/TLS/RTP/SAVPF 96', 'a=mid:1'].join('\r\n');
  const out = answerFrag(answer);
  assert.match(out, /a=ice-ufrag:srv2\r\n/);
  assert.match(out, /a=group:BUNDLE 0 1/);
  assert.match(out, /a=candidate:1 1 udp 1 127.0.0.1 5000 typ host\r\na=end-of-candidates/);
});

test.run();
