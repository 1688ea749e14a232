// Offers that are SDP-shaped but unusable are refused as text, before any room or peer exists.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { checkPublishOffer, checkSubscribeOffer, SdpError } from '../../pipeline/sdp.ts';

const base = ['v=0', 'o=- 1 2 IN IP4 127.0.0.1', 's=-', 't=0 0', 'a=fingerprint:sha-256 AA:BB', 'a=ice-ufrag:abcd', 'a=ice-pwd:0123456789abcdefghijkl'];
const section = (dir: string, mid: string, port = '9') => [`m=video ${port} UDP/TLS/RTP/SAVPF 96`, 'c=IN IP4 0.0.0.0', `a=mid:${mid}`, `a=${dir}`, 'a=rtpmap:96 VP8/90000'];
const sdp = (...s: string[][]) => [...base, ...s.flat()].join('\r\n') + '\r\n';

test('duplicate mids are refused', () => {
  assert.throws(() => checkSubscribeOffer(sdp(section('recvonly', '0'), section('recvonly', '0')), ['VP8']), (e: unknown) => e instanceof SdpError && /a=mid:0/.test(e.message));
  assert.throws(() => checkPublishOffer(sdp(section('sendonly', 'v'), section('sendonly', 'v'))), (e: unknown) => e instanceof SdpError);
  assert.ok(checkSubscribeOffer(sdp(section('recvonly', '0'), section('recvonly', '1')), ['VP8']));
});

test('a port that is not a port number is refused', () => {
  for (const port of ['abc', '-1', '70000', '1.5']) {
    assert.throws(() => checkSubscribeOffer(sdp(section('recvonly', '0', port)), ['VP8']), (e: unknown) => e instanceof SdpError && /port/.test(e.message), port);
  }
});

test.run();
