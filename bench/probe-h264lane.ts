// What an H.264 watcher costs a room's mixer, by process: the server in its own process, three
// pre-encoded publishers (640x360 VP8 + Opus), no watcher but the always-on rungs; then one
// H.264-only WHEP viewer (720p-h264). CPU per kind of FFmpeg (video mixers: every process that
// composites, the H.264 lane's too) and the server's Node, over --seconds each; and the mixer's
// VP8 epoch before and after (a process swap under the VP8 watchers shows there).
//   npx tsx bench/probe-h264lane.ts [--seconds 6]

import { parseArgs } from 'node:util';
import { cpuByKind, startServerProc } from './lib/server-proc.ts';
import { RtpPublisher } from './lib/RtpPublisher.ts';
import { audioFixture, videoFixture } from './lib/fixtures.ts';
import { WhepRtpClient } from '../workers/clients/WhepRtpClient.ts';
import { waitFor } from '../test/helpers/peers.ts';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '6' } } });
const secs = Number(values.seconds);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const server = await startServerProc();
const room = 'lane';
const pubs: RtpPublisher[] = [];
try {
  const colours: Array<[number, number, number]> = [[220, 40, 40], [40, 40, 220], [40, 200, 40]];
  for (const [i, c] of colours.entries()) pubs.push(await RtpPublisher.whip(`${server.url}/rooms/${room}/whip?name=P${i}`, await videoFixture(c), await audioFixture('tone')));
  const info = async () => (await (await fetch(`${server.url}/rooms/${room}`)).json()) as any;
  const window = async () => {
    const a = server.children();
    const n0 = server.cpu().node;
    await sleep(secs * 1000);
    const b = server.children();
    return { ffmpeg: cpuByKind(a, b, secs), node: Math.round(((server.cpu().node - n0) / secs) * 1000) / 1000 };
  };
  await sleep(3000);
  const epoch0 = (await info()).mixer.epoch;
  const vp8Only = await window();
  const h264 = await WhepRtpClient.connect({ url: `${server.url}/rooms/${room}/whep?level=720p`, codec: 'H264' });
  let frames = 0;
  h264.on('video', (p) => p.header.marker && frames++);
  await waitFor(() => frames > 10, 15_000, 'the H.264 viewer to receive frames');
  await sleep(1500);
  const withH264 = await window();
  const j = await info();
  await h264.close();
  const r = (x: number) => Math.round(x * 1000) / 1000;
  console.log(JSON.stringify({ vp8Only, withH264, vp8EpochChange: j.mixer.epoch - epoch0, h264Lane: j.mixer.h264Lane ?? null }, null, 1));
  console.log(`video mixers: ${vp8Only.ffmpeg['video mixer']} → ${withH264.ffmpeg['video mixer']} cores (+${r(withH264.ffmpeg['video mixer'] - vp8Only.ffmpeg['video mixer'])}); server Node ${vp8Only.node} → ${withH264.node}; VP8 mixer epoch +${j.mixer.epoch - epoch0}`);
} finally {
  for (const p of pubs) await p.close();
  await server.stop();
}
