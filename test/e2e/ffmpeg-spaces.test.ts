// A server whose TMPDIR has spaces in it: the mixer's sockets, the HLS packager's SDP file and
// segment directory all live there, and HLS still plays. The HLS FFmpeg's command line, read
// back from /proc, is the argv FfmpegProcess built (specToArgv, unit-tested in
// test/unit/remux.test.ts) byte for byte: nothing split a value or re-ordered an option.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { hasBinary, skip } from '../helpers/skip.ts';

const RED = [220, 30, 30] as const;

test('HLS runs under a TMPDIR with spaces, with exactly the argv that was built', async () => {
  if (!hasBinary('ffmpeg')) return skip('needs ffmpeg');
  const spaced = fs.mkdtempSync(path.join(os.tmpdir(), 'mcu tmp with spaces '));
  const before = process.env.TMPDIR;
  process.env.TMPDIR = spaced;
  assert.is(os.tmpdir(), spaced);
  // Imported after TMPDIR is set, so nothing could have captured the old one.
  const { startServer } = await import('../../server/main.ts');
  const { SyntheticPublisher } = await import('../../workers/clients/webrtc.ts');
  const { liveFfmpegProcesses } = await import('../../workers/ffmpeg/FfmpegProcess.ts');
  const { waitFor } = await import('../helpers/peers.ts');
  const { ffprobe, frameAt } = await import('../helpers/recorder.ts');
  const { colorAt, colorDistance } = await import('../helpers/media.ts');
  const server = await startServer({ port: 0, host: '127.0.0.1', roomIdleMs: 500, demo: false, hlsIdleMs: 60_000 });
  const pub = await SyntheticPublisher.start({ whipUrl: `${server.url}/rooms/spaced/whip`, color: [...RED], toneHz: 440 });
  try {
    const res = await fetch(`${server.url}/rooms/spaced/hls/index.m3u8`);
    assert.is(res.status, 200);
    const dir = server.rooms.get('spaced')!.broadcasts.hls!.dir;
    assert.ok(dir.startsWith(spaced + path.sep), `the HLS directory is under the spaced TMPDIR: ${dir}`);

    const hls = [...liveFfmpegProcesses()].find((p) => p.name.startsWith('hls-'));
    assert.ok(hls?.pid, 'the HLS FFmpeg runs');
    const cmdline = fs.readFileSync(`/proc/${hls!.pid}/cmdline`, 'utf8').split('\0');
    cmdline.pop(); // the trailing NUL
    assert.equal(cmdline.slice(1), [...hls!.argv], 'the command line is the built argv, one value per argument');
    const segName = cmdline[cmdline.indexOf('-hls_segment_filename') + 1];
    assert.is(segName, `${dir}/%v_%05d.ts`);

    const media = await waitFor(async () => {
      const text = await (await fetch(`${server.url}/rooms/spaced/hls/stream_720p.m3u8`)).text();
      return /\.ts\b/.test(text) ? text : null;
    }, 20_000, 'a segment listed in the 720p playlist');
    const uri = /^([0-9a-z]+_\d{5}\.ts)$/m.exec(media)![1];
    assert.ok(fs.existsSync(path.join(dir, uri)), 'the segment was written under the spaced directory');
    const seg = await fetch(`${server.url}/rooms/spaced/hls/${uri}`);
    assert.is(seg.status, 200);
    const file = path.join(spaced, 'segment copy.ts');
    fs.writeFileSync(file, Buffer.from(await seg.arrayBuffer()));
    const info = ffprobe(file);
    const v = info.streams.find((s: any) => s.codec_type === 'video');
    assert.is(v.codec_name, 'h264');
    assert.is(v.width, 1280);
    const centre = colorAt(frameAt(file, 0.5), 640, 360, 6);
    assert.ok(colorDistance(centre, [...RED]) < 60, `the segment shows the publisher: ${JSON.stringify(centre)}`);
  } finally {
    await pub.close();
    await server.close();
    if (before === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = before;
    fs.rmSync(spaced, { recursive: true, force: true });
  }
});

test.run();
