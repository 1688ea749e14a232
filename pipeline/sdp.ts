// Just enough SDP reading to reject bad offers with a message that says what is wrong,
// before any peer connection is created. Pure.

import { planIngest } from './ingestCodecs.ts';

export interface SdpCodec {
  payloadType: number;
  name: string; // upper case, e.g. VP8, H264, OPUS
  clockRate: number;
  fmtp: string;
}

export interface SdpMedia {
  kind: string; // audio | video | application | ...
  port: number;
  /** Port 0 + a=bundle-only inside a BUNDLE group: active (JSEP), not rejected. */
  bundleOnly: boolean;
  mid: string | null;
  direction: 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';
  codecs: SdpCodec[];
  /** The section offers PLI or FIR feedback (RFC 4585 / 5104), for any payload type or `*`. */
  asksKeyframes: boolean;
}

export interface SdpSummary {
  media: SdpMedia[];
}

export class SdpError extends Error {
  /** 'malformed': not a usable offer at all; 'unsupported': well formed, but nothing we can do. */
  constructor(message: string, readonly kind: 'malformed' | 'unsupported' = 'malformed') {
    super(message);
  }
}

export const MAX_SDP_BYTES = 64 * 1024;

export function parseSdp(sdp: string): SdpSummary {
  if (typeof sdp !== 'string' || sdp.trim() === '') throw new SdpError('the SDP offer is empty');
  const lines = sdp.split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length > 0);
  if (!lines[0]?.startsWith('v=0')) throw new SdpError('not an SDP offer: it must start with "v=0"');
  for (const l of lines) {
    if (!/^[a-z]=/.test(l)) throw new SdpError(`malformed SDP line: "${l.slice(0, 60)}"`);
  }
  const media: SdpMedia[] = [];
  let sessionDirection: SdpMedia['direction'] = 'sendrecv';
  let current: SdpMedia | null = null;
  const bundled = new Set(
    lines.filter((l) => l.startsWith('a=group:BUNDLE')).flatMap((l) => l.slice('a=group:BUNDLE'.length).trim().split(/\s+/)),
  );
  for (const line of lines) {
    if (line.startsWith('m=')) {
      const parts = line.slice(2).split(/\s+/);
      if (parts.length < 4) throw new SdpError(`malformed media line: "${line.slice(0, 60)}"`);
      current = { kind: parts[0], port: Number(parts[1]), bundleOnly: false, mid: null, direction: sessionDirection, codecs: [], asksKeyframes: false };
      for (const pt of parts.slice(3)) {
        const n = Number(pt);
        if (Number.isInteger(n)) current.codecs.push({ payloadType: n, name: '', clockRate: 0, fmtp: '' });
      }
      media.push(current);
      continue;
    }
    const dir = /^a=(sendrecv|sendonly|recvonly|inactive)$/.exec(line);
    if (dir) {
      if (current) current.direction = dir[1] as SdpMedia['direction'];
      else sessionDirection = dir[1] as SdpMedia['direction'];
      continue;
    }
    if (!current) continue;
    if (line === 'a=bundle-only') current.bundleOnly = true;
    if (line.startsWith('a=mid:')) current.mid = line.slice(6).trim();
    if (/^a=rtcp-fb:\S+ (nack pli|ccm fir)$/.test(line)) current.asksKeyframes = true;
    const rtpmap = /^a=rtpmap:(\d+)\s+([^/\s]+)\/(\d+)/.exec(line);
    if (rtpmap) {
      const c = current.codecs.find((x) => x.payloadType === Number(rtpmap[1]));
      if (c) {
        c.name = rtpmap[2].toUpperCase();
        c.clockRate = Number(rtpmap[3]);
      }
      continue;
    }
    const fmtp = /^a=fmtp:(\d+)\s+(.*)$/.exec(line);
    if (fmtp) {
      const c = current.codecs.find((x) => x.payloadType === Number(fmtp[1]));
      if (c) c.fmtp = fmtp[2];
    }
  }
  for (const m of media) if (m.bundleOnly && !(m.mid !== null && bundled.has(m.mid))) m.bundleOnly = false;
  const mids = new Set<string>();
  for (const m of media) {
    if (!Number.isInteger(m.port) || m.port < 0 || m.port > 65535) throw new SdpError(`malformed media line: the ${m.kind} section's port is not a port number`);
    if (m.mid === null) continue;
    if (mids.has(m.mid)) throw new SdpError(`two media sections share a=mid:${m.mid.slice(0, 32)} (each needs its own)`);
    mids.add(m.mid);
  }
  return { media };
}

const active = (m: SdpMedia) => (m.port !== 0 || m.bundleOnly) && m.direction !== 'inactive';

/** A WHIP offer: at least one audio or video section the client sends, in a codec we decode. */
export function checkPublishOffer(sdp: string): { audio: boolean; video: boolean } {
  const { media } = parseSdp(sdp);
  const sending = media.filter((m) => (m.kind === 'audio' || m.kind === 'video') && active(m));
  if (sending.length === 0) throw new SdpError('the offer has no audio or video section to publish');
  const recvOnly = sending.filter((m) => m.direction === 'recvonly');
  if (recvOnly.length === sending.length) {
    throw new SdpError('the offer only receives media (recvonly); publish with sendonly or sendrecv');
  }
  if (!sdp.includes('a=fingerprint:')) throw new SdpError('the offer has no DTLS fingerprint (a=fingerprint)');
  if (!sdp.includes('a=ice-ufrag:')) throw new SdpError('the offer has no ICE credentials (a=ice-ufrag)');
  // Every section that is sent must be one the ingest decodes: never 201 and silence.
  const { plan } = planIngest(sdp);
  if (plan.refused.length) throw new SdpError(plan.refused.join('; '), 'unsupported');
  if (!plan.audio && !plan.video) throw new SdpError('the offer sends no audio or video section the server can take', 'unsupported');
  return { audio: Boolean(plan.audio), video: Boolean(plan.video) };
}

/** A WHEP offer: receives audio and/or video; video must allow a codec the mixer produces. */
export function checkSubscribeOffer(sdp: string, producible: readonly string[] = ['VP8']): {
  audio: boolean;
  video: boolean;
  videoCodec: string | null;
  /** The video section offers PLI or FIR (RFC 4585 / 5104): the subscriber can ask for a keyframe. */
  videoAsksKeyframes: boolean;
} {
  const { media } = parseSdp(sdp);
  const receiving = media.filter(
    (m) => (m.kind === 'audio' || m.kind === 'video') && active(m) && m.direction !== 'sendonly',
  );
  if (receiving.length === 0) throw new SdpError('the offer has no audio or video section to receive');
  const audio = receiving.find((m) => m.kind === 'audio');
  const video = receiving.find((m) => m.kind === 'video');
  if (audio && !audio.codecs.some((c) => c.name === 'OPUS')) {
    throw new SdpError('the audio section offers no Opus codec; the mix is sent as Opus', 'unsupported');
  }
  let videoCodec: string | null = null;
  if (video) {
    videoCodec = producible.find((p) => video.codecs.some((c) => c.name === p)) ?? null;
    if (!videoCodec) {
      throw new SdpError(
        `the video section offers none of the codecs the mixer produces (${producible.join(', ')})`,
        'unsupported',
      );
    }
  }
  if (!sdp.includes('a=fingerprint:')) throw new SdpError('the offer has no DTLS fingerprint (a=fingerprint)');
  if (!sdp.includes('a=ice-ufrag:')) throw new SdpError('the offer has no ICE credentials (a=ice-ufrag)');
  return { audio: Boolean(audio), video: Boolean(video), videoCodec, videoAsksKeyframes: video?.asksKeyframes ?? false };
}

/**
 * The offer with each m-section in its own media stream (msid), so the receiver does not
 * synchronise audio and video. libwebrtc delays video to line it up with audio within one
 * stream (lip sync); in the MCU's ingest that only adds latency (measured 120-350 ms instead
 * of 50-75 ms), because the mix re-times both anyway: audio through its jitter buffer, video
 * sampled at the next tick. Track ids are kept.
 */
export function unsyncedOffer(sdp: string): string {
  const lines = sdp.split(/\r?\n/);
  const out: string[] = [];
  let mid = '';
  let hasMsid = true;
  let sections = 0;
  // An m-section without a=msid joins libwebrtc's default stream (synchronised with the
  // others): give it an explicit "no stream".
  const close = () => {
    if (!hasMsid) {
      let end = out.length;
      while (end > 0 && out[end - 1] === '') end--;
      out.splice(end, 0, `a=msid:- mcu-${mid}`);
    }
  };
  for (const line of lines) {
    if (line.startsWith('m=')) {
      if (sections) close();
      mid = line.slice(2, line.indexOf(' ')) + String(sections++);
      hasMsid = !/^m=(audio|video) /.test(line);
      out.push(line);
      continue;
    }
    const msid = /^a=msid:(\S+)(\s+\S+)?$/.exec(line);
    if (msid) {
      hasMsid = true;
      out.push(msid[1] === '-' ? line : `a=msid:${msid[1]}-${mid}${msid[2] ?? ''}`);
      continue;
    }
    const ssrc = /^a=ssrc:(\d+) msid:(\S+)(\s+\S+)?$/.exec(line);
    if (ssrc && ssrc[2] !== '-') {
      out.push(`a=ssrc:${ssrc[1]} msid:${ssrc[2]}-${mid}${ssrc[3] ?? ''}`);
      continue;
    }
    out.push(line);
  }
  if (sections) close();
  return out.join('\r\n');
}
