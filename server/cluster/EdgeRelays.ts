// Webinar edges: this node serves WHEP viewers of rooms another node owns. A viewer watches one
// pull from the owner (EdgePull.ts: one WHEP session per room, rung and codec, RTP level, nothing
// decoded) and is an Egress of its own fed from it, so the owner sees one subscription per edge
// and rung whatever the audience. Each viewer adapts as a viewer on the owner does: once a second
// its own RTCP feedback decides its level (pipeline/cluster/edgeRungs.ts); a new level makes the
// viewer switch to that rung's pull, which is started when its first viewer needs it, and the
// switch happens on that pull's next keyframe start. A pull nobody watches or switches to is
// dropped after lingerMs; a pull that goes silent (its owner died) ends its viewers, whose clients
// reconnect. Decisions: pipeline/cluster/edges.ts, edgeRungs.ts.

import { randomUUID } from 'node:crypto';
import { WhepPull } from './WhepPull.ts';
import { EdgePull, type EdgeViewer } from './EdgePull.ts';
import { Egress } from '../rtc/Egress.ts';
import { HOST_NETWORK, type IceNetwork } from '../rtc/network.ts';
import { EDGE_LINGER_MS, pullKey } from '../../pipeline/cluster/edges.ts';
import { EdgeViewerRung, levelOfPull } from '../../pipeline/cluster/edgeRungs.ts';
import type { Codec, Level } from '../../pipeline/ladder.ts';
import { log as rootLog } from '../../workers/log.ts';
import { envInt } from '../../pipeline/env.ts';

export type { EdgeViewer } from './EdgePull.ts';
export { EdgePull } from './EdgePull.ts';

const log = rootLog.child({ component: 'edge' });
/** How often each viewer's feedback is read (as the owner's rooms do). */
const ADAPT_INTERVAL_MS = 1000;

export interface EdgeOptions {
  iceServers?: () => any[];
  network?: IceNetwork;
  /** A pull with no viewers is dropped after this long (EDGE_LINGER_MS). */
  lingerMs?: number;
  connectTimeoutMs?: number;
  silentMinMs?: number;
  /** Headers of a pull's WHEP request (cluster marker and key, a token when auth is on). */
  pullHeaders: (room: string) => Record<string, string>;
}

export class EdgeRelays {
  private readonly pulls = new Map<string, Promise<EdgePull>>();
  readonly viewers = new Map<string, EdgeViewer>();
  /** Bytes sent to viewers that have left (egress bit/s counts every byte sent). */
  private bytesOfGone = 0;
  private _closed = false;
  private readonly adaptTimer: NodeJS.Timeout;

  constructor(private readonly opts: EdgeOptions) {
    this.adaptTimer = setInterval(() => this.adapt(), ADAPT_INTERVAL_MS);
    this.adaptTimer.unref();
  }

  get lingerMs(): number {
    return this.opts.lingerMs ?? EDGE_LINGER_MS;
  }

  /** A viewer of `room` (owned by the node at `ownerUrl`) served here. */
  async subscribe(room: string, ownerUrl: string, offer: string, wants: { audio: boolean; video: boolean; videoCodec: string | null }, o: { level: Level | null; ownerTokenHash: string | null }): Promise<{ viewer: EdgeViewer; answer: string }> {
    if (this._closed) throw new Error('this node is stopping');
    const codec: Codec | null = wants.video ? (wants.videoCodec === 'H264' ? 'h264' : 'vp8') : null;
    // The owner's rule: the pinned level (?level=), else the top rung, adapted unless pinned.
    const rung = new EdgeViewerRung(codec, o.level ?? '720p', o.level !== null);
    const pull = await this.pull(room, ownerUrl, rung.current, codec);
    const { egress, answer } = await Egress.answer(offer, wants, this.opts.iceServers?.() ?? [], {
      // The same limits as a room's own subscribers.
      connectTimeoutMs: this.opts.connectTimeoutMs ?? envInt(process.env, 'SESSION_CONNECT_TIMEOUT_MS', 15_000, 500, 600_000),
      silentMinMs: this.opts.silentMinMs ?? envInt(process.env, 'SUBSCRIBER_SILENT_MIN_MS', 5000, 500, 600_000),
    }, this.opts.network ?? HOST_NETWORK).catch((err: Error) => {
      pull.lingerIfUnused(); // a pull started for this viewer alone is not kept forever
      throw err;
    });
    if (pull.closed || this._closed) {
      pull.lingerIfUnused();
      await egress.close();
      throw new Error('the pull from the owner ended while the viewer joined');
    }
    const viewer: EdgeViewer = { id: randomUUID(), room, ownerUrl, egress, pull, switchingTo: null, rung, ownerTokenHash: o.ownerTokenHash, createdAt: Date.now() };
    this.viewers.set(viewer.id, viewer);
    pull.add(viewer);
    // PLI/FIR: a keyframe on the pull it watches (rate-limited per pull).
    egress.on('keyframeRequest', () => viewer.pull.requestKeyframe());
    egress.on('gone', (reason) => void this.remove(viewer.id, reason));
    if (egress.goneReason) queueMicrotask(() => void this.remove(viewer.id, egress.goneReason ?? 'gone'));
    log.info({ room, viewer: viewer.id, pull: pull.key, viewers: pull.viewers.size, adapts: rung.adapts }, 'edge viewer joined');
    return { viewer, answer };
  }

  get(room: string, id: string): EdgeViewer | undefined {
    const v = this.viewers.get(id);
    return v?.room === room ? v : undefined;
  }

  async remove(id: string, reason = 'ended by the client (DELETE)'): Promise<boolean> {
    const v = this.viewers.get(id);
    if (!v) return false;
    this.viewers.delete(id);
    this.bytesOfGone += (v.egress.video?.bytes ?? 0) + (v.egress.audio?.bytes ?? 0);
    v.switchingTo?.remove(v);
    v.pull.remove(v);
    log.info({ room: v.room, viewer: id, reason }, 'edge viewer left');
    await v.egress.close();
    return true;
  }

  /** Every byte sent to viewers here so far (monotonic). */
  bytesSent(): number {
    let n = this.bytesOfGone;
    for (const v of this.viewers.values()) n += (v.egress.video?.bytes ?? 0) + (v.egress.audio?.bytes ?? 0);
    return n;
  }

  /** Once a second: each adapting viewer's own feedback decides its level, as on the owner. */
  private adapt(): void {
    const now = performance.now();
    for (const v of this.viewers.values()) {
      const video = v.egress.video;
      if (!video || !video.firstPacketAt || !v.rung.adapts) continue;
      const fb = { atMs: now, ...video.feedback() };
      const to = v.rung.adapt(fb);
      if (!to) continue;
      video.resetFeedback();
      log.info({ room: v.room, viewer: v.id, from: v.pull.key, to, feedback: fb }, 'edge viewer switching rung');
      void this.switchTo(v, to);
    }
  }

  /** Starts (or finds) the pull `key` and makes the viewer switch to it at its next keyframe. */
  private async switchTo(v: EdgeViewer, key: string): Promise<void> {
    let pull: EdgePull;
    try {
      pull = await this.pull(v.room, v.ownerUrl, key, v.rung.codec);
    } catch (err) {
      if (v.rung.pending === key) v.rung.cancel();
      log.warn({ room: v.room, viewer: v.id, pull: key, error: (err as Error).message }, 'edge viewer could not switch rung (asked again at the next sample)');
      return;
    }
    // Still wanted (the viewer may have left, or its level changed again while the pull started).
    if (this.viewers.get(v.id) === v && v.rung.pending === key && !pull.closed) {
      if (v.switchingTo && v.switchingTo !== pull) v.switchingTo.remove(v);
      pull.addSwitching(v);
    } else pull.lingerIfUnused();
  }

  private pull(room: string, ownerUrl: string, key: string, codec: Codec | null): Promise<EdgePull> {
    const level = levelOfPull(key);
    const id = `${room}#${pullKey(level, codec)}`;
    const existing = this.pulls.get(id);
    if (existing) return existing;
    const p = (async () => {
      const url = `${ownerUrl}/rooms/${encodeURIComponent(room)}/whep?level=${level}`;
      const client = await WhepPull.connect(url, codec === 'h264' ? 'H264' : 'VP8', this.opts.pullHeaders(room), this.opts.network ?? HOST_NETWORK);
      log.info({ room, pull: id, upstream: client.location }, 'edge pull started');
      return new EdgePull(room, id, client, this.lingerMs, {
        switched: (viewer, to) => this.switched(viewer, to),
        ended: (pull, reason) => this.ended(pull, reason),
      });
    })();
    this.pulls.set(id, p);
    p.catch(() => this.pulls.get(id) === p && this.pulls.delete(id));
    return p;
  }

  /** A viewer moved to another pull (on its keyframe): the old one may linger. */
  private switched(v: EdgeViewer, to: EdgePull): void {
    const from = v.pull;
    v.pull = to;
    if (from !== to) from.remove(v);
    // Its reports described the old rung until this keyframe (as on the owner: MixRouter).
    v.egress.video?.resetFeedback();
    log.info({ room: v.room, viewer: v.id, from: from.key, to: to.key }, 'edge viewer switched rung');
  }

  private ended(pull: EdgePull, reason: string): void {
    const key = pull.key;
    void this.pulls.get(key)?.then((p) => p === pull && this.pulls.delete(key));
    log.info({ room: pull.room, pull: key, reason, viewers: pull.viewers.size }, 'edge pull ended');
    // Viewers switching to it stay where they are (their next sample asks again).
    for (const v of [...pull.switching]) {
      pull.remove(v);
      if (v.rung.pending === pull.rungKey) v.rung.cancel();
    }
    // Its viewers can get nothing more here: ended, their clients reconnect (to a live node).
    for (const v of [...pull.viewers]) void this.remove(v.id, `edge pull ended: ${reason}`);
  }

  /** GET /cluster/edges. */
  async describe(): Promise<Array<{ room: string; key: string; upstream: string; viewers: number; switching: number; switchesIn: number; keyframeRequests: { sent: number; absorbed: number }; createdAt: string }>> {
    const settled = await Promise.allSettled([...this.pulls.values()]);
    return settled
      .filter((s): s is PromiseFulfilledResult<EdgePull> => s.status === 'fulfilled' && !s.value.closed)
      .map(({ value: p }) => ({
        room: p.room,
        key: p.rungKey,
        upstream: p.upstream,
        viewers: p.viewers.size,
        switching: p.switching.size,
        switchesIn: p.switchesIn,
        keyframeRequests: { sent: p.gate.passed, absorbed: p.gate.absorbed },
        createdAt: new Date(p.createdAt).toISOString(),
      }));
  }

  async close(): Promise<void> {
    if (this._closed) return;
    this._closed = true;
    clearInterval(this.adaptTimer);
    const pulls = await Promise.allSettled([...this.pulls.values()]);
    for (const s of pulls) if (s.status === 'fulfilled') s.value.end('this node is stopping');
    await Promise.all([...this.viewers.keys()].map((id) => this.remove(id, 'this node is stopping')));
    this.pulls.clear();
  }
}
