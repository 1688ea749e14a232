// One WHEP subscription of a webinar edge to the room's owner (WhepPull.ts), shared by this node's
// viewers of one room and rung: it fans the owner's RTP out to the viewers that watch it, moves a
// viewer switching to it (pipeline/cluster/edgeRungs.ts) over on its next keyframe start, sends
// keyframe requests upstream at most once per EDGE_PLI_INTERVAL_MS (the last one absorbed is sent
// when the interval ends, so a late joiner still gets its keyframe), is dropped lingerMs after
// nobody watches it or switches to it, and ends when the owner goes silent.

import type { RtpPacket } from 'werift';
import type { WhepPull } from './WhepPull.ts';
import type { Egress } from '../rtc/Egress.ts';
import { EDGE_PLI_INTERVAL_MS, EDGE_PULL_SILENT_MS, KeyframeGate } from '../../pipeline/cluster/edges.ts';
import type { EdgeViewerRung } from '../../pipeline/cluster/edgeRungs.ts';

export interface EdgeViewer {
  id: string;
  room: string;
  /** The owner's base URL (a switch may need a pull of another rung from it). */
  ownerUrl: string;
  egress: Egress;
  /** The pull it watches now, and the one it switches to at that pull's next keyframe. */
  pull: EdgePull;
  switchingTo: EdgePull | null;
  rung: EdgeViewerRung;
  ownerTokenHash: string | null;
  createdAt: number;
}

/** A viewer's packet for a ForwardedTrack: the payload under a plain 12-byte header. */
function packetOf(rtp: RtpPacket): Buffer {
  const buf = Buffer.allocUnsafe(12 + rtp.payload.length);
  buf[0] = 0x80;
  buf[1] = (rtp.header.marker ? 0x80 : 0) | (rtp.header.payloadType & 0x7f);
  buf.writeUInt16BE(rtp.header.sequenceNumber & 0xffff, 2);
  buf.writeUInt32BE(rtp.header.timestamp >>> 0, 4);
  buf.writeUInt32BE(rtp.header.ssrc >>> 0, 8);
  rtp.payload.copy(buf, 12);
  return buf;
}

export interface EdgePullHooks {
  /** The viewer's switch to this pull happened (it is in `viewers` now): leave its old pull. */
  switched(v: EdgeViewer, to: EdgePull): void;
  ended(pull: EdgePull, reason: string): void;
}

export class EdgePull {
  readonly viewers = new Set<EdgeViewer>();
  /** Viewers moving here at the next keyframe start (audio only: at the next packet). */
  readonly switching = new Set<EdgeViewer>();
  readonly gate = new KeyframeGate(EDGE_PLI_INTERVAL_MS);
  readonly createdAt = Date.now();
  /** Viewers that moved here from another rung. */
  switchesIn = 0;
  lastPacketAt = performance.now();
  private trailing: NodeJS.Timeout | null = null;
  private lingerTimer: NodeJS.Timeout | null = null;
  private watchdog: NodeJS.Timeout;
  private _closed = false;
  private gotPacket = false;

  constructor(
    readonly room: string,
    readonly key: string,
    readonly client: WhepPull,
    private readonly lingerMs: number,
    private readonly hooks: EdgePullHooks,
  ) {
    client.on('video', (rtp) => this.fanOut(rtp, 'video'));
    client.on('audio', (rtp) => this.fanOut(rtp, 'audio'));
    client.on('gone', (reason) => this.end(`upstream ${reason}`));
    this.watchdog = setInterval(() => {
      const silent = performance.now() - this.lastPacketAt;
      // Before its first packet the owner's mixer may still be starting: a longer wait.
      if (silent > (this.gotPacket ? EDGE_PULL_SILENT_MS : 3 * EDGE_PULL_SILENT_MS)) this.end(`nothing from the owner for ${Math.round(silent / 1000)} s`);
    }, 1000);
    this.watchdog.unref();
  }

  /** The rung pulled, without the room: "720p/vp8", "360p/h264", "audio" (pullKey). */
  get rungKey(): string {
    return this.key.slice(this.room.length + 1);
  }

  get closed(): boolean {
    return this._closed;
  }
  /** The owner's session (its Location): one per edge and rung in the owner's room. */
  get upstream(): string {
    return this.client.location;
  }

  private fanOut(rtp: RtpPacket, kind: 'video' | 'audio'): void {
    this.lastPacketAt = performance.now();
    this.gotPacket = true;
    if (!this.viewers.size && !this.switching.size) return;
    const buf = packetOf(rtp);
    for (const v of this.switching) {
      const keyframeStart = kind === 'video' && !!v.egress.video?.isKeyframeStart(buf);
      if (!v.rung.onPacket(this.rungKey, kind, keyframeStart)) continue;
      this.switching.delete(v);
      this.viewers.add(v);
      v.switchingTo = null;
      this.switchesIn++;
      this.hooks.switched(v, this);
    }
    // The owner's SSRC names the source: a new one (its mixer restarted, or another pull after a
    // switch) restarts continuity.
    const source = `edge:${rtp.header.ssrc}`;
    let wants = false;
    for (const v of this.viewers) {
      const track = kind === 'video' ? v.egress.video : v.egress.audio;
      // Nothing before DTLS is up (werift would drop it, and the first keyframe with it).
      if (!track || v.egress.closed || !v.egress.connectedAt) continue;
      track.forward(source, buf);
      if (kind === 'video' && track.needsKeyframe) wants = true;
    }
    if (wants) this.requestKeyframe();
  }

  /** A keyframe from the owner, at most one request per interval (the last absorbed one trails). */
  requestKeyframe(): void {
    if (this._closed) return;
    if (this.gate.request(performance.now())) {
      this.client.requestKeyframe();
      return;
    }
    if (this.trailing) return;
    this.trailing = setTimeout(() => {
      this.trailing = null;
      if (!this._closed && this.gate.request(performance.now())) this.client.requestKeyframe();
    }, EDGE_PLI_INTERVAL_MS);
    this.trailing.unref();
  }

  /** A viewer watching this pull from now on. */
  add(v: EdgeViewer): void {
    this.keep();
    this.viewers.add(v);
    this.requestKeyframe();
  }

  /** A viewer switching to this pull: it moves on the next keyframe start, which is asked for. */
  addSwitching(v: EdgeViewer): void {
    this.keep();
    this.switching.add(v);
    v.switchingTo = this;
    this.requestKeyframe();
  }

  /** A viewer that no longer watches (or no longer switches to) this pull. */
  remove(v: EdgeViewer): void {
    this.viewers.delete(v);
    if (this.switching.delete(v) && v.switchingTo === this) v.switchingTo = null;
    this.lingerIfUnused();
  }

  /** Dropped lingerMs from now unless a viewer comes (or switches here) meanwhile. */
  lingerIfUnused(): void {
    if (this.viewers.size || this.switching.size || this._closed || this.lingerTimer) return;
    this.lingerTimer = setTimeout(() => this.end(`no viewer for ${this.lingerMs / 1000} s`), this.lingerMs);
    this.lingerTimer.unref();
  }

  private keep(): void {
    if (this.lingerTimer) clearTimeout(this.lingerTimer);
    this.lingerTimer = null;
  }

  end(reason: string): void {
    if (this._closed) return;
    this._closed = true;
    clearInterval(this.watchdog);
    if (this.trailing) clearTimeout(this.trailing);
    if (this.lingerTimer) clearTimeout(this.lingerTimer);
    this.hooks.ended(this, reason);
    void this.client.close();
  }
}
