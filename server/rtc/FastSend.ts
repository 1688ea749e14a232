// The fast send path for WHEP subscribers (native/srtpfan: libsrtp2 + sendmmsg). Once a
// subscriber's DTLS handshake is done, its SRTP keys are taken from werift's DTLS session and
// its RTP goes through one srtp_t of its own: the mixer's packet is copied once into the addon,
// its header patched in place (payload type, sequence number, timestamp, SSRC) and queued; once
// per event-loop turn the addon's send thread is woken, which protects each subscriber's queue
// and sends it with one sendmmsg on the socket of its ICE-selected pair, on another core than
// Node's (EGRESS_SEND_THREAD=0: the same flush on the main thread); a run of equal-sized
// packets goes as one UDP GSO message (EGRESS_GSO=0: one datagram per message). RTCP (SR/RR,
// PLI/FIR, REMB, NACK requests) stays on werift; NACKed packets are resent from
// FastTrackHistory through the same srtp_t.
//
// Falls back to werift's own path (returns null / false) when the addon was not built,
// EGRESS_FAST_PATH=0, the SRTP profile is not one the addon knows, or the selected pair is not
// a plain UDP socket (TURN relay, TCP).

import dgram from 'node:dgram';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHistogram } from 'node:perf_hooks';

interface SrtpFanAddon {
  open(profile: number, key: Buffer, salt: Buffer): unknown;
  setDestination(session: unknown, fd: number, ip: string, port: number): boolean;
  send(session: unknown, packet: Buffer, ssrc: number, payloadType: number, seq: number, timestamp: number): number;
  /** Sends up to `limit` packets per subscriber (all when omitted) on this thread; returns how many stay queued. */
  flush(limit?: number): number;
  /** Starts the addon's send thread (idempotent); false when it could not. */
  startThread(): boolean;
  /** Wakes the send thread: it sends up to `limit` per subscriber now, and again each ms while any are left. */
  kick(limit?: number): void;
  /** The send thread's fan-out delays (µs) since the last call. */
  takeDelays(): number[];
  close(session: unknown): void;
  /** `messages`: sendmmsg messages (with GSO one carries a run of equal-sized packets); `gso`: still on for it. */
  stats(session: unknown): { sent: number; dropped: number; errors: number; protectErrors: number; lastErrno: number; messages: number; gso: boolean };
  /** UDP GSO for every subscriber (on by default; EGRESS_GSO=0 turns it off). */
  setGso(on: boolean): void;
}

/** SRTP protection profiles (RFC 5764, RFC 7714) → master key and salt lengths. */
const PROFILES: Record<number, { key: number; salt: number }> = { 1: { key: 16, salt: 14 }, 7: { key: 16, salt: 12 } };

const here = path.dirname(fileURLToPath(import.meta.url));
const CANDIDATES = [path.join(here, '../../native/srtpfan/build/Release/srtpfan.node'), path.join(process.cwd(), 'native/srtpfan/build/Release/srtpfan.node')];

let addon: SrtpFanAddon | null | undefined;
/** SRTP and the send syscalls run on the addon's own thread (EGRESS_SEND_THREAD=0: on Node's main thread). */
let threaded = false;
/** Why the fast path is off (null while it is on or not yet looked at). */
export let fastSendUnavailable: string | null = null;

/** Whether the addon's send thread does the SRTP and the sends (see `threaded`). */
export function fastSendThreaded(): boolean {
  return fastSendAddon() !== null && threaded;
}

/** The addon, or null when the fast path is off (not built, or EGRESS_FAST_PATH=0). */
export function fastSendAddon(): SrtpFanAddon | null {
  if (addon !== undefined) return addon;
  addon = null;
  if (process.env.EGRESS_FAST_PATH === '0') {
    fastSendUnavailable = 'EGRESS_FAST_PATH=0';
    return null;
  }
  const file = CANDIDATES.find((f) => fs.existsSync(f));
  if (!file) {
    fastSendUnavailable = 'native/srtpfan is not built (npm run build:srtpfan)';
    return null;
  }
  try {
    addon = createRequire(import.meta.url)(file) as SrtpFanAddon;
    threaded = process.env.EGRESS_SEND_THREAD !== '0' && addon.startThread();
    if (process.env.EGRESS_GSO === '0') addon.setGso(false);
  } catch (err) {
    fastSendUnavailable = `native/srtpfan did not load: ${(err as Error).message}`;
  }
  return addon;
}

/**
 * Packets per subscriber per flush. A keyframe of the composite is 50-150 packets; sent in one
 * go over loopback they overflow a receiver's default socket buffer (~90 such packets), so a
 * longer queue leaves in slices a millisecond apart (≤ 24 packets/ms ≈ 230 Mbps a subscriber).
 */
const BURST = 24;
let flushQueued = false;
/**
 * The server's own fan-out delay, µs: per flush round, the longest any packet it sent had
 * waited since it reached the fan-out (a mixer packet → this subscriber's copy sent), measured
 * by the addon on whichever thread flushes. The Monitor reports and resets it.
 */
export const egressDelay = createHistogram();
function flushSoon(lib: SrtpFanAddon): void {
  if (flushQueued) return;
  flushQueued = true;
  setImmediate(() => (threaded ? kick(lib) : flushNow(lib)));
}
/** The send thread takes over what this event-loop turn queued. */
function kick(lib: SrtpFanAddon): void {
  flushQueued = false;
  lib.kick(BURST);
  takeDelays(lib);
}
function flushNow(lib: SrtpFanAddon): void {
  const left = lib.flush(BURST);
  takeDelays(lib);
  if (left > 0) return void setTimeout(() => flushNow(lib), 1);
  flushQueued = false;
}
function takeDelays(lib: SrtpFanAddon): void {
  for (const us of lib.takeDelays()) egressDelay.record(Math.max(1, Math.round(us)));
}

/** One subscriber's DTLS transport (audio and video share it under BUNDLE) on the fast path. */
export class FastTransport {
  private pair: unknown = null;
  private usable = false;
  private closed = false;

  private constructor(
    private readonly lib: SrtpFanAddon,
    private readonly session: unknown,
    private readonly dtls: any,
  ) {}

  /** A fast transport for a connected werift RTCDtlsTransport, or null (use werift's path). */
  static open(dtlsTransport: any): FastTransport | null {
    const lib = fastSendAddon();
    const socket = dtlsTransport?.dtls;
    const profile = socket?.srtp?.srtpProfile as number | undefined;
    if (!lib || !socket || dtlsTransport.state !== 'connected' || !profile || !PROFILES[profile]) return null;
    try {
      const { key, salt } = PROFILES[profile];
      const keys = socket.extractSessionKeys(key, salt);
      return new FastTransport(lib, lib.open(profile, keys.localKey, keys.localSalt), dtlsTransport);
    } catch {
      return null;
    }
  }

  /** Protects and queues one packet; false when it must go werift's way (no usable UDP pair). */
  send(packet: Buffer, ssrc: number, payloadType: number, seq: number, timestamp: number): boolean {
    if (this.closed) return false;
    const conn = this.dtls.iceTransport?.connection;
    if (!conn) return false;
    if (conn.nominated !== this.pair) this.resolve(conn.nominated);
    if (!this.usable) return false;
    // RFC 7675: no application data on a pair whose consent expired (werift drops it too).
    if (!conn.canSendApplicationData()) return true;
    if (this.lib.send(this.session, packet, ssrc, payloadType, seq, timestamp) !== 0) return false;
    flushSoon(this.lib);
    return true;
  }

  private resolve(pair: any): void {
    this.pair = pair;
    this.usable = false;
    const protocol = pair?.protocol;
    const socket = protocol?.transport?.socket;
    const fd = pair?.localCandidate?.type !== 'relay' && socket instanceof dgram.Socket ? socketFd(socket) : undefined;
    const [ip, port] = (pair?.remoteAddr ?? []) as [string, number];
    if (typeof fd !== 'number' || fd < 0 || typeof ip !== 'string' || typeof port !== 'number') return;
    this.usable = this.lib.setDestination(this.session, fd, ip, port);
  }

  stats(): ReturnType<SrtpFanAddon['stats']> {
    return this.lib.stats(this.session);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.lib.close(this.session);
  }
}

/** A bound dgram socket's file descriptor (Node keeps its handle under a symbol; `_handle` is deprecated). */
function socketFd(socket: dgram.Socket): number | undefined {
  const state = Object.getOwnPropertySymbols(socket).find((k) => k.description === 'state symbol');
  const fd = state ? (socket as any)[state]?.handle?.fd : undefined;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}

const HISTORY = 512;

/** What one fast-path track sent, by sequence number, for NACK retransmission. */
export class FastTrackHistory {
  private readonly packets: Array<Buffer | undefined> = new Array(HISTORY);
  private readonly seqs = new Int32Array(HISTORY).fill(-1);
  private readonly timestamps = new Uint32Array(HISTORY);

  /** `packet` is the mixer's buffer (shared, never written): no copy per subscriber. */
  put(seq: number, timestamp: number, packet: Buffer): void {
    const i = seq % HISTORY;
    this.packets[i] = packet;
    this.seqs[i] = seq;
    this.timestamps[i] = timestamp;
  }

  get(seq: number): { packet: Buffer; timestamp: number } | null {
    const i = seq % HISTORY;
    const packet = this.packets[i];
    return packet && this.seqs[i] === seq ? { packet, timestamp: this.timestamps[i] } : null;
  }
}

/** NTP time now (64-bit fixed point), as werift's sender reports it in its SRs. */
export function ntpNow(): bigint {
  const ms = Date.now();
  const sec = Math.floor(ms / 1000) + 2_208_988_800;
  const frac = Math.floor(((ms % 1000) / 1000) * 0x100000000);
  return (BigInt(sec) << 32n) | BigInt(frac);
}
