// Individual tracks on the room page (WHEP ?tracks=N): the page asks for the N most recent
// speakers' own video as N tracks and lays them out itself, one tile per slot; the server's
// `tracks-changed` events (GET /rooms/{room}/events) say which participant each slot shows,
// keyed by the MID of the page's own m-line. Audio is the same mix (mix-minus) as in the
// composite mode, on an <audio> element.

export type ViewMode = 'tracks' | 'mix';

/** Slots asked for: the server's maximum. */
export const TRACK_SLOTS = 4;

/**
 * Individual tracks when this browser can take them: `?mode=mix` (or `?mode=tracks`) decides;
 * otherwise tracks when it can receive VP8 (what the server forwards to the page: publishers'
 * own VP8) and has more than one core to decode N streams with. Anything else gets the mix.
 */
export function chooseMode(search: string): ViewMode {
  const forced = new URLSearchParams(search).get('mode');
  if (forced === 'mix' || forced === 'tracks') return forced;
  const caps = typeof RTCRtpReceiver !== 'undefined' && RTCRtpReceiver.getCapabilities ? RTCRtpReceiver.getCapabilities('video') : null;
  const vp8 = caps?.codecs.some((c) => c.mimeType.toLowerCase() === 'video/vp8') ?? false;
  return vp8 && (navigator.hardwareConcurrency ?? 1) >= 2 ? 'tracks' : 'mix';
}

export interface SlotInfo {
  slot: number;
  mid: string;
  participantId: string | null;
  name: string | null;
  layer?: string | null;
}

interface Tile {
  figure: HTMLElement;
  video: HTMLVideoElement;
  caption: HTMLElement;
}

/** The tiles of one tracks subscription: one per video m-line, shown while its slot has someone. */
export class TrackTiles {
  private readonly tiles = new Map<string, Tile>();
  private readonly audio = new MediaStream();
  private speaker: string | null = null;

  constructor(
    private readonly root: HTMLElement,
    private readonly audioEl: HTMLAudioElement,
  ) {
    root.replaceChildren();
  }

  /** Adds the receiving transceivers (audio, then `slots` video) and takes their tracks. */
  attach(pc: RTCPeerConnection, slots = TRACK_SLOTS): void {
    pc.addTransceiver('audio', { direction: 'recvonly' });
    for (let i = 0; i < slots; i++) pc.addTransceiver('video', { direction: 'recvonly' });
    pc.addEventListener('track', (e) => {
      if (e.track.kind === 'audio') {
        this.audio.addTrack(e.track);
        this.audioEl.srcObject = this.audio;
        void this.audioEl.play().catch(() => {});
        return;
      }
      const mid = e.transceiver.mid;
      if (mid === null) return;
      const t = this.tile(mid);
      t.video.srcObject = new MediaStream([e.track]);
      void t.video.play().catch(() => {});
    });
  }

  /** A `tracks-changed` event's slots (for this subscription): who is in which tile. */
  apply(slots: SlotInfo[]): void {
    for (const s of slots) {
      const t = this.tile(s.mid);
      t.figure.hidden = !s.participantId;
      t.figure.dataset.slot = String(s.slot);
      t.figure.dataset.participant = s.participantId ?? '';
      t.figure.dataset.layer = s.layer ?? '';
      t.caption.textContent = s.name ?? '';
    }
    this.markSpeaker(this.speaker);
  }

  markSpeaker(participantId: string | null): void {
    this.speaker = participantId;
    for (const t of this.tiles.values()) t.figure.classList.toggle('speaking', !!participantId && t.figure.dataset.participant === participantId);
  }

  private tile(mid: string): Tile {
    let t = this.tiles.get(mid);
    if (t) return t;
    const figure = document.createElement('figure');
    figure.className = 'tile';
    figure.dataset.mid = mid;
    figure.hidden = true;
    const video = document.createElement('video');
    video.autoplay = video.playsInline = video.muted = true;
    const caption = document.createElement('figcaption');
    figure.append(video, caption);
    // Tiles in m-line order, whatever order their tracks or events come in.
    const after = [...this.root.children].find((c) => Number((c as HTMLElement).dataset.mid) > Number(mid)) ?? null;
    this.root.insertBefore(figure, after);
    t = { figure, video, caption };
    this.tiles.set(mid, t);
    return t;
  }
}
