// The per-publisher video decoder as data: FFmpeg reading whole compressed frames in IVF
// framing on stdin (no parser, so no frame of latency) and writing yuv420p frames of the
// mixer's slot size on stdout, the picture scaled to fit with its aspect kept and centred
// (letterboxed). letterboxRect computes where the picture lands exactly as FFmpeg's scale
// (force_original_aspect_ratio=decrease, force_divisible_by=2) and this pad expression do,
// so the ingest can report the content rect of every frame from the bitstream's size alone.

import type { FfmpegSpec } from '../ffmpeg/spec.ts';
import type { Rect, Size } from '../layout/geometry.ts';
import type { VideoCodec } from '../rtp/depacketize.ts';

export const IVF_FOURCC: Record<VideoCodec, string> = { vp8: 'VP80', vp9: 'VP90', h264: 'H264', av1: 'AV01' };

/** av_rescale(a, b, c) with FFmpeg's default rounding (to nearest, halves away from zero). */
const rescale = (a: number, b: number, c: number): number => Math.floor((a * b + Math.floor(c / 2)) / c);

/** Where a `source`-sized picture lands inside the decoder's `slot`-sized output. */
export function letterboxRect(source: Size, slot: Size): Rect {
  let w = Math.min(rescale(slot.height, source.width, source.height), slot.width);
  let h = Math.min(rescale(slot.width, source.height, source.width), slot.height);
  w = Math.max(2, Math.floor(w / 2) * 2);
  h = Math.max(2, Math.floor(h / 2) * 2);
  return { x: Math.trunc((slot.width - w) / 4) * 2, y: Math.trunc((slot.height - h) / 4) * 2, width: w, height: h };
}

export function decoderFilter(slot: Size): string {
  const { width: W, height: H } = slot;
  return (
    `scale=w=${W}:h=${H}:force_original_aspect_ratio=decrease:force_divisible_by=2:flags=bilinear,` +
    `pad=w=${W}:h=${H}:x='trunc((ow-iw)/4)*2':y='trunc((oh-ih)/4)*2':color=black,format=yuv420p`
  );
}

export function decoderSpec(codec: VideoCodec, slot: Size): FfmpegSpec {
  // libdav1d for AV1 (FFmpeg's native av1 decoder needs hardware).
  const decoder = codec === 'av1' ? ['-c:v', 'libdav1d'] : [];
  return {
    globalOptions: ['-hide_banner', '-nostdin', '-loglevel', 'warning'],
    inputs: [
      {
        url: 'pipe:0',
        options: [
          '-f', 'ivf', '-flags', 'low_delay', '-probesize', '32', '-analyzeduration', '0',
          // One thread: frame threading holds frames back (a frame per thread).
          '-threads', '1', ...decoder,
        ],
      },
    ],
    filterComplex: '',
    outputs: [
      {
        url: 'pipe:1',
        // -threads 1 on the output too: the rawvideo "encoder" runs frame-threaded by default
        // and then hands each frame out only when the next one arrives (a frame of latency).
        options: ['-vf', decoderFilter(slot), '-fps_mode', 'passthrough', '-threads', '1', '-f', 'rawvideo', '-pix_fmt', 'yuv420p', '-flush_packets', '1'],
      },
    ],
  };
}
