// A webinar edge's pull (server/cluster/EdgePull.ts) with a stand-in WHEP client and stand-in
// viewer tracks: packets go to its viewers only, a viewer switching to it moves exactly on its
// keyframe start (audio with it), the pull it left lingers and ends, keyframe requests are gated.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { EventEmitter } from 'node:events';
import { RtpHeader, RtpPacket } from 'werift';
import { EdgePull, type EdgeViewer } from '../../server/cluster/EdgePull.ts';
import { EdgeViewerRung } from '../../pipeline/cluster/edgeRungs.ts';
import type { WhepPull } from '../../server/cluster/WhepPull.ts';

class Track {
  readonly got: Array<[string, number]> = [];
  needsKeyframe = false;
  forward(source: string, packet: Buffer): boolean {
    this.got.push([source, packet[13]]);
    return true;
  }
  /** The stand-in packet's first payload byte says whether it starts a keyframe. */
  isKeyframeStart(packet: Buffer): boolean {
    return packet[12] === 1;
  }
}

class Client extends EventEmitter {
  location = 'http://owner/rooms/w/whep/x';
  plis = 0;
  closed = false;
  requestKeyframe(): void {
    this.plis++;
  }
  async close(): Promise<void> {
    this.closed = true;
  }
}

const rtp = (ssrc: number, keyframe: boolean, n: number) => new RtpPacket(new RtpHeader({ ssrc, payloadType: 96, sequenceNumber: n, timestamp: n * 3000 }), Buffer.from([keyframe ? 1 : 0, n]));

function viewer(pull: EdgePull, rung: EdgeViewerRung): EdgeViewer & { egress: { video: Track; audio: Track } } {
  return { id: 'v', room: 'w', ownerUrl: 'http://owner', egress: { video: new Track(), audio: new Track(), closed: false, connectedAt: 1 } as any, pull, switchingTo: null, rung, ownerTokenHash: null, createdAt: 0 } as any;
}

function pulls(lingerMs = 20) {
  const events = { switched: [] as string[], ended: [] as string[] };
  const hooks = {
    switched: (v: EdgeViewer, to: EdgePull) => {
      const from = v.pull;
      v.pull = to;
      from.remove(v);
      events.switched.push(`${from.rungKey}->${to.rungKey}`);
    },
    ended: (p: EdgePull, reason: string) => events.ended.push(`${p.rungKey}: ${reason}`),
  };
  const ca = new Client();
  const cb = new Client();
  const a = new EdgePull('w', 'w#720p/vp8', ca as unknown as WhepPull, lingerMs, hooks);
  const b = new EdgePull('w', 'w#360p/vp8', cb as unknown as WhepPull, lingerMs, hooks);
  return { a, b, ca, cb, events };
}

test('a viewer gets its pull\'s packets, and switches to another pull exactly on its keyframe start', async () => {
  const { a, b, ca, cb, events } = pulls();
  const rung = new EdgeViewerRung('vp8', '720p', false);
  const v = viewer(a, rung);
  a.add(v);
  ca.emit('video', rtp(1, false, 1));
  ca.emit('audio', rtp(2, false, 2));
  assert.equal(v.egress.video.got, [['edge:1', 1]]);
  assert.equal(v.egress.audio.got, [['edge:2', 2]]);
  // Its feedback asks for 360p: pending on pull b (as EdgeRelays does it).
  rung.pending = '360p/vp8';
  const plis = cb.plis;
  b.addSwitching(v);
  assert.is(cb.plis, plis + 1, 'the new pull is asked for a keyframe');
  assert.is(b.rungKey, '360p/vp8');
  cb.emit('video', rtp(3, false, 3)); // not a keyframe start: nothing moves
  cb.emit('audio', rtp(4, false, 4)); // audio of b: still a's audio until the switch
  ca.emit('video', rtp(1, false, 5));
  assert.equal(v.egress.video.got.map((g) => g[1]), [1, 5]);
  assert.equal(v.egress.audio.got.map((g) => g[1]), [2]);
  cb.emit('video', rtp(3, true, 6)); // b's keyframe start: the switch, and this packet with it
  assert.equal(events.switched, ['720p/vp8->360p/vp8']);
  assert.is(rung.current, '360p/vp8');
  assert.is(v.pull, b);
  assert.equal([a.viewers.size, b.viewers.size, b.switching.size, b.switchesIn], [0, 1, 0, 1]);
  ca.emit('video', rtp(1, false, 7)); // a's packets no longer reach it
  cb.emit('audio', rtp(4, false, 8));
  assert.equal(v.egress.video.got, [['edge:1', 1], ['edge:1', 5], ['edge:3', 6]]);
  assert.equal(v.egress.audio.got, [['edge:2', 2], ['edge:4', 8]]);
  // a, left without viewers, lingers and ends (its session on the owner closed); b stays.
  await new Promise((r) => setTimeout(r, 60));
  assert.ok(a.closed && ca.closed, 'the unused pull ended after its linger');
  assert.match(events.ended.join(), /^720p\/vp8: no viewer/);
  assert.not.ok(b.closed);
  b.end('test over');
});

test('a switch given up (the viewer removed from the pull) lets the new pull linger; a viewer coming back keeps it', async () => {
  const { a, b, events } = pulls(30);
  const rung = new EdgeViewerRung('vp8', '720p', false);
  const v = viewer(a, rung);
  a.add(v);
  rung.pending = '360p/vp8';
  b.addSwitching(v);
  assert.is(v.switchingTo, b);
  b.remove(v);
  assert.is(v.switchingTo, null);
  await new Promise((r) => setTimeout(r, 10));
  b.addSwitching(v); // back before the linger ran out: kept
  await new Promise((r) => setTimeout(r, 50));
  assert.not.ok(b.closed);
  b.remove(v);
  await new Promise((r) => setTimeout(r, 60));
  assert.ok(b.closed);
  assert.not.ok(a.closed, 'the pull it watches stays');
  assert.equal(events.ended.length, 1);
  a.end('test over');
});

test('keyframe requests upstream: at most one per 500 ms, the last absorbed one trailing', async () => {
  const { a, b, ca } = pulls();
  b.end('unused');
  for (let i = 0; i < 20; i++) a.requestKeyframe();
  assert.is(ca.plis, 1);
  assert.is(a.gate.absorbed, 19);
  a.end('test over'); // the trailing request is dropped with the pull
  await new Promise((r) => setTimeout(r, 10));
  assert.is(ca.plis, 1);
});

test.run();
