import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chooseLayer, layerAtRank, LayerSwitcher, RidMap, layerForTile, parseSimulcast, simulcastLines, tileDemand, tileDemands, topLayer } from '../../pipeline/simulcast.ts';
import { computeLayout } from '../../pipeline/layout/layouts.ts';

// The video section of a Chromium offer with sendEncodings [{rid:'q', scaleResolutionDownBy:4}, {rid:'h', …2}, {rid:'f'}].
const CHROMIUM = [
  'm=video 9 UDP/TLS/RTP/SAVPF 96 97',
  'a=mid:1',
  'a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid',
  'a=extmap:10 urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id',
  'a=extmap:11 urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id',
  'a=sendonly',
  'a=rtpmap:96 VP8/90000',
  'a=rtpmap:97 rtx/90000',
  'a=fmtp:97 apt=96',
  'a=rid:q send',
  'a=rid:h send',
  'a=rid:f send max-width=1280;max-height=720',
  'a=simulcast:send q;h;f',
];

test('parseSimulcast: RIDs in order, limits, extension ids', () => {
  const s = parseSimulcast(CHROMIUM)!;
  assert.equal(s.rids, ['q', 'h', 'f']);
  assert.equal(s.limits.get('f'), { width: 1280, height: 720 });
  assert.equal(s.limits.get('q'), {});
  assert.is(s.ridExtId, 10);
  assert.is(s.repairedRidExtId, 11);
});

test('parseSimulcast: paused layers and alternatives; one layer or none is not simulcast', () => {
  const s = parseSimulcast([...CHROMIUM.slice(0, -1), 'a=simulcast:send q,h;~f'])!;
  assert.is(s, null, 'q (h as alternative) and a paused f: one layer');
  assert.is(parseSimulcast(CHROMIUM.slice(0, -4)), null);
  assert.equal(parseSimulcast([...CHROMIUM.slice(0, -1), 'a=simulcast:send f;~h;q'])!.rids, ['f', 'q']);
});

test('layerForTile: the smallest layer covering the tile, else the largest; unknown sizes left out', () => {
  const layers = new Map([
    ['q', { width: 320, height: 180 }],
    ['h', { width: 640, height: 360 }],
    ['f', { width: 1280, height: 720 }],
  ]);
  assert.is(layerForTile(layers, { width: 256, height: 144 }), 'q', 'a filmstrip thumbnail');
  assert.is(layerForTile(layers, { width: 640, height: 360 }), 'h', 'a 2x2 grid tile of 1280x720');
  assert.is(layerForTile(layers, { width: 1024, height: 576 }), 'f', 'the speaker tile');
  assert.is(layerForTile(layers, { width: 1920, height: 1080 }), 'f', 'nothing covers: the largest');
  assert.is(layerForTile(new Map([['q', null], ['h', { width: 640, height: 360 }]]), { width: 100, height: 100 }), 'h');
  assert.is(layerForTile(new Map([['q', null]]), { width: 100, height: 100 }), null);
});

test('LayerSwitcher: starts on a keyframe, switches only on the target\'s keyframe, never drops the current layer meanwhile', () => {
  const s = new LayerSwitcher();
  assert.not.ok(s.accept('h', false), 'no decodable start yet');
  assert.ok(s.accept('h', true));
  assert.not.ok(s.accept('q', true), 'another layer is not decoded while h is current and nothing is wanted');
  s.want('f');
  assert.ok(s.pending);
  assert.ok(s.accept('h', false), 'h goes on until f has a keyframe');
  assert.not.ok(s.accept('f', false), 'f inter frame: not yet');
  assert.ok(s.accept('h', false));
  assert.ok(s.accept('f', true), 'f keyframe: switch');
  assert.is(s.current, 'f');
  assert.is(s.switches, 1);
  assert.not.ok(s.accept('h', false), 'h no longer decoded');
  s.want('f');
  assert.not.ok(s.pending, 'wanting the current layer is nothing to do');
});

test('LayerSwitcher: a target set before any frame starts on that layer\'s keyframe only', () => {
  const s = new LayerSwitcher();
  s.want('q');
  assert.not.ok(s.accept('f', true));
  assert.ok(s.accept('q', true));
  assert.is(s.switches, 0);
});

test('RidMap: layers by the RID extension, RTX by the repaired-RID one, SSRCs remembered once learned', () => {
  const m = new RidMap({ rids: ['q', 'h', 'f'], ridExtId: 10, repairedRidExtId: 11 });
  const ext = (id: number, v: string) => [{ id, payload: Buffer.from(v) }];
  assert.is(m.classify(1000, []), null, 'unknown SSRC, no extension');
  assert.equal(m.classify(1000, ext(10, 'h')), { rid: 'h', rtx: false });
  assert.equal(m.classify(1000, []), { rid: 'h', rtx: false }, 'learned');
  assert.equal(m.classify(2000, ext(11, 'h')), { rid: 'h', rtx: true });
  assert.equal(m.classify(2000, []), { rid: 'h', rtx: true });
  assert.is(m.classify(3000, ext(10, 'zz')), null, 'a RID the offer did not name');
  assert.is(m.ssrcOf('h'), 1000);
  assert.is(m.ssrcOf('f'), undefined);
});

test('simulcastLines: plain rid lines and the simulcast line of the layers taken', () => {
  assert.equal(simulcastLines({ rids: ['q', 'f'] }), ['a=rid:q send', 'a=rid:f send', 'a=simulcast:send q;f']);
});

test('tileDemand: the drawn size, scaled up by the share of the picture a crop shows', () => {
  const slot = { x: 0, y: 0, width: 640, height: 360 };
  assert.equal(tileDemand({ width: 640, height: 360 }, slot, slot), { width: 640, height: 360 }, 'fit: what is drawn');
  // crop mode: a 16:9 picture in a 4:3 cell shows 480 of its 640 columns.
  const cropWindow = { x: 80, y: 0, width: 480, height: 360 };
  assert.equal(tileDemand({ width: 400, height: 300 }, slot, cropWindow), { width: 533, height: 300 });
  assert.equal(tileDemand({ width: 100, height: 100 }, slot, null), { width: 100, height: 100 });
});

test('tileDemands in real layouts: grid of four → the 360p layer, the speaker tile → 720p, a thumbnail → 180p', () => {
  const layers = [
    { rid: 'q', size: { width: 320, height: 180 }, live: true },
    { rid: 'h', size: { width: 640, height: 360 }, live: true },
    { rid: 'f', size: { width: 1280, height: 720 }, live: true },
  ];
  const ids = ['a', 'b', 'c', 'd'];
  const req = { canvas: { width: 1280, height: 720 }, source: { width: 640, height: 360 }, participants: ids, recentSpeakers: [], activeSpeaker: null, fit: 'fit' as const };
  const slot = { width: 640, height: 360 };
  const grid = tileDemands(computeLayout({ ...req, kind: 'grid', pinned: null }).tiles, ids, () => null, slot);
  assert.equal(grid.get('a'), { width: 640, height: 360 });
  assert.is(chooseLayer(layers, grid.get('a')!), 'h');
  const speaker = tileDemands(computeLayout({ ...req, kind: 'speaker', pinned: 'a' }).tiles, ids, () => null, slot);
  assert.is(chooseLayer(layers, speaker.get('a')!), 'f', `the large tile ${JSON.stringify(speaker.get('a'))}`);
  assert.is(chooseLayer(layers, speaker.get('b')!), 'q', `a thumbnail ${JSON.stringify(speaker.get('b'))}`);
  assert.is(tileDemands([], ['a'], () => null, slot).get('a'), null, 'not shown');
});

test('chooseLayer / topLayer: live layers of known size only; not shown → the smallest', () => {
  const layers = [
    { rid: 'q', size: { width: 320, height: 180 }, live: true },
    { rid: 'h', size: { width: 640, height: 360 }, live: true },
    { rid: 'f', size: { width: 1280, height: 720 }, live: false },
  ];
  assert.is(chooseLayer(layers, { width: 1024, height: 576 }), 'h', 'f is not live (paused under congestion): the largest live one');
  assert.is(chooseLayer(layers, null), 'q');
  assert.is(topLayer(layers), 'h');
  assert.is(chooseLayer([{ rid: 'q', size: null, live: true }], null), null, 'no size known yet');
  assert.is(topLayer([]), null);
});

test('layerAtRank: steps below the largest live layer, clamped to the smallest', () => {
  const layers = [
    { rid: 'q', size: { width: 320, height: 180 }, live: true },
    { rid: 'f', size: { width: 1280, height: 720 }, live: true },
    { rid: 'h', size: { width: 640, height: 360 }, live: true },
  ];
  assert.equal([0, 1, 2, 5].map((r) => layerAtRank(layers, r)), ['f', 'h', 'q', 'q']);
  assert.is(layerAtRank([{ ...layers[1], live: false }, layers[2]], 0), 'h');
  assert.is(layerAtRank([], 0), null);
});

test.run();
