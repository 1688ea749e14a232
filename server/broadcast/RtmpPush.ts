// Push a room's mix to an external RTMP service (YouTube / Twitch style): the 720p H.264 rung
// copied (no second encode) + AAC, as FLV. When the target drops, FFmpeg exits and the push
// reconnects with exponential backoff (1 s doubling to 30 s; reset after 30 s live).

import { randomUUID } from 'node:crypto';
import { RtpRemux } from '../../workers/media/RtpRemux.ts';
import { rtmpSpec } from '../../pipeline/media/remux.ts';
import type { Room } from '../rooms/Room.ts';

export type PushState = 'connecting' | 'live' | 'retrying' | 'stopped';
const RUNG = '720p-h264';

/** Checks a push target: rtmp:// or rtmps:// with a host; returns a message for a bad one. */
export function checkRtmpUrl(raw: unknown): string | null {
  if (typeof raw !== 'string' || !raw) return '"url" must be an rtmp:// or rtmps:// URL';
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return `"url" is not a URL: ${JSON.stringify(raw).slice(0, 100)}`;
  }
  if (u.protocol !== 'rtmp:' && u.protocol !== 'rtmps:') return `"url" must use rtmp:// or rtmps://, got ${u.protocol}//`;
  if (!u.hostname) return '"url" has no host';
  return null;
}

/** The URL as shown back (the stream key, the last path segment, is masked). */
function redact(url: string): string {
  const u = new URL(url);
  const parts = u.pathname.split('/');
  if (parts.length > 2 && parts[parts.length - 1]) parts[parts.length - 1] = '****';
  return `${u.protocol}//${u.host}${parts.join('/')}`;
}

export class RtmpPush {
  readonly id = randomUUID();
  state: PushState = 'connecting';
  attempts = 0;
  lastError: string | null = null;
  liveSince: number | null = null;
  bytesSent = 0;
  private remux: RtpRemux | null = null;
  private untap: (() => void) | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private backoffMs = 1000;
  private closing: Promise<void> | null = null;
  readonly createdAt = Date.now();

  constructor(private readonly room: Room, readonly url: string) {
    this.run();
  }

  /** One attempt; whatever goes wrong becomes the push's last error and a retry. */
  private run(): void {
    this.attempt().catch((err: Error) => {
      this.lastError = err.message;
      this.untap?.();
      this.untap = null;
      void this.remux?.close();
      this.remux = null;
      this.scheduleRetry();
    });
  }

  private async attempt(): Promise<void> {
    if (this.closing) return;
    this.attempts++;
    this.state = this.attempts === 1 ? 'connecting' : 'retrying';
    let remux: RtpRemux;
    try {
      remux = await RtpRemux.forMixH264(`rtmp-${this.room.name}`, 1, (sdp) => rtmpSpec(sdp, this.url));
    } catch (err) {
      this.lastError = (err as Error).message;
      this.scheduleRetry();
      return;
    }
    if (this.closing) {
      await remux.close();
      return;
    }
    this.remux = remux;
    // -progress: total_size grows once FFmpeg writes to the connected target.
    remux.ffmpeg.on('stderr', (line) => {
      const m = /^total_size=(\d+)/.exec(line);
      if (m && Number(m[1]) > 0) {
        this.bytesSent = Number(m[1]);
        if (this.state !== 'live') {
          this.state = 'live';
          this.liveSince = Date.now();
        }
      }
    });
    remux.ffmpeg.once('died', (e) => {
      const tail = e.stderrTail.filter((l) => l && !/^[a-z_]+=/.test(l)).slice(-2).join(' | ');
      this.lastError = tail || `FFmpeg exited with code ${e.code}`;
      if (this.liveSince && Date.now() - this.liveSince > 30_000) this.backoffMs = 1000;
      this.liveSince = null;
      this.untap?.();
      this.untap = null;
      this.remux = null;
      void remux.close();
      this.scheduleRetry();
    });
    // A fresh tap per attempt: it starts on a keyframe, which it asks for.
    this.untap = this.room.addTap({ rungs: [RUNG], video: (_r, p) => remux.video(p), audio: (p) => remux.audio(p) });
  }

  private scheduleRetry(): void {
    if (this.closing) return;
    if (this.retryTimer) clearTimeout(this.retryTimer); // one retry pending at a time
    this.state = 'retrying';
    const wait = this.backoffMs;
    this.backoffMs = Math.min(30_000, this.backoffMs * 2);
    this.retryTimer = setTimeout(() => this.run(), wait);
  }

  describe() {
    return {
      id: this.id,
      url: redact(this.url),
      state: this.state,
      attempts: this.attempts,
      liveSince: this.liveSince ? new Date(this.liveSince).toISOString() : null,
      bytesSent: this.bytesSent,
      lastError: this.lastError,
      createdAt: new Date(this.createdAt).toISOString(),
    };
  }

  /** Stops pushing (FFmpeg ends the FLV stream) and leaves the mix. Idempotent. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closing = (async () => {
      if (this.retryTimer) clearTimeout(this.retryTimer);
      await this.remux?.close();
      this.untap?.();
      this.state = 'stopped';
    })();
    return this.closing;
  }
}
