// Individual tracks (WHEP ?tracks=3) in a room of four pre-encoded publishers, beside a mix
// subscriber: each forwarded track carries exactly the frames its publisher sent (depacketized
// and compared byte for byte with the publisher's loop), a speaker change moves one slot to the
// new speaker within 2 s and starts it on a keyframe (the new publisher is asked with a PLI),
// and the mix subscriber decodes the composite throughout.

import { createHash } from 'node:crypto';
import { spawn } from 'node:child_process';
import readline from 'node:readline';
import { RTCPeerConnection, RTCRtpCodecParameters } from 'werift';
import '../../workers/weriftDtlsFix.ts'; // werift's DTLS client survives a repeated HelloVerifyRequest
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startServer } from '../../server/main.ts';
import { audioFixture, videoFixture } from '../../bench/lib/fixtures.ts';
import { RtpPublisher } from '../../bench/lib/RtpPublisher.ts';
import { waitFor } from '../helpers/peers.ts';
import { RoomEvents, TracksSubscriber, type ReceivedFrame } from '../helpers/tracks-subscriber.ts';

const sha = (b: Buffer) => createHash('sha1').update(b).digest('hex');

test('tracks=3: byte-identical forwarded frames, a speaker change switches one slot on a keyframe, the mix goes on', async () => {
  const server = await startServer({ port: 0, host: '127.0.0.1', demo: false });
  const room = 'tracks';
  const tone = await audioFixture('tone');
  const silence = await audioFixture('silence');
  const colours: Array<[number, number, number]> = [
    [220, 40, 40],
    [40, 180, 40],
    [40, 40, 220],
    [220, 200, 40],
  ];
  const videos = await Promise.all(colours.map((c) => videoFixture(c)));
  /** Which publisher's loop a frame comes from, by its bytes. */
  const origin = new Map<string, number>();
  videos.forEach((frames, i) => frames.forEach((f) => origin.set(sha(f), i)));
  const pubs: RtpPublisher[] = [];
  let sub: TracksSubscriber | null = null;
  let own: TracksSubscriber | null = null;
  let events: RoomEvents | null = null;
  const mixTimes: number[] = [];
  let mixReady = false;
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/frame-times-cli.ts', `${server.url}/rooms/${room}/whep`], { stdio: ['ignore', 'pipe', 'inherit'] });
  readline.createInterface({ input: child.stdout! }).on('line', (l) => {
    if (l === 'ready') mixReady = true;
    else if (l.startsWith('f ')) mixTimes.push(Number(l.slice(2)));
  });
  try {
    for (let i = 0; i < 4; i++) {
      pubs.push(await RtpPublisher.whip(`${server.url}/rooms/${room}/whip?name=P${i}`, videos[i], i === 0 ? tone : silence, { keyframeOnPli: true }));
    }
    const info = async () => (await (await fetch(`${server.url}/rooms/${room}`)).json()) as any;
    const byName = new Map<string, number>(((await info()).participants as any[]).map((p) => [p.id, Number(p.name.slice(1))]));
    events = await RoomEvents.follow(`${server.url}/rooms/${room}/events`);
    sub = await TracksSubscriber.connect(`${server.url}/rooms/${room}/whep?tracks=3`, 3);
    const s = sub;
    const mine = async () => ((await info()).subscriptions as any[]).find((x) => x.video === 'tracks');
    await waitFor(() => mixReady, 20_000, 'the mix subscriber to decode frames');
    // P0 talks: it and the two earliest joiners fill the slots.
    await waitFor(async () => {
      const t = (await mine())?.tracks as any[] | undefined;
      return t && t.every((x) => x.participantId) && (await info()).activeSpeaker ? t : null;
    }, 10_000, 'three slots filled and P0 the speaker', 100);
    const mixFrom = Date.now();
    await new Promise((r) => setTimeout(r, 3000));
    let slots = (await mine()).tracks as Array<{ slot: number; mid: string; participantId: string }>;
    const shown = slots.map((x) => byName.get(x.participantId));
    assert.equal([...shown].sort(), [0, 1, 2], 'the speaker (P0) and the earliest joiners (P1, P2)');
    assert.equal(slots.map((x) => x.mid), s.mids, 'slots in the offer\'s video m-line order');

    /** A slot's complete frames, with their publisher. */
    const framesOf = (mid: string, from = 0) => s.frames(mid, from).map((f) => ({ ...f, from: f.data ? (origin.get(sha(f.data)) ?? -1) : null }));
    for (const x of slots) {
      const frames = framesOf(x.mid);
      const complete = frames.filter((f) => f.data);
      const expected = byName.get(x.participantId)!;
      console.log(`  slot ${x.slot} (P${expected}): ${frames.length} frames, ${complete.length} complete, first a keyframe: ${frames[0]?.keyframe}`);
      assert.ok(complete.length >= 60, `slot ${x.slot}: ≥ 60 complete frames in ~3 s (${complete.length})`);
      assert.ok(frames[0].keyframe, `slot ${x.slot} starts on a keyframe`);
      const wrong = complete.filter((f) => f.from !== expected);
      assert.is(wrong.length, 0, `slot ${x.slot}: every frame byte-identical to one P${expected} sent (${wrong.length} not)`);
      assert.ok(complete.length >= frames.length - 2, `slot ${x.slot}: nearly all frames complete on loopback`);
    }
    assert.ok(s.audioPackets > 100, `the audio mix arrives (${s.audioPackets} packets)`);

    // A participant's own tracks subscription: its mix-minus, and everyone but itself.
    const p0 = [...byName].find(([, i]) => i === 0)![0];
    own = await TracksSubscriber.connect(`${server.url}/rooms/${room}/whep?tracks=3&participant=${p0}`, 3);
    const ownId = new URL(own.location).pathname.split('/').pop();
    const ownSub = await waitFor(async () => {
      const x = ((await info()).subscriptions as any[]).find((y) => y.id === ownId);
      return x?.tracks?.every((t: any) => t.participantId) ? x : null;
    }, 5000, 'the participant subscriber\'s slots filled', 100);
    assert.is(ownSub.audio, 'mix-minus');
    assert.equal(ownSub.tracks.map((t: any) => byName.get(t.participantId)).sort(), [1, 2, 3], 'not itself');
    await own.close();
    own = null;

    // P3 starts talking, P0 stops: P3 takes the slot of the one who drops out of the three (P2).
    const p3 = [...byName].find(([, i]) => i === 3)![0];
    const p2 = [...byName].find(([, i]) => i === 2)![0];
    const slotOfP2 = slots.find((x) => x.participantId === p2)!;
    const plisBefore = pubs[3].plisReceived;
    const mainId = new URL(s.location).pathname.split('/').pop();
    const talkAt = performance.now();
    pubs.forEach((p, i) => p.setAudio(i === 3 ? tone : silence));
    const switched = await waitFor(
      () => events!.events.find((e) => e.type === 'tracks-changed' && e.at >= talkAt && e.data.subscriptionId === mainId && e.data.slots.some((x: any) => x.participantId === p3)),
      8000,
      'a tracks-changed event with P3',
    );
    await new Promise((r) => setTimeout(r, 2500));
    const speakerAt = events.events.find((e) => e.type === 'speaker-changed' && e.at >= talkAt && e.data.participantId === p3)?.at ?? null;
    slots = (await mine()).tracks;
    assert.is(slots[slotOfP2.slot].participantId, p3, 'P3 took P2\'s slot');
    assert.equal(switched.data.changed, [slotOfP2.slot], 'only that slot changed');
    const after = framesOf(slotOfP2.mid, talkAt);
    const firstP3 = after.findIndex((f) => f.from === 3 || (f.data === null && f.keyframe));
    assert.ok(firstP3 >= 0, 'P3\'s frames arrive in the slot');
    const first: ReceivedFrame & { from: number | null } = after[firstP3];
    // From P3's first talking packet: the slots follow the recently heard (the room's speaker
    // detector marks the loudest voice as heard at once; its speaker switch holds for 1 s more).
    const switchMs = first.lastAt - talkAt;
    console.log(
      `  speaker change: P3 started talking; tracks-changed +${(switched.at - talkAt).toFixed(0)} ms, P3's first frame (keyframe: ${first.keyframe}) in slot ${slotOfP2.slot} +${switchMs.toFixed(0)} ms, the room's speaker-changed ${speakerAt === null ? 'not within 2.5 s' : `+${(speakerAt - talkAt).toFixed(0)} ms`}; PLIs to P3: ${pubs[3].plisReceived - plisBefore}`,
    );
    assert.ok(first.keyframe, 'the slot switches on a keyframe');
    assert.ok(switchMs <= 2000, `the slot switched within 2 s of the speaker change (${switchMs.toFixed(0)} ms)`);
    assert.ok(pubs[3].plisReceived > plisBefore, 'P3 was asked for a keyframe');
    assert.ok(after.slice(0, firstP3).every((f) => f.from === 2 || f.from === null), 'before: P2 only');
    const rest = after.slice(firstP3).filter((f) => f.data);
    assert.ok(rest.length >= 30 && rest.every((f) => f.from === 3), `after: P3 only, byte-identical (${rest.filter((f) => f.from !== 3).length} of ${rest.length} not)`);
    // Sequence numbers run on across the switch (one SSRC, no jump).
    const pk = s.packets.get(slotOfP2.mid)!;
    const ssrcs = new Set(pk.map((p) => p.rtp.header.ssrc));
    assert.is(ssrcs.size, 1, 'one SSRC per slot');
    const seqs = [...new Set(pk.map((p) => p.rtp.header.sequenceNumber))];
    const jumps = seqs.slice(1).filter((q, i) => ((q - seqs[i]) & 0xffff) > 10 && ((q - seqs[i]) & 0xffff) < 0x8000);
    assert.is(jumps.length, 0, 'no sequence number jumps in the slot');

    // The mix subscriber decoded the composite all along.
    const to = Date.now();
    const window = mixTimes.filter((t) => t >= mixFrom && t <= to);
    const gaps = window.slice(1).map((t, i) => t - window[i]);
    console.log(`  mix: ${window.length} frames in ${((to - mixFrom) / 1000).toFixed(1)} s, longest gap ${Math.max(...gaps).toFixed(0)} ms`);
    assert.ok(window.length > ((to - mixFrom) / 1000) * 20, `the mix subscriber decodes frames throughout (${window.length}; ≥ 20 a second on this shared 2-core box)`);
    assert.ok(Math.max(...gaps) < 500, 'no stall in the mix');
  } finally {
    child.kill('SIGTERM');
    await events?.close();
    await sub?.close();
    await own?.close();
    for (const p of pubs) await p.close();
    await server.close();
  }
});

test('?tracks= is checked: out of range, or more tracks than the offer has video m-lines', async () => {
  const server = await startServer({ port: 0, host: '127.0.0.1', demo: false });
  const pc = new RTCPeerConnection({ codecs: { video: [new RTCRtpCodecParameters({ mimeType: 'video/VP8', clockRate: 90000, payloadType: 96 })] } });
  try {
    pc.addTransceiver('video', { direction: 'recvonly' });
    await pc.setLocalDescription(await pc.createOffer());
    const offer = pc.localDescription!.sdp;
    for (const q of ['9', '0', 'x', '3']) {
      const r = await fetch(`${server.url}/rooms/t2/whep?tracks=${q}`, { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: offer });
      const body = await r.text();
      assert.is(r.status, 400, `?tracks=${q}: ${body}`);
      if (q === '3') assert.match(body, /video m-lines/);
    }
  } finally {
    await pc.close().catch(() => {});
    await server.close();
  }
});

test.run();
