// FFmpeg specs that take the mix's RTP as sent (no second video encode) and write it somewhere
// else: a recording part (WebM or fragmented MP4), the joined recording, an HLS ladder, an RTMP
// push. Pure: SDP text and argv only; workers/media/RtpRemux.ts runs them.

import type { FfmpegSpec } from '../ffmpeg/spec.ts';

export type VideoCodecName = 'VP8' | 'H264';

export interface RtpStreamDesc {
  port: number;
  payloadType: number;
}

export interface RemuxInput {
  /** One or more video streams (an HLS ladder has one per rung), all of the same codec. */
  video: Array<RtpStreamDesc & { codec: VideoCodecName; fmtp?: string }>;
  audio: RtpStreamDesc & { fmtp?: string };
}

/** An SDP file describing RTP streams that arrive on 127.0.0.1 (FFmpeg's `-f sdp` input). */
export function rtpSdp(input: RemuxInput): string {
  const lines = ['v=0', 'o=- 0 0 IN IP4 127.0.0.1', 's=mcu-remux', 'c=IN IP4 127.0.0.1', 't=0 0'];
  for (const v of input.video) {
    lines.push(`m=video ${v.port} RTP/AVP ${v.payloadType}`, `a=rtpmap:${v.payloadType} ${v.codec}/90000`);
    if (v.fmtp) lines.push(`a=fmtp:${v.payloadType} ${v.fmtp}`);
  }
  const a = input.audio;
  lines.push(`m=audio ${a.port} RTP/AVP ${a.payloadType}`, `a=rtpmap:${a.payloadType} opus/48000/2`);
  if (a.fmtp) lines.push(`a=fmtp:${a.payloadType} ${a.fmtp}`);
  return lines.join('\r\n') + '\r\n';
}

export const RECORDING_FORMATS = ['webm', 'mp4'] as const;
export type RecordingFormat = (typeof RECORDING_FORMATS)[number];

/** The codec a recording format takes from the ladder without re-encoding video. */
export function recordingVideoCodec(format: RecordingFormat): VideoCodecName {
  return format === 'mp4' ? 'H264' : 'VP8';
}

const GLOBAL = ['-hide_banner', '-nostats', '-loglevel', 'warning', '-nostdin', '-y'];

/** The SDP input: RTP over UDP on loopback, with enough reordering room for a burst. */
export function sdpInput(sdpPath: string): FfmpegSpec['inputs'][number] {
  return {
    url: sdpPath,
    options: ['-protocol_whitelist', 'file,udp,rtp', '-f', 'sdp', '-fflags', '+genpts', '-buffer_size', '4194304', '-reorder_queue_size', '256', '-analyzeduration', '3000000'],
  };
}

/**
 * One recording part, playable up to its last second at any moment: WebM with one-second
 * clusters (VP8 + Opus copied), or fragmented MP4 with one-second fragments (H.264 copied, Opus
 * to AAC: MP4 players expect AAC).
 */
export function recordingPartSpec(sdpPath: string, format: RecordingFormat, outPath: string): FfmpegSpec {
  const map = ['-map', '0:v:0', '-map', '0:a:0'];
  const options =
    format === 'webm'
      ? [...map, '-c', 'copy', '-f', 'webm', '-cluster_time_limit', '1000', '-flush_packets', '1']
      : [
          ...map,
          '-c:v', 'copy',
          '-c:a', 'aac', '-b:a', '128k',
          '-f', 'mp4',
          '-movflags', '+empty_moov+default_base_moof+frag_keyframe',
          '-frag_duration', '1000000',
          '-flush_packets', '1',
        ];
  return { globalOptions: GLOBAL, inputs: [sdpInput(sdpPath)], filterComplex: '', outputs: [{ url: outPath, options }] };
}

export interface PartInfo {
  path: string;
  /** Seconds of media in the part (last packet end), when known. */
  durationSec?: number;
}

/** Escapes a path for FFmpeg's concat demuxer list (single-quoted). */
function quote(p: string): string {
  return `'${p.replace(/'/g, "'\\''")}'`;
}

/**
 * Seconds left between one part's end and the next part's start in a joined recording: more
 * than a frame at 30 fps. A part's end is an estimate (its last packet plus that stream's last
 * spacing); twice (CI, 2026-11-27) a recording joined after its worker was killed decoded with
 * "non monotonically increasing dts … 194 >= 194" (195 the first time): at the nominal 1/30 s,
 * frame 194 is ~6.5 s in, where the killed part ended, so the next part's first frame fell within
 * one frame interval of the last one. Which part of the estimate was short is not known; a gap of
 * more than a frame keeps any error under 40 ms from putting two frames on one timestamp. A
 * join is seconds of lost media already; 40 ms more is a held frame.
 */
export const JOIN_GAP_SEC = 0.04;

/** The concat demuxer's list: each part with its measured duration (plus JOIN_GAP_SEC), so a
 * part cut by a crash (no duration in its header) still places the next one after its last packet. */
export function concatList(parts: PartInfo[]): string {
  const out = ['ffconcat version 1.0'];
  for (const p of parts) {
    out.push(`file ${quote(p.path)}`);
    if (p.durationSec !== undefined && Number.isFinite(p.durationSec) && p.durationSec > 0) out.push(`duration ${(p.durationSec + JOIN_GAP_SEC).toFixed(3)}`);
  }
  return out.join('\n') + '\n';
}

/**
 * Where a file's media ends, in seconds, from ffprobe's packet list (`-show_entries
 * packet=stream_index,pts_time,duration_time -of csv=p=0`): the latest stream's last packet plus
 * its duration, or plus that stream's last packet spacing when the container stores none (WebM
 * SimpleBlocks). A part whose writer was killed has no trustworthy header duration (absent, or
 * the estimate FFmpeg wrote up front), and the concat demuxer offsets the next part by the
 * duration given: one shorter than the packets gives two packets the same timestamp at the
 * join (CI, 2026-11-27: "non monotonically increasing dts … 195 >= 195" in a joined recording).
 * A part's timestamps start at ~0 (its muxer shifts them; audio may begin a few ms earlier, less
 * than a packet's spacing), so its end is the length the concat needs.
 */
export function packetsEndSec(csv: string): number {
  const last = new Map<string, { pts: number; prev: number | null; dur: number | null }>();
  for (const line of csv.split('\n')) {
    const [stream, ptsRaw, durRaw] = line.split(',');
    const pts = Number(ptsRaw);
    if (!stream || ptsRaw === undefined || ptsRaw === '' || !Number.isFinite(pts)) continue;
    const dur = durRaw !== undefined && durRaw !== '' && Number.isFinite(Number(durRaw)) && Number(durRaw) > 0 ? Number(durRaw) : null;
    const s = last.get(stream);
    if (s && pts < s.pts) continue; // a B-frame or reordered packet: the stream's end is its latest pts
    last.set(stream, { pts, prev: s ? s.pts : null, dur });
  }
  let end = 0;
  for (const s of last.values()) {
    const step = s.dur ?? (s.prev !== null && s.pts > s.prev ? s.pts - s.prev : 0);
    end = Math.max(end, s.pts + step);
  }
  return end;
}

/** Joins recording parts into one file without re-encoding; MP4 gets its index up front. */
export function joinPartsSpec(listPath: string, format: RecordingFormat, outPath: string): FfmpegSpec {
  const options = ['-map', '0:v:0', '-map', '0:a:0', '-c', 'copy', '-f', format];
  if (format === 'mp4') options.push('-movflags', '+faststart');
  return {
    globalOptions: GLOBAL,
    inputs: [{ url: listPath, options: ['-f', 'concat', '-safe', '0'] }],
    filterComplex: '',
    outputs: [{ url: outPath, options }],
  };
}

export interface HlsVariant {
  name: string;
  /** Advertised in the multivariant playlist (the rung's target bitrate + audio). */
  bandwidth: number;
}

export const HLS_PLAYLIST = 'index.m3u8';
/** Files an HLS directory may hold (the only names the server serves from it). */
export const HLS_FILE = /^(index\.m3u8|stream_[0-9a-z]+\.m3u8|[0-9a-z]+_\d{5}\.ts)$/;

/**
 * HLS from the H.264 rungs as encoded (copied), AAC audio: one variant per rung, `segmentSec`
 * segments cut on the mixer's keyframes (every 2 s), a sliding window of `listSize` segments,
 * older ones deleted, program date-times for latency.
 */
export function hlsSpec(sdpPath: string, dir: string, variants: HlsVariant[], segmentSec = 2, listSize = 6): FfmpegSpec {
  const options: string[] = [];
  variants.forEach((_, i) => options.push('-map', `0:v:${i}`, '-map', '0:a:0'));
  options.push('-c:v', 'copy', '-c:a', 'aac', '-ac', '2', '-b:a', '96k');
  variants.forEach((v, i) => options.push(`-b:v:${i}`, String(v.bandwidth)));
  options.push(
    '-f', 'hls',
    '-hls_time', String(segmentSec),
    '-hls_list_size', String(listSize),
    '-hls_delete_threshold', '2',
    '-hls_flags', 'delete_segments+independent_segments+program_date_time+temp_file',
    '-hls_segment_type', 'mpegts',
    '-master_pl_name', HLS_PLAYLIST,
    '-var_stream_map', variants.map((v, i) => `v:${i},a:${i},name:${v.name}`).join(' '),
    '-hls_segment_filename', `${dir}/%v_%05d.ts`,
  );
  return { globalOptions: GLOBAL, inputs: [sdpInput(sdpPath)], filterComplex: '', outputs: [{ url: `${dir}/stream_%v.m3u8`, options }] };
}

/**
 * An RTMP push (FLV): the 720p H.264 rung copied, AAC audio; progress on stderr. FFmpeg speaks
 * RTMP to a relay on loopback (`relayPort`, owned by the server, which connects to the target);
 * the application, stream key and tcUrl come from a preset file (`presetPath`, see
 * pipeline/net/pushTargets.ts rtmpPreset), so nothing secret is on the command line.
 */
export function rtmpSpec(sdpPath: string, presetPath: string, relayPort: number): FfmpegSpec {
  return {
    globalOptions: [...GLOBAL, '-progress', 'pipe:2', '-stats_period', '1'],
    inputs: [sdpInput(sdpPath)],
    filterComplex: '',
    outputs: [
      {
        url: `rtmp://127.0.0.1:${relayPort}`,
        options: [
          '-map', '0:v:0', '-map', '0:a:0', '-c:v', 'copy', '-c:a', 'aac', '-ac', '2', '-b:a', '128k',
          '-fpre', presetPath, '-f', 'flv', '-flvflags', 'no_duration_filesize',
        ],
      },
    ],
  };
}
