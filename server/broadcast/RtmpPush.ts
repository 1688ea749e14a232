// Push a room's mix to an external RTMP service (YouTube / Twitch style): the 720p H.264 rung
// copied (no second encode) + AAC, as FLV. When the target drops, FFmpeg exits and the push
// reconnects with exponential backoff (1 s doubling to 30 s; reset after 30 s live).
//
// The stream key never leaves the server process in the clear: FFmpeg's command line names a
// loopback relay (PushRelay) and a preset file (mode 0600, deleted once FFmpeg has connected)
// that holds the application, key and tcUrl; the relay connects to the target's address,
// pinned after checking it against the rules on every attempt (StreamTarget). Errors say only
// "could not connect to the target" before the stream is live, whatever the reason, so a push
// cannot be used to tell an open port from a closed one.

import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { RtpRemux } from '../../workers/media/RtpRemux.ts';
import { rtmpSpec } from '../../pipeline/media/remux.ts';
import { rtmpPreset } from '../../pipeline/net/pushTargets.ts';
import { maskSecrets } from '../../pipeline/redact.ts';
import { log as rootLog } from '../../workers/log.ts';
import { PushRelay } from './PushRelay.ts';
import { TargetRefused, type StreamTarget } from './StreamTarget.ts';
import type { MixSource } from './MixSource.ts';

export type PushState = 'connecting' | 'live' | 'retrying' | 'stopped';
const RUNG = '720p-h264';

export const PUSH_ERRORS = {
  connect: 'could not connect to the target',
  lost: 'the connection to the target was lost',
  process: 'the push process ended before it connected (see the server log)',
} as const;

export class RtmpPush {
  readonly id = randomUUID();
  state: PushState = 'connecting';
  attempts = 0;
  lastError: string | null = null;
  liveSince: number | null = null;
  bytesSent = 0;
  private bytesBefore = 0;
  private remux: RtpRemux | null = null;
  private relay: PushRelay | null = null;
  private untap: (() => void) | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private backoffMs = 1000;
  private closing: Promise<void> | null = null;
  private readonly log;
  readonly createdAt = Date.now();

  constructor(private readonly room: MixSource, readonly target: StreamTarget) {
    this.log = rootLog.child({ room: room.name, stream: this.id, target: target.shown });
    this.run();
  }

  private mask = (text: string) => maskSecrets(text, this.target.secrets);

  /** One attempt; whatever goes wrong becomes the push's last error and a retry. */
  private run(): void {
    this.attempt().catch((err: Error) => {
      this.lastError = err instanceof TargetRefused ? err.message : PUSH_ERRORS.process;
      if (!(err instanceof TargetRefused)) this.log.error({ err: new Error(this.mask(err.message)) }, 'push attempt failed');
      this.teardown();
      this.scheduleRetry();
    });
  }

  private teardown(): void {
    this.untap?.();
    this.untap = null;
    void this.remux?.close();
    this.remux = null;
    if (this.relay) this.bytesBefore += this.relay.bytesOut;
    this.relay?.close();
    this.relay = null;
  }

  private async attempt(): Promise<void> {
    if (this.closing) return;
    this.attempts++;
    this.state = this.attempts === 1 ? 'connecting' : 'retrying';
    const t = this.target.target;
    const address = await this.target.pin();
    const relay = await PushRelay.listen({ address, port: t.port, tlsServername: t.scheme === 'rtmps' ? t.host : null });
    if (this.closing) return relay.close();
    this.relay = relay;
    relay.on('failed', (reason) => this.log.warn({ reason }, 'push could not connect to the target'));
    let presetPath = '';
    const remux = await RtpRemux.forMixH264(
      `rtmp-${this.room.name}`,
      1,
      (sdp) => {
        presetPath = path.join(path.dirname(sdp), 'push.ffpreset');
        fs.writeFileSync(presetPath, rtmpPreset(t), { mode: 0o600 });
        return rtmpSpec(sdp, presetPath, relay.port);
      },
      { redactStderr: this.mask },
    );
    // FFmpeg read its options long before it connects: the key need not rest on disk.
    relay.once('connected', () => fs.rmSync(presetPath, { force: true }));
    if (this.closing) {
      await remux.close();
      return;
    }
    this.remux = remux;
    // -progress: total_size grows once FFmpeg writes to the connected target.
    remux.ffmpeg.on('stderr', (line) => {
      const m = /^total_size=(\d+)/.exec(line);
      if (m && Number(m[1]) > 0) {
        this.bytesSent = this.bytesBefore + relay.bytesOut;
        if (this.state !== 'live') {
          this.state = 'live';
          this.liveSince = Date.now();
          this.lastError = null;
        }
      }
    });
    remux.ffmpeg.once('died', () => {
      this.lastError = this.liveSince ? PUSH_ERRORS.lost : relay.outcome === 'waiting' ? PUSH_ERRORS.process : PUSH_ERRORS.connect;
      if (this.liveSince && Date.now() - this.liveSince > 30_000) this.backoffMs = 1000;
      this.liveSince = null;
      this.teardown();
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
      url: this.target.shown,
      state: this.state,
      attempts: this.attempts,
      liveSince: this.liveSince ? new Date(this.liveSince).toISOString() : null,
      bytesSent: this.bytesSent,
      lastError: this.lastError === null ? null : this.mask(this.lastError),
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
      this.relay?.close();
      this.state = 'stopped';
    })();
    return this.closing;
  }
}
