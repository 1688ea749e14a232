// The room page: join with camera and microphone (WHIP), watch the others (WHEP, linked to your
// own session so you do not hear yourself), see who is there and who speaks (SSE), mute,
// stop video, switch layout, leave; reconnect after a network blip. Standard APIs only.
// Watching is individual tracks (the speakers' own video, tiles laid out here: web/tracks.ts)
// when the browser can, else the server's composite; `?mode=mix` forces the composite.

import { chooseMode, TRACK_SLOTS, TrackTiles, type ViewMode } from './tracks.ts';

type Status = 'idle' | 'connecting' | 'live' | 'reconnecting' | 'failed';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const roomName = decodeURIComponent(location.pathname.split('/')[2] ?? '');
const params = new URLSearchParams(location.hash.slice(1));
let token = params.get('token') ?? sessionStorage.getItem(`mcu-token:${roomName}`) ?? '';

let media: MediaStream | null = null;
let pub: RTCPeerConnection | null = null;
let sub: RTCPeerConnection | null = null;
let whipUrl: string | null = null;
let whepUrl: string | null = null;
let events: EventSource | null = null;
let watchOnly = false;
let leaving = false;
let retries = 0;
let retryTimer: number | undefined;
let displayName = '';
/** How this page watches; a server that refuses individual tracks turns it to 'mix' for good. */
let mode: ViewMode = chooseMode(location.search);
let tiles: TrackTiles | null = null;

function setStatus(s: Status, detail = ''): void {
  const el = $('status');
  el.textContent = detail ? `${s}: ${detail}` : s;
  el.className = `status ${s === 'failed' ? 'error' : ''}`;
  document.body.dataset.status = s;
}

function authHeaders(): Record<string, string> {
  return token ? { Authorization: `Bearer ${token}` } : {};
}

/** The server's /config, fetched once when the page loads (not on the click's path). */
let config: Promise<{ turn?: boolean }> | null = null;
const serverConfig = () => (config ??= fetch('/config').then((r) => r.json()).catch(() => ((config = null), { turn: false })));

async function iceServers(): Promise<RTCIceServer[]> {
  const cfg = await serverConfig();
  if (!cfg.turn) return [];
  const res = await fetch(`/rooms/${roomName}/whip`, { method: 'OPTIONS', headers: authHeaders() });
  const link = res.headers.get('Link') ?? '';
  const servers: RTCIceServer[] = [];
  for (const part of link.split(/,(?=\s*<)/)) {
    const url = /<([^>]+)>/.exec(part)?.[1];
    if (!url) continue;
    const username = /username="([^"]*)"/.exec(part)?.[1];
    const credential = /credential="([^"]*)"/.exec(part)?.[1];
    servers.push(username ? { urls: url, username, credential } : { urls: url });
  }
  return servers;
}

/** Quiet after the last ICE candidate before the offer goes (see candidatesReady). */
const CANDIDATE_QUIET_MS = 20;
/** The longest the offer waits for candidates. */
const GATHER_CAP_MS = 2000;

/**
 * Resolves when the offer holds the candidates worth waiting for (call before
 * setLocalDescription): when gathering completes, or CANDIDATE_QUIET_MS after the last candidate
 * once one of each kind the configuration can yield has come (host; relay when a TURN server is
 * configured, the path of last resort, which comes last). Chromium has its host candidates within
 * ~15 ms and says "complete" ~120 ms later, after waiting on nothing it could use: that wait was
 * most of the click → POST of a Watch only. A candidate left out of the offer still works: the
 * server learns it from this page's connectivity checks (peer-reflexive).
 */
function candidatesReady(pc: RTCPeerConnection): Promise<void> {
  const config = pc.getConfiguration();
  const wantsRelay = (config.iceServers ?? []).some((s) => [s.urls].flat().some((u) => /^turns?:/.test(u)));
  // Relay-only: no direct (host or server-reflexive) candidate will come.
  const wantsDirect = config.iceTransportPolicy !== 'relay';
  return new Promise<void>((resolve) => {
    let quiet: number | undefined;
    let haveDirect = false;
    let haveRelay = false;
    const done = () => {
      clearTimeout(cap);
      clearTimeout(quiet);
      pc.removeEventListener('icecandidate', onCandidate);
      pc.removeEventListener('icegatheringstatechange', onState);
      resolve();
    };
    const cap = window.setTimeout(done, GATHER_CAP_MS);
    const onState = () => {
      if (pc.iceGatheringState === 'complete') done();
    };
    const onCandidate = (e: RTCPeerConnectionIceEvent) => {
      if (!e.candidate) return done();
      if (e.candidate.type === 'relay') haveRelay = true;
      else haveDirect = true;
      clearTimeout(quiet);
      if ((haveDirect || !wantsDirect) && (haveRelay || !wantsRelay)) quiet = window.setTimeout(done, CANDIDATE_QUIET_MS);
    };
    pc.addEventListener('icecandidate', onCandidate);
    pc.addEventListener('icegatheringstatechange', onState);
  });
}

/** POSTs an offer; returns [answer, session URL]. Throws an Error with the server's message (and `status`). */
async function negotiate(pc: RTCPeerConnection, url: string): Promise<[string, string]> {
  const ready = candidatesReady(pc);
  await pc.setLocalDescription(await pc.createOffer());
  await ready;
  const offered = pc.localDescription!.sdp;
  let res: Response;
  try {
    res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/sdp', ...authHeaders() }, body: offered });
  } catch {
    throw new Error('the server is unreachable');
  }
  if (res.status !== 201) {
    const body = await res.json().catch(() => ({ message: res.statusText }));
    if (res.status === 401) throw new Error(`a token is needed (${body.message}); add #token=… to the address`);
    throw Object.assign(new Error(`${res.status}: ${body.message}`), { status: res.status });
  }
  const answer = await res.text();
  await pc.setRemoteDescription({ type: 'answer', sdp: answer });
  const sessionUrl = new URL(res.headers.get('Location')!, location.href).toString();
  return [answer, sessionUrl];
}

function watchConnection(pc: RTCPeerConnection): void {
  pc.addEventListener('connectionstatechange', () => {
    if (leaving || (pc !== pub && pc !== sub)) return;
    const s = pc.connectionState;
    if (s === 'connected' && (!pub || pub.connectionState === 'connected') && sub?.connectionState === 'connected') {
      retries = 0;
      setStatus('live');
    } else if (s === 'failed') {
      scheduleReconnect('the connection failed');
    } else if (s === 'disconnected') {
      // Often a blip: give ICE a few seconds before starting over.
      setTimeout(() => {
        if (pc.connectionState === 'disconnected') scheduleReconnect('the network dropped');
      }, 4000);
    }
  });
}

function scheduleReconnect(reason: string): void {
  if (leaving || retryTimer) return;
  retries++;
  if (retries > 5) {
    setStatus('failed', `${reason}; gave up after 5 attempts`);
    return;
  }
  const delay = Math.min(8000, 500 * 2 ** (retries - 1));
  setStatus('reconnecting', `${reason}; retrying in ${(delay / 1000).toFixed(1)} s`);
  retryTimer = window.setTimeout(() => {
    retryTimer = undefined;
    void connect().catch((e: Error) => scheduleReconnect(e.message));
  }, delay);
}

async function closeSessions(): Promise<void> {
  for (const url of [whepUrl, whipUrl]) if (url) fetch(url, { method: 'DELETE', headers: authHeaders(), keepalive: true }).catch(() => {});
  whipUrl = whepUrl = null;
  pub?.close();
  sub?.close();
  pub = sub = null;
}

/** A fresh WHIP (unless watching only) and WHEP session: the reconnect path too. */
async function connect(): Promise<void> {
  await closeSessions();
  setStatus(retries ? 'reconnecting' : 'connecting');
  const servers = await iceServers();
  let participant = '';
  if (!watchOnly && media) {
    pub = new RTCPeerConnection({ iceServers: servers });
    for (const track of media.getTracks()) pub.addTransceiver(track, { direction: 'sendonly' });
    watchConnection(pub);
    [, whipUrl] = await negotiate(pub, `/rooms/${roomName}/whip?name=${encodeURIComponent(displayName)}`);
    participant = whipUrl.split('/').pop()!;
  }
  if (mode === 'tracks') {
    try {
      await subscribe(servers, participant, 'tracks');
    } catch (e) {
      // A server that cannot forward tracks (an older one, or an offer it refuses): the mix.
      const status = (e as { status?: number }).status;
      if (status !== 400 && status !== 415 && status !== 501) throw e;
      console.warn(`individual tracks refused (${(e as Error).message}); watching the mix`);
      mode = 'mix';
      sub?.close();
      await subscribe(servers, participant, 'mix');
    }
  } else {
    await subscribe(servers, participant, 'mix');
  }
  document.body.dataset.participant = participant;
  listen();
}

/** The WHEP session: N individual tracks + the audio mix, or the composite. */
async function subscribe(servers: RTCIceServer[], participant: string, as: ViewMode): Promise<void> {
  document.body.dataset.mode = as;
  $('mode').textContent = as === 'tracks' ? 'individual tracks' : 'composite';
  $('mix').hidden = as === 'tracks';
  $('tiles').hidden = as === 'mix';
  sub = new RTCPeerConnection({ iceServers: servers });
  const query = new URLSearchParams();
  if (participant) query.set('participant', participant);
  if (as === 'tracks') {
    tiles = new TrackTiles($('tiles'), $<HTMLAudioElement>('mix-audio'));
    tiles.attach(sub, TRACK_SLOTS);
    query.set('tracks', String(TRACK_SLOTS));
  } else {
    tiles = null;
    sub.addTransceiver('video', { direction: 'recvonly' });
    sub.addTransceiver('audio', { direction: 'recvonly' });
    const stream = new MediaStream();
    sub.addEventListener('track', (e) => {
      stream.addTrack(e.track);
      const v = $<HTMLVideoElement>('mix');
      v.srcObject = stream;
      void v.play().catch(() => {});
    });
  }
  watchConnection(sub);
  const q = query.toString();
  [, whepUrl] = await negotiate(sub, `/rooms/${roomName}/whep${q ? `?${q}` : ''}`);
}

function listen(): void {
  events?.close();
  const q = token ? `?access_token=${encodeURIComponent(token)}` : '';
  events = new EventSource(`/rooms/${roomName}/events${q}`);
  const refresh = () => void refreshPeople();
  for (const type of ['participant-joined', 'participant-left', 'layout-changed']) events.addEventListener(type, refresh);
  // Which participant each of our slots shows (the server sends the current slots on connect too).
  events.addEventListener('tracks-changed', (e) => {
    const d = JSON.parse((e as MessageEvent).data);
    if (tiles && whepUrl && d.subscriptionId === whepUrl.split('/').pop()) tiles.apply(d.slots);
  });
  events.addEventListener('speaker-changed', (e) => {
    const { participantId } = JSON.parse((e as MessageEvent).data);
    tiles?.markSpeaker(participantId);
    document.querySelectorAll('#people li').forEach((li) => li.classList.toggle('speaking', (li as HTMLElement).dataset.id === participantId));
    $('speaker').textContent = JSON.parse((e as MessageEvent).data).name ?? '';
  });
}

async function refreshPeople(): Promise<void> {
  const res = await fetch(`/rooms/${roomName}`, { headers: { Accept: 'application/json', ...authHeaders() } }).catch(() => null);
  if (!res?.ok) return; // room details are for admins when tokens are on
  const info = await res.json();
  const list = $('people');
  list.replaceChildren(
    ...info.participants.map((p: { id: string; name: string; audio: boolean; video: boolean; voice?: Record<string, number | boolean | null> }) => {
      const li = document.createElement('li');
      li.dataset.id = p.id;
      // Voice levels (docs/ARCHITECTURE.md, "Voice processing"): in → after processing, noise reduction.
      const v = p.voice;
      const db = (x: unknown) => (typeof x === 'number' ? `${Math.round(x)} dB` : '–');
      const voice = v ? (v.processing ? ` · ${db(v.inputDb)} → ${db(v.processedDb)}, NR ${db(v.noiseReductionDb)}` : ' · audio untouched') : '';
      li.textContent = `${p.name}${p.id === document.body.dataset.participant ? ' (you)' : ''}${p.video ? '' : ' · no video'}${voice}`;
      if (p.id === info.activeSpeaker) li.classList.add('speaking');
      return li;
    }),
  );
  ($('layout') as HTMLSelectElement).value = info.settings?.layout ?? 'grid';
}

async function join(asViewer: boolean): Promise<void> {
  watchOnly = asViewer;
  displayName = ($('name') as HTMLInputElement).value.trim().slice(0, 64) || 'Guest';
  leaving = false;
  if (!asViewer) {
    try {
      media = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 640, height: 360 } });
    } catch (e) {
      const err = e as DOMException;
      const why = err.name === 'NotAllowedError' ? 'camera/microphone permission was denied' : err.name === 'NotFoundError' ? 'no camera or microphone was found' : err.message;
      setStatus('failed', `${why}. You can still watch only.`);
      return;
    }
    $<HTMLVideoElement>('self').srcObject = media;
  }
  $('lobby').hidden = true;
  $('call').hidden = false;
  $('mute').hidden = $('video-toggle').hidden = asViewer;
  try {
    await connect();
  } catch (e) {
    scheduleReconnect((e as Error).message);
  }
}

function toggle(kind: 'audio' | 'video', button: HTMLElement, on: string, off: string): void {
  const tracks = kind === 'audio' ? media?.getAudioTracks() : media?.getVideoTracks();
  if (!tracks?.length) return;
  const enabled = !tracks[0].enabled;
  for (const t of tracks) t.enabled = enabled;
  button.textContent = enabled ? on : off;
  button.setAttribute('aria-pressed', String(!enabled));
}

async function leave(): Promise<void> {
  leaving = true;
  clearTimeout(retryTimer);
  events?.close();
  await closeSessions();
  media?.getTracks().forEach((t) => t.stop());
  media = null;
  setStatus('idle', 'you left the room');
  $('call').hidden = true;
  $('lobby').hidden = false;
}

function init(): void {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(roomName)) {
    setStatus('failed', 'invalid room name: use 1-64 letters, digits, "_" or "-"');
    ($('join') as HTMLButtonElement).disabled = ($('watch') as HTMLButtonElement).disabled = true;
    return;
  }
  if (token) sessionStorage.setItem(`mcu-token:${roomName}`, token);
  void serverConfig();
  $('room-name').textContent = roomName;
  $('join').addEventListener('click', () => void join(false));
  $('watch').addEventListener('click', () => void join(true));
  $('leave').addEventListener('click', () => void leave());
  $('mute').addEventListener('click', (e) => toggle('audio', e.currentTarget as HTMLElement, 'Mute', 'Unmute'));
  $('video-toggle').addEventListener('click', (e) => toggle('video', e.currentTarget as HTMLElement, 'Stop video', 'Start video'));
  $('layout').addEventListener('change', async (e) => {
    const layout = (e.target as HTMLSelectElement).value;
    const res = await fetch(`/rooms/${roomName}`, { method: 'PATCH', headers: { 'Content-Type': 'application/json', ...authHeaders() }, body: JSON.stringify({ layout }) });
    if (!res.ok) setStatus('live', `layout not changed: ${(await res.json().catch(() => ({}))).message ?? res.status}`);
  });
  window.addEventListener('pagehide', () => void closeSessions());
  setStatus('idle');
}

init();
