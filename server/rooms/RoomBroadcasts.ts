// What a room serves beyond WebRTC: its HLS packager (started on first use, stopped when unwatched)
// and its RTMP pushes. Each is fed by a tap on the room's mix (MixSource); the room closes them
// first in its close cascade.

import { roomClosed } from '../../pipeline/errors.ts';
import { HlsPackager, type HlsOptions } from '../broadcast/HlsPackager.ts';
import { RtmpPush } from '../broadcast/RtmpPush.ts';
import type { StreamTarget } from '../broadcast/StreamTarget.ts';
import type { MixSource } from '../broadcast/MixSource.ts';
import type { RoomEvent } from './types.ts';

export class RoomBroadcasts {
  /** HLS, while someone watches it. */
  hls: HlsPackager | null = null;
  private hlsStarting: Promise<HlsPackager> | null = null;
  /** RTMP pushes by id. */
  readonly streams = new Map<string, RtmpPush>();

  constructor(
    private readonly source: MixSource,
    private readonly publish: (e: Omit<RoomEvent, 'at'>) => void,
    private readonly closed: () => boolean,
  ) {}

  /** Nothing served, nothing starting. */
  get idle(): boolean {
    return !this.hls && !this.hlsStarting && this.streams.size === 0;
  }

  /** The room's HLS packager, started on first use (concurrent callers share one start). */
  async hlsPackager(opts: HlsOptions): Promise<HlsPackager> {
    this.assertOpen();
    if (this.hls?.running) return this.hls;
    if (!this.hlsStarting) {
      this.hlsStarting = (async () => {
        await this.stopHls();
        const p = await HlsPackager.start(this.source, opts, () => void this.stopHls(p));
        if (this.closed()) {
          await p.close();
          throw roomClosed(`room "${this.source.name}" closed`);
        }
        this.hls = p;
        return p;
      })().finally(() => (this.hlsStarting = null));
    }
    return this.hlsStarting;
  }

  /** Stops HLS (unwatched, failed, or the room closing). */
  async stopHls(which: HlsPackager | null = this.hls): Promise<void> {
    if (!which) return;
    if (this.hls === which) this.hls = null;
    await which.close();
  }

  startStream(target: StreamTarget): RtmpPush {
    this.assertOpen();
    const push = new RtmpPush(this.source, target);
    this.streams.set(push.id, push);
    this.publish({ type: 'stream-started', streamId: push.id });
    return push;
  }

  async stopStream(id: string): Promise<boolean> {
    const push = this.streams.get(id);
    if (!push) return false;
    this.streams.delete(id);
    await push.close();
    this.publish({ type: 'stream-stopped', streamId: id });
    return true;
  }

  private assertOpen(): void {
    if (this.closed()) throw roomClosed(`room "${this.source.name}" is closing`);
  }

  /** Stops HLS and every push (the room is closing). */
  async close(): Promise<void> {
    await Promise.all([this.stopHls(), ...[...this.streams.values()].map((p) => p.close())]);
    this.streams.clear();
  }
}
