// Which codec a publisher sends, decided before the WebRTC stack sees the offer. Pure.
//
// The offer is rewritten so that each audio/video section lists only what the ingest takes:
// one video codec (+ its RTX), Opus for audio. RED, ULPFEC, FlexFEC and codecs we would not
// pick are left out, so the answer cannot name them. Simulcast (a=rid / a=simulcast:send) is
// kept when the offer negotiates the RID header extension (pipeline/simulcast.ts), rewritten
// to plain `a=rid:X send` lines of the layers taken; otherwise it is dropped and the publisher
// sends one stream. Video preference: VP8, then H.264 (packetization-mode 1
// before 0, constrained baseline before main and high), then VP9, then AV1 — the cheapest to
// decode first; any of them decodes.

import { sectionActive, sectionKind, sectionMid, splitSdp, joinSdp, bundleGroups, type SdpSplit } from './sdpSections.ts';
import { spropParameterSets, type VideoCodec } from './rtp/depacketize.ts';
import { parseSimulcast, simulcastLines, type SimulcastOffer } from './simulcast.ts';

export interface OfferedCodec {
  pt: number;
  name: string; // upper case
  clockRate: number;
  channels: number;
  fmtp: string;
}

export interface IngestVideoPlan {
  mid: string | null;
  codec: VideoCodec;
  pt: number;
  rtxPt: number | null;
  fmtp: string;
  /** H.264 SPS/PPS from sprop-parameter-sets (Annex B), if the offer has them. */
  parameterSets: Buffer | null;
  /** RTP header extension ids (0 = not negotiated). */
  midExtId: number;
  twccExtId: number;
  feedback: { nack: boolean; pli: boolean; fir: boolean; twcc: boolean };
  ssrcs: number[];
  /** The layers a simulcast publisher sends (null: one stream). */
  simulcast: SimulcastOffer | null;
}

export interface IngestAudioPlan {
  mid: string | null;
  pt: number;
  channels: number;
  midExtId: number;
  twccExtId: number;
  ssrcs: number[];
}

export interface IngestPlan {
  audio: IngestAudioPlan | null;
  video: IngestVideoPlan | null;
  /** Why a section that is sent cannot be taken (for the 406 message). */
  refused: string[];
}

const MID_URI = 'urn:ietf:params:rtp-hdrext:sdes:mid';
const TWCC_URI = 'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01';

/** The codecs of one m-section, in its order: one pass over its lines (a browser offers ~40). */
export function offeredCodecs(section: string[]): OfferedCodec[] {
  const pts = section[0].split(/\s+/).slice(3).map(Number).filter(Number.isInteger);
  const maps = new Map<number, RegExpExecArray>();
  const fmtps = new Map<number, string>();
  for (const l of section) {
    const map = /^a=rtpmap:(\d+)\s+([^/\s]+)\/(\d+)(?:\/(\d+))?/.exec(l);
    if (map && !maps.has(Number(map[1]))) maps.set(Number(map[1]), map);
    const fmtp = /^a=fmtp:(\d+)\s+(.*)$/.exec(l);
    if (fmtp && !fmtps.has(Number(fmtp[1]))) fmtps.set(Number(fmtp[1]), fmtp[2].trim());
  }
  return pts.map((pt) => {
    const map = maps.get(pt);
    return {
      pt,
      name: map ? map[2].toUpperCase() : '',
      clockRate: map ? Number(map[3]) : 0,
      channels: map?.[4] ? Number(map[4]) : 1,
      fmtp: fmtps.get(pt) ?? '',
    };
  });
}

const fmtpParam = (fmtp: string, key: string): string | null => {
  const m = new RegExp(`(?:^|;)\\s*${key}=([^;]*)`, 'i').exec(fmtp);
  return m ? m[1].trim() : null;
};

function h264Rank(c: OfferedCodec): number {
  const mode = fmtpParam(c.fmtp, 'packetization-mode') ?? '0';
  if (mode !== '0' && mode !== '1') return -1; // mode 2 (interleaved) is not read here
  const profile = (fmtpParam(c.fmtp, 'profile-level-id') ?? '42e01f').toLowerCase();
  const idc = parseInt(profile.slice(0, 2), 16);
  const iop = parseInt(profile.slice(2, 4), 16);
  const baseline = idc === 66 || (idc === 77 && iop & 0x80);
  return (mode === '1' ? 10 : 0) + (baseline ? 2 : idc === 77 ? 1 : 0);
}

/** The video codec the ingest takes from this section, or null. */
export function pickVideoCodec(codecs: OfferedCodec[]): { codec: VideoCodec; offered: OfferedCodec } | null {
  const vp8 = codecs.find((c) => c.name === 'VP8');
  if (vp8) return { codec: 'vp8', offered: vp8 };
  const h264 = codecs.filter((c) => c.name === 'H264' && h264Rank(c) >= 0).sort((a, b) => h264Rank(b) - h264Rank(a))[0];
  if (h264) return { codec: 'h264', offered: h264 };
  const vp9 = codecs.find((c) => c.name === 'VP9' && (fmtpParam(c.fmtp, 'profile-id') ?? '0') === '0');
  if (vp9) return { codec: 'vp9', offered: vp9 };
  const av1 = codecs.find((c) => c.name === 'AV1');
  if (av1) return { codec: 'av1', offered: av1 };
  return null;
}

function extId(section: string[], session: string[], uri: string): number {
  for (const l of [...section, ...session]) {
    const m = /^a=extmap:(\d+)(?:\/\w+)?\s+(\S+)/.exec(l);
    if (m && m[2] === uri) return Number(m[1]);
  }
  return 0;
}

function ssrcsOf(section: string[]): number[] {
  const out = new Set<number>();
  for (const l of section) {
    const m = /^a=ssrc:(\d+)\s/.exec(l);
    if (m) out.add(Number(m[1]));
  }
  return [...out];
}

const sends = (section: string[], sessionDir: string): boolean => {
  const dir = section.find((l) => /^a=(sendrecv|sendonly|recvonly|inactive)$/.test(l))?.slice(2) ?? sessionDir;
  return dir === 'sendrecv' || dir === 'sendonly';
};

/** Keeps only `keep` payload types in a section (m-line, rtpmap, fmtp, rtcp-fb); simulcast lines are replaced by `simulcast` (none: dropped). */
function restrict(section: string[], keep: number[], simulcast: string[] = []): string[] {
  const m = section[0].split(/\s+/);
  const out = [[...m.slice(0, 3), ...keep].join(' ')];
  for (const l of section.slice(1)) {
    const pt = /^a=(?:rtpmap|fmtp|rtcp-fb):(\d+|\*)\s/.exec(l);
    if (pt && pt[1] !== '*' && !keep.includes(Number(pt[1]))) continue;
    if (/^a=(rid|simulcast):/.test(l)) continue;
    out.push(l);
  }
  return [...out, ...simulcast];
}

/**
 * The offer the ingest's peer connection should answer, and what it will receive. The first
 * active sending audio and video sections are taken; other sections are left untouched (the
 * answer rejects or ignores them).
 */
export function planIngest(sdp: string): { sdp: string; plan: IngestPlan } {
  const s: SdpSplit = splitSdp(sdp);
  const groups = bundleGroups(s.session);
  const sessionDir = s.session.find((l) => /^a=(sendrecv|sendonly|recvonly|inactive)$/.test(l))?.slice(2) ?? 'sendrecv';
  const plan: IngestPlan = { audio: null, video: null, refused: [] };
  s.sections = s.sections.map((sec) => {
    const kind = sectionKind(sec);
    if ((kind !== 'audio' && kind !== 'video') || !sectionActive(sec, groups) || !sends(sec, sessionDir)) return sec;
    const codecs = offeredCodecs(sec);
    const common = {
      mid: sectionMid(sec),
      midExtId: extId(sec, s.session, MID_URI),
      twccExtId: extId(sec, s.session, TWCC_URI),
      ssrcs: ssrcsOf(sec),
    };
    if (kind === 'audio') {
      if (plan.audio) return sec;
      const opus = codecs.find((c) => c.name === 'OPUS' && c.clockRate === 48000);
      if (!opus) {
        plan.refused.push(`the audio section offers ${codecs.map((c) => c.name).join(', ') || 'no codec'}, not Opus`);
        return sec;
      }
      plan.audio = { ...common, pt: opus.pt, channels: opus.channels };
      return restrict(sec, [opus.pt]);
    }
    if (plan.video) return sec;
    const picked = pickVideoCodec(codecs);
    if (!picked) {
      const names = [...new Set(codecs.filter((c) => !['RTX', 'RED', 'ULPFEC', 'FLEXFEC-03'].includes(c.name)).map((c) => c.name))];
      plan.refused.push(`the video section offers ${names.join(', ') || 'no codec'}; the server decodes VP8, H.264 (packetization-mode 0 or 1), VP9 (profile 0) and AV1`);
      return sec;
    }
    const rtx = codecs.find((c) => c.name === 'RTX' && fmtpParam(c.fmtp, 'apt') === String(picked.offered.pt));
    // Simulcast only with the RID extension: without it the layers' packets cannot be told apart.
    const sim = parseSimulcast([...sec, ...s.session.filter((l) => l.startsWith('a=extmap:'))]);
    const simulcast = sim && sim.ridExtId ? sim : null;
    const fb = sec.filter((l) => l.startsWith(`a=rtcp-fb:${picked.offered.pt} `) || l.startsWith('a=rtcp-fb:* ')).map((l) => l.replace(/^a=rtcp-fb:\S+\s+/, ''));
    plan.video = {
      ...common,
      codec: picked.codec,
      pt: picked.offered.pt,
      rtxPt: rtx?.pt ?? null,
      fmtp: picked.offered.fmtp,
      parameterSets: picked.codec === 'h264' ? spropParameterSets(picked.offered.fmtp) : null,
      feedback: {
        nack: fb.includes('nack'),
        pli: fb.includes('nack pli'),
        fir: fb.includes('ccm fir'),
        twcc: fb.includes('transport-cc'),
      },
      simulcast,
    };
    return restrict(sec, rtx ? [picked.offered.pt, rtx.pt] : [picked.offered.pt], simulcast ? simulcastLines(simulcast) : []);
  });
  return { sdp: joinSdp(s), plan };
}
