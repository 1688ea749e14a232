// The remux specs: SDP for loopback RTP, recording parts, joins (pure, no FFmpeg run here;
// test/e2e/recordings.test.ts runs them for real).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { concatList, hlsSpec, packetsEndSec, joinPartsSpec, recordingPartSpec, recordingVideoCodec, rtmpSpec, rtpSdp } from '../../pipeline/media/remux.ts';
import { specToArgv } from '../../pipeline/mixer/graph.ts';

test('rtpSdp describes each stream on loopback with its payload type', () => {
  const sdp = rtpSdp({
    video: [
      { port: 20000, payloadType: 102, codec: 'H264', fmtp: 'packetization-mode=1' },
      { port: 20002, payloadType: 102, codec: 'H264' },
    ],
    audio: { port: 20004, payloadType: 111, fmtp: 'useinbandfec=1' },
  });
  assert.match(sdp, /^v=0\r\n/);
  assert.match(sdp, /c=IN IP4 127\.0\.0\.1\r\n/);
  assert.match(sdp, /m=video 20000 RTP\/AVP 102\r\na=rtpmap:102 H264\/90000\r\na=fmtp:102 packetization-mode=1\r\n/);
  assert.match(sdp, /m=video 20002 RTP\/AVP 102\r\na=rtpmap:102 H264\/90000\r\nm=audio/);
  assert.match(sdp, /m=audio 20004 RTP\/AVP 111\r\na=rtpmap:111 opus\/48000\/2\r\na=fmtp:111 useinbandfec=1\r\n$/);
});

test('formats take the ladder codec that needs no second encode', () => {
  assert.is(recordingVideoCodec('webm'), 'VP8');
  assert.is(recordingVideoCodec('mp4'), 'H264');
});

test('a WebM part copies both streams in one-second clusters', () => {
  const argv = specToArgv(recordingPartSpec('/tmp/in.sdp', 'webm', '/rec/part-000.webm')).join(' ');
  assert.match(argv, /-f sdp .*-i \/tmp\/in\.sdp/);
  assert.match(argv, /-c copy -f webm -cluster_time_limit 1000/);
  assert.ok(argv.endsWith('/rec/part-000.webm'));
});

test('an MP4 part copies H.264, encodes AAC, and is fragmented every second', () => {
  const argv = specToArgv(recordingPartSpec('/tmp/in.sdp', 'mp4', '/rec/part-001.mp4')).join(' ');
  assert.match(argv, /-c:v copy -c:a aac/);
  assert.match(argv, /-movflags \+empty_moov\+default_base_moof\+frag_keyframe -frag_duration 1000000/);
  assert.not.match(argv, /libx264|libvpx/);
});

test('concatList quotes paths and carries measured durations, each plus the join gap (more than a frame)', () => {
  const list = concatList([
    { path: "/rec/it's/part-000.webm", durationSec: 12.3456 },
    { path: '/rec/x/part-001.webm', durationSec: 0 },
    { path: '/rec/x/part-002.webm' },
  ]);
  assert.is(
    list,
    "ffconcat version 1.0\nfile '/rec/it'\\''s/part-000.webm'\nduration 12.386\nfile '/rec/x/part-001.webm'\nfile '/rec/x/part-002.webm'\n",
  );
});

test('joining copies (no re-encode); MP4 gets its index up front', () => {
  const mp4 = specToArgv(joinPartsSpec('/tmp/list.txt', 'mp4', '/rec/out.mp4')).join(' ');
  assert.match(mp4, /-f concat -safe 0 -i \/tmp\/list\.txt/);
  assert.match(mp4, /-c copy -f mp4 -movflags \+faststart/);
  const webm = specToArgv(joinPartsSpec('/tmp/list.txt', 'webm', '/rec/out.webm')).join(' ');
  assert.not.match(webm, /faststart/);
});

// The argv FfmpegProcess spawns is specToArgv(spec) as is (test/e2e/ffmpeg-spaces.test.ts reads it
// back from /proc): every value below must arrive as one argument, whatever TMPDIR holds.
const SPACED = '/tmp/mcu tmp dir/mcu-p1-hls-room one-abc';

function valueOf(argv: string[], option: string): string | undefined {
  const i = argv.indexOf(option);
  return i < 0 ? undefined : argv[i + 1];
}

test('HLS under a TMPDIR with spaces: every path and the stream map stay one argument', () => {
  const argv = specToArgv(
    hlsSpec(`${SPACED}/in.sdp`, SPACED, [
      { name: '720p', bandwidth: 1_500_000 },
      { name: '360p', bandwidth: 400_000 },
    ]),
  );
  assert.is(valueOf(argv, '-i'), `${SPACED}/in.sdp`);
  assert.is(valueOf(argv, '-hls_segment_filename'), `${SPACED}/%v_%05d.ts`);
  assert.is(valueOf(argv, '-var_stream_map'), 'v:0,a:0,name:720p v:1,a:1,name:360p');
  assert.is(argv[argv.length - 1], `${SPACED}/stream_%v.m3u8`);
});

test('recording parts, joins and RTMP pushes under a TMPDIR with spaces keep their paths whole', () => {
  for (const format of ['webm', 'mp4'] as const) {
    const part = specToArgv(recordingPartSpec(`${SPACED}/in.sdp`, format, '/rec/room one/part-000.' + format));
    assert.is(valueOf(part, '-i'), `${SPACED}/in.sdp`);
    assert.is(part[part.length - 1], '/rec/room one/part-000.' + format);
    const join = specToArgv(joinPartsSpec(`${SPACED}/list.txt`, format, '/rec/room one/out.' + format));
    assert.is(valueOf(join, '-i'), `${SPACED}/list.txt`);
    assert.is(join[join.length - 1], '/rec/room one/out.' + format);
  }
  const rtmp = specToArgv(rtmpSpec(`${SPACED}/in.sdp`, `${SPACED}/push.ffpreset`, 1935));
  assert.is(valueOf(rtmp, '-fpre'), `${SPACED}/push.ffpreset`);
  assert.is(valueOf(rtmp, '-i'), `${SPACED}/in.sdp`);
});

test.run();

test('packetsEndSec: the latest stream’s last packet plus its duration, or its spacing when none is stored', () => {
  // ffprobe on a killed WebM part: video SimpleBlocks carry no duration, audio does.
  const csv = ['1,-0.007000,0.020000', '0,0.000000,', '1,0.013000,0.020000', '0,0.033000,', '0,0.066000,', '1,0.033000,0.020000', ''].join('\n');
  assert.ok(Math.abs(packetsEndSec(csv) - 0.099) < 1e-9, 'video: 0.066 + its 33 ms spacing');
  assert.ok(Math.abs(packetsEndSec('0,1.000000,0.040000\n1,1.020000,0.020000\n') - 1.04) < 1e-9, 'stored durations');
  assert.is(packetsEndSec(''), 0);
  assert.is(packetsEndSec('0,N/A,\n'), 0, 'packets without a pts are skipped');
});
