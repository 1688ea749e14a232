// EGRESS_PLAYOUT_DELAY (pipeline/rtp/PlayoutDelay.ts): a WHEP subscriber that offers the
// playout-delay header extension gets it answered, and the mix's keyframes carry the configured
// min / max (10 ms units) under the negotiated id; one that does not offer it gets none.
// The setting is read from the environment (at start-up and at the first answer), so it is set
// before the server is imported.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { RtpPacket } from 'werift';
import type { RunningServer } from '../../server/main.ts';
import type { WhepRtpClient } from '../../workers/clients/WhepRtpClient.ts';
import type { SyntheticPublisher } from '../../workers/clients/webrtc.ts';
import { waitFor } from '../helpers/peers.ts';
import { vp8Payload } from '../../pipeline/rtp/depacketize.ts';

process.env.EGRESS_PLAYOUT_DELAY = '0,100';
const URI = 'http://www.webrtc.org/experiments/rtp-hdrext/playout-delay';
const room = 'playout-delay';

interface Ctx {
  server: RunningServer;
  pub: SyntheticPublisher;
  clients: WhepRtpClient[];
}
const test = suite<Ctx>('playout-delay');

test.before(async (ctx) => {
  const { startServer } = await import('../../server/main.ts');
  const { SyntheticPublisher } = await import('../../workers/clients/webrtc.ts');
  ctx.clients = [];
  ctx.server = await startServer({ port: 0, host: '127.0.0.1', roomIdleMs: 500, demo: false });
  ctx.pub = await SyntheticPublisher.start({ whipUrl: `${ctx.server.url}/rooms/${room}/whip?name=pd`, color: [30, 200, 30], toneHz: 440 });
});

test.after(async (ctx) => {
  for (const c of ctx.clients) await c.close();
  await ctx.pub?.close();
  await ctx.server?.close();
});

/** The video packets a WHEP client gets, keyframe starts apart, until a keyframe and 60 more have come. */
async function watch(ctx: Ctx, extensions: string[]): Promise<{ answer: string; keyframeStarts: RtpPacket[]; others: RtpPacket[] }> {
  const { WhepRtpClient } = await import('../../workers/clients/WhepRtpClient.ts');
  const c = await WhepRtpClient.connect({ url: `${ctx.server.url}/rooms/${room}/whep`, codec: 'VP8', videoHeaderExtensions: extensions });
  ctx.clients.push(c);
  const keyframeStarts: RtpPacket[] = [];
  const others: RtpPacket[] = [];
  c.on('video', (rtp) => (vp8Payload(rtp.payload)?.keyframe ? keyframeStarts : others).push(rtp));
  await waitFor(() => keyframeStarts.length >= 1 && others.length > 60, 30_000, 'a keyframe and 60 more packets');
  return { answer: c.answer, keyframeStarts, others };
}

test('a subscriber that offers the extension gets min 0 / max 100 ms on the keyframes', async (ctx) => {
  const { answer, keyframeStarts, others } = await watch(ctx, [URI]);
  const m = new RegExp(`a=extmap:(\\d+) ${URI.replace(/[.\/]/g, '\\$&')}`).exec(answer);
  assert.ok(m, `the answer has the extension: ${answer}`);
  const id = Number(m![1]);
  for (const k of keyframeStarts) {
    const ext = k.header.extensions.find((e) => e.id === id);
    assert.ok(ext, 'the keyframe carries it');
    assert.equal([...ext!.payload], [0x00, 0x00, 0x0a]); // min 0, max 10 × 10 ms
  }
  // Only keyframes carry it (the receiver keeps the last value it saw).
  assert.ok(others.every((p) => !p.header.extensions.some((e) => e.id === id)));
});

test('a subscriber that does not offer it gets no extension at all', async (ctx) => {
  const { answer, keyframeStarts, others } = await watch(ctx, []);
  assert.not.match(answer, /playout-delay/);
  assert.ok([...keyframeStarts, ...others].every((p) => p.header.extensions.length === 0));
});

test.run();
