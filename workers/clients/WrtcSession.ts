// One WHIP or WHEP session of a @roamhq/wrtc peer connection (offer, answer, an idempotent close
// that also ends the session on the server), the wait for ICE gathering, and openSession: a
// failed connect closes what it opened.

import wrtc from '@roamhq/wrtc';
import { exchangeSdp } from './sdpExchange.ts';

const { RTCPeerConnection } = wrtc as any;

export async function gatherComplete(pc: any, timeoutMs = 3000): Promise<void> {
  if (pc.iceGatheringState === 'complete') return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(done, timeoutMs);
    function done() {
      clearTimeout(timer);
      pc.removeEventListener('icegatheringstatechange', check);
      resolve();
    }
    function check() {
      if (pc.iceGatheringState === 'complete') done();
    }
    pc.addEventListener('icegatheringstatechange', check);
  });
}

/**
 * One WHIP or WHEP session of a wrtc peer connection: offer, answer, and an idempotent close
 * that stops the media, ends the session on the server (errors ignored) and closes the pc.
 */
export abstract class WrtcSession {
  readonly pc: any;
  location = '';
  private closing: Promise<void> | null = null;

  protected constructor(rtcConfig: Record<string, unknown>, protected readonly headers?: Record<string, string>) {
    this.pc = new RTCPeerConnection(rtcConfig);
  }

  /** The session id: the last segment of its Location. */
  protected get sessionId(): string {
    return this.location.split('/').pop() ?? '';
  }

  protected async negotiate(url: string): Promise<void> {
    await this.pc.setLocalDescription(await this.pc.createOffer());
    await gatherComplete(this.pc);
    const { answer, location } = await exchangeSdp(url, this.pc.localDescription.sdp, this.headers);
    this.location = location;
    await this.pc.setRemoteDescription({ type: 'answer', sdp: answer });
  }

  /** Stops this session's own media sources or sinks. */
  protected abstract stopMedia(): void;

  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closing = (async () => {
      this.stopMedia();
      if (this.location) await fetch(this.location, { method: 'DELETE', headers: this.headers }).catch(() => {});
      try {
        this.pc.close();
      } catch {
        /* already closed */
      }
    })();
    return this.closing;
  }
}

/** Creates a session and connects it; a failed connect closes what was opened. */
export async function openSession<T extends WrtcSession>(session: T, connect: (s: T) => Promise<void>): Promise<T> {
  try {
    await connect(session);
  } catch (err) {
    await session.close();
    throw err;
  }
  return session;
}
