// A publisher's liveness (gone / stalled) and its per-second rates, decided without a socket.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { publisherLiveness } from '../../pipeline/rtp/PublisherLiveness.ts';
import { IngestRates } from '../../pipeline/rtp/IngestRates.ts';

const limits = { stalledAfterMs: 10_000, silentGoneMs: 4000 };

test('liveness: nothing is decided before the peer connected', () => {
  assert.is(publisherLiveness({ connectedAt: 0, lastRtpAt: 0, lastRtcpAt: 0 }, 1e9, false, limits), null);
});

test('liveness: media and RTCP stopping together is gone after silentGoneMs', () => {
  const t = { connectedAt: 1000, lastRtpAt: 5000, lastRtcpAt: 5200 };
  assert.is(publisherLiveness(t, 9000, false, limits), null);
  assert.equal(publisherLiveness(t, 9300, false, limits), { gone: 'no packets for 4 s' });
});

test('liveness: RTCP without media is stalled after stalledAfterMs (once), gone only after 3 × silentGoneMs of RTCP silence', () => {
  const t = { connectedAt: 1000, lastRtpAt: 2000, lastRtcpAt: 11_000 };
  assert.is(publisherLiveness(t, 11_900, false, limits), null);
  assert.equal(publisherLiveness(t, 12_500, false, limits), { stalledMs: 10_500 });
  assert.is(publisherLiveness(t, 12_500, true, limits), null, 'already stalled');
  assert.is(publisherLiveness(t, 22_000, true, limits), null, 'its RTCP came after its media: not gone at 4 s');
  assert.equal(publisherLiveness(t, 23_500, true, limits), { gone: 'no RTCP for 13 s' });
});

test('liveness: a peer that connected and never sent media counts from its connection', () => {
  const t = { connectedAt: 1000, lastRtpAt: 0, lastRtcpAt: 0 };
  assert.is(publisherLiveness(t, 4900, false, limits), null);
  assert.equal(publisherLiveness(t, 5100, false, limits), { gone: 'no packets for 4 s' });
});

test('rates: counter changes over dt, per layer too; an implausible dt keeps the last figures', () => {
  const r = new IngestRates();
  r.update({ frames: 0, pixels: 0, videoBytes: 0, audioBytes: 0, layers: new Map([['h', { frames: 0, bytes: 0 }]]) }, 1);
  r.update({ frames: 60, pixels: 60 * 921_600, videoBytes: 250_000, audioBytes: 8000, layers: new Map([['h', { frames: 60, bytes: 250_000 }], ['l', { frames: 30, bytes: 50_000 }]]) }, 2);
  assert.is(r.fps, 30);
  assert.is(r.pixelsPerSec, 30 * 921_600);
  assert.is(r.videoKbps, 1000);
  assert.is(r.audioKbps, 32);
  assert.equal(r.layers.get('h'), { fps: 30, kbps: 1000 });
  assert.equal(r.layers.get('l'), { fps: 15, kbps: 200 }, 'a layer first seen counts from zero');
  r.update({ frames: 1000, pixels: 0, videoBytes: 0, audioBytes: 0, layers: new Map() }, 12);
  assert.is(r.fps, 30, 'a 12 s gap (a stalled loop) is not a rate');
  r.update({ frames: 1030, pixels: 0, videoBytes: 0, audioBytes: 0, layers: new Map() }, 1);
  assert.is(r.fps, 30, 'counted from the counters seen at the skipped update');
});

test.run();
