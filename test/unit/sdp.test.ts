import fs from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { checkPublishOffer, checkSubscribeOffer, parseSdp, unsyncedOffer } from '../../pipeline/sdp.ts';

const offer = (sections: string[]) =>
  ['v=0', 'o=- 1 2 IN IP4 127.0.0.1', 's=-', 't=0 0', 'a=fingerprint:sha-256 AA:BB', 'a=ice-ufrag:abcd', 'a=ice-pwd:x', ...sections].join('\r\n') + '\r\n';
const audio = (dir = 'sendrecv') => ['m=audio 9 UDP/TLS/RTP/SAVPF 111', 'a=rtpmap:111 opus/48000/2', `a=${dir}`].join('\r\n');
const video = (dir = 'sendrecv', codec = 'VP8') => ['m=video 9 UDP/TLS/RTP/SAVPF 96', `a=rtpmap:96 ${codec}/90000`, `a=${dir}`].join('\r\n');

test('parses media sections, directions and codecs', () => {
  const s = parseSdp(offer([audio('sendonly'), video('recvonly', 'H264')]));
  assert.is(s.media.length, 2);
  assert.is(s.media[0].direction, 'sendonly');
  assert.is(s.media[0].codecs[0].name, 'OPUS');
  assert.is(s.media[1].codecs[0].name, 'H264');
});

test('publish offers', () => {
  assert.equal(checkPublishOffer(offer([audio(), video()])), { audio: true, video: true });
  assert.equal(checkPublishOffer(offer([audio('sendonly')])), { audio: true, video: false });
  assert.throws(() => checkPublishOffer(''), /empty/);
  assert.throws(() => checkPublishOffer('hello world'), /must start with "v=0"/);
  assert.throws(() => checkPublishOffer(offer([])), /no audio or video/);
  assert.throws(() => checkPublishOffer(offer([audio('recvonly'), video('recvonly')])), /only receives/);
  assert.equal(checkPublishOffer(offer([video('sendonly', 'H264')])), { audio: false, video: true });
  assert.throws(() => checkPublishOffer(offer([video('sendonly', 'H265')])), /offers H265; the server decodes VP8, H\.264/);
  assert.throws(() => checkPublishOffer(offer([audio()]).replace(/a=fingerprint.*\r\n/, '')), /fingerprint/);
});

test('subscribe offers', () => {
  // The built offer's video section has no rtcp-fb lines: it cannot ask for keyframes.
  assert.equal(checkSubscribeOffer(offer([audio('recvonly'), video('recvonly')])), { audio: true, video: true, videoCodec: 'VP8', videoAsksKeyframes: false });
  assert.throws(() => checkSubscribeOffer(offer([video('recvonly', 'H264')]), ['VP8']), /none of the codecs the mixer produces \(VP8\)/);
  assert.throws(() => checkSubscribeOffer(offer([audio('sendonly')])), /no audio or video section to receive/);
});

test('subscribe offers: whether the video section can ask for keyframes (PLI or FIR), from recorded clients', () => {
  const fixture = (name: string) => fs.readFileSync(new URL(`../fixtures/sdp/${name}`, import.meta.url), 'utf8');
  for (const name of ['aiortc-whep.sdp', 'gstreamer-whep-vp8-opus.sdp', 'chromium156-whip-whep-whep.sdp']) {
    assert.ok(checkSubscribeOffer(fixture(name), ['VP8', 'H264']).videoAsksKeyframes, name);
  }
  // GStreamer's offer without its PLI and FIR lines (NACK and transport-cc kept): it cannot ask.
  const noPli = fixture('gstreamer-whep-vp8-opus.sdp').replace(/a=rtcp-fb:\d+ (nack pli|ccm fir)\r?\n/g, '');
  assert.not.match(noPli, /nack pli|ccm fir/);
  assert.is(checkSubscribeOffer(noPli, ['VP8', 'H264']).videoAsksKeyframes, false);
  // PLI offered only in the audio section does not count.
  const audioOnlyPli = noPli.replace(/(a=rtcp-fb:111 transport-cc)/, '$1\r\na=rtcp-fb:111 nack pli');
  assert.is(checkSubscribeOffer(audioOnlyPli, ['VP8', 'H264']).videoAsksKeyframes, false);
});

test('unsyncedOffer puts audio and video in different streams (no lip-sync delay at ingest)', () => {
  const offer = [
    'v=0', 'o=- 1 2 IN IP4 127.0.0.1', 's=-', 't=0 0',
    'm=audio 9 UDP/TLS/RTP/SAVPF 111', 'a=mid:0', 'a=msid:stream1 trackA', 'a=ssrc:11 msid:stream1 trackA',
    'm=video 9 UDP/TLS/RTP/SAVPF 96', 'a=mid:1', 'a=msid:stream1 trackV', 'a=ssrc:22 msid:stream1 trackV',
    'm=video 9 UDP/TLS/RTP/SAVPF 96', 'a=mid:2', 'a=msid:- trackW', '',
  ].join('\r\n');
  const out = unsyncedOffer(offer);
  const streams = [...out.matchAll(/^a=msid:(\S+) (\S+)$/gm)].map((m) => [m[1], m[2]]);
  assert.equal(streams, [['stream1-audio0', 'trackA'], ['stream1-video1', 'trackV'], ['-', 'trackW']]);
  assert.match(out, /a=ssrc:11 msid:stream1-audio0 trackA\r\n/);
  assert.match(out, /a=ssrc:22 msid:stream1-video1 trackV\r\n/);
  assert.ok(out.endsWith('\r\n'), 'line endings kept');
  // No msid at all (werift, some WHIP clients): libwebrtc's default stream would sync them.
  const bare = ['v=0', 's=-', 'm=audio 9 RTP/AVP 111', 'a=mid:0', 'm=video 9 RTP/AVP 96', 'a=mid:1', ''].join('\r\n');
  assert.is(unsyncedOffer(bare), ['v=0', 's=-', 'm=audio 9 RTP/AVP 111', 'a=mid:0', 'a=msid:- mcu-audio0', 'm=video 9 RTP/AVP 96', 'a=mid:1', 'a=msid:- mcu-video1', ''].join('\r\n'));
});

test.run();
