// JSON Schemas (2020-12, as OpenAPI 3.1 uses them) of the API's JSON bodies. Objects are open
// (additional properties allowed) unless the server refuses unknown fields.

import { ROLES } from '../auth/tokens.ts';
import { FIT_MODES, LAYOUT_KINDS } from '../layout/layouts.ts';
import { LEVELS } from '../ladder.ts';
import { RECORDING_FORMATS } from '../media/remux.ts';

type Schema = Record<string, unknown>;

const str: Schema = { type: 'string' };
const int: Schema = { type: 'integer' };
const num: Schema = { type: 'number' };
const bool: Schema = { type: 'boolean' };
const time: Schema = { type: 'string', format: 'date-time' };
const nullable = (s: Schema): Schema => ({ anyOf: [s, { type: 'null' }] });
const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
const obj = (properties: Record<string, Schema>, required = Object.keys(properties), closed = false): Schema => ({
  type: 'object',
  properties,
  required,
  ...(closed ? { additionalProperties: false } : {}),
});
const size = obj({ width: int, height: int });
/** A stage's recent delays (pipeline/audio/StageLatency.ts), ms. */
const stage: Schema = obj({ n: int, p50: nullable(num), p95: nullable(num), max: nullable(num) });
const rect = obj({ x: num, y: num, width: num, height: num });

export const ROOM_MODES = ['conference', 'webinar'];

export const SCHEMAS: Record<string, Schema> = {
  Problem: {
    ...obj({
      type: { type: 'string', description: 'urn:mcu:error:<error>' },
      title: str,
      status: int,
      detail: str,
      error: { type: 'string', description: 'The stable error code (extension member)' },
      message: { type: 'string', description: 'Same text as detail, for older clients' },
    }),
    description: 'RFC 9457 problem details (application/problem+json)',
  },
  RoomSettings: obj({
    mode: { enum: ROOM_MODES },
    layout: { enum: [...LAYOUT_KINDS] },
    fit: { enum: [...FIT_MODES] },
    pinned: nullable(str),
    audio: obj({ highpass: bool, denoise: bool, agc: bool, limiter: bool }, []),
  }, ['mode', 'layout', 'fit', 'pinned']),
  ParticipantPatch: obj({ audio: obj({ processing: { type: 'boolean', description: 'false: this participant\'s audio passes the voice chain untouched (music, a presentation)' } }, [], true) }, [], true),
  RoomSettingsPatch: obj(
    { mode: { enum: ROOM_MODES }, layout: { enum: [...LAYOUT_KINDS] }, fit: { enum: [...FIT_MODES] }, pinned: nullable(str), audio: obj({ highpass: bool, denoise: bool, agc: bool, limiter: bool }, [], true) },
    [],
    true,
  ),
  RoomSummary: obj({ name: str, participants: int, subscriptions: int, node: { type: 'string', description: 'CLUSTER=1: the node hosting the room' } }, ['name', 'participants', 'subscriptions']),
  ClusterNode: obj({
    id: str, url: str, region: str, state: { enum: ['serving', 'draining'] }, updatedAt: int, rooms: int, publishers: int, subscribers: int, cpu: num, egressBps: num, maxRooms: int,
    edgeViewers: { type: 'integer', description: 'viewers of other nodes\' webinars served here (counted in subscribers too)' },
    stale: { type: 'boolean', description: 'its heartbeat is older than the expiry: not chosen, its rooms orphaned' },
  }),
  ClusterNodes: obj({ self: str, nodes: { type: 'array', items: ref('ClusterNode') } }),
  EdgePull: obj({
    room: str,
    key: { type: 'string', description: 'the rung and codec pulled ("720p/vp8", "360p/h264", "audio")' },
    upstream: { type: 'string', description: 'the WHEP session on the owner (its Location): one per edge and rung' },
    viewers: int,
    switching: { type: 'integer', description: 'viewers switching to this rung at its next keyframe (their feedback asked for it)' },
    switchesIn: { type: 'integer', description: 'viewers that moved to this rung from another since the pull started' },
    keyframeRequests: obj({ sent: int, absorbed: int }),
    createdAt: time,
  }),
  ClusterEdges: obj({ self: str, viewers: int, pulls: { type: 'array', items: ref('EdgePull') } }),
  Drain: obj({ node: str, state: { const: 'draining' }, rooms: int }),
  RoomList: obj({ rooms: { type: 'array', items: ref('RoomSummary') } }),
  Participant: obj({
    id: str,
    name: str,
    audio: bool,
    video: bool,
    joinedAt: time,
    slot: nullable(int),
    videoSize: nullable(size),
    framesIn: int,
    content: {},
    stalled: bool,
    voice: { type: 'object', description: 'Voice processing of this participant and its levels (input, processed, noise reduction, dB)' },
    decode: nullable({
      ...obj({
        fps: num,
        pixelsPerSec: { type: 'number', description: 'Decode work: decoded frames per second × their pixels as sent, over the last second' },
        simulcast: nullable({
          ...obj({
            layer: nullable(str),
            target: nullable(str),
            switches: int,
            forwarded: nullable(str),
            layers: {
              type: 'array',
              items: obj({ rid: str, ssrc: nullable(int), width: nullable(int), height: nullable(int), live: bool, packets: int, fps: num, bitrateKbps: num, keyframes: int }),
            },
          }),
          description: 'A simulcast publisher: the layer decoded (the one its tile needs), the one waited for during a switch, and what each layer carries',
        }),
      }),
      description: 'This publisher\'s video decoder (null: no video)',
    }),
  }, ['id', 'name', 'audio', 'video', 'joinedAt', 'slot', 'videoSize', 'framesIn', 'content', 'stalled']),
  Subscription: obj({
    id: str,
    participantId: nullable(str),
    audio: nullable({ enum: ['full-mix', 'mix-minus'] }),
    video: nullable({ enum: ['composite', 'tracks'] }),
    tracks: nullable({
      type: 'array',
      description: 'Individual tracks (?tracks=N): which participant each video slot (by its m-line MID) shows',
      items: obj({ slot: int, mid: str, participantId: nullable(str), name: nullable(str), packets: int, layer: { ...nullable(str), description: 'The simulcast layer (RID) forwarded; null: the publisher sends one stream' } }),
    }),
    codec: nullable({ enum: ['vp8', 'h264'] }),
    level: { enum: [...LEVELS] },
    pinnedLevel: nullable({ enum: [...LEVELS] }),
    periodicKeyframes: { type: 'boolean', description: 'its rung gets a keyframe every 2 s unasked (?keyframes=periodic, or an offer without PLI/FIR); otherwise only when asked' },
    feedback: nullable(obj({ lossPercent: nullable(num), rttMs: nullable(num), estimateKbps: nullable(num) }, [])),
    createdAt: time,
    connectedAt: { ...nullable(time), description: 'ICE and DTLS up (null: not yet)' },
    firstVideoPacketAt: { ...nullable(time), description: 'The first video packet sent to it (null: none yet)' },
    videoPackets: int,
    audioPackets: int,
  }, ['id', 'participantId', 'audio', 'video', 'codec', 'level', 'createdAt']),
  Tile: obj({ participantId: str, cell: {}, video: rect, crop: {}, large: {} }, ['participantId', 'video']),
  Stream: obj({
    id: str,
    url: { type: 'string', description: 'The target with its stream key masked' },
    state: str,
    attempts: int,
    liveSince: nullable(time),
    bytesSent: int,
    lastError: nullable(str),
    createdAt: time,
  }),
  StreamList: obj({ streams: { type: 'array', items: ref('Stream') } }),
  StreamRequest: obj({ url: { type: 'string', description: 'rtmp:// or rtmps:// URL with the stream key' } }),
  Room: obj({
    name: str,
    mode: { enum: ROOM_MODES },
    createdAt: time,
    viewers: int,
    hls: nullable({ type: 'object' }),
    streams: { type: 'array', items: ref('Stream') },
    participants: { type: 'array', items: ref('Participant') },
    subscriptions: { type: 'array', items: ref('Subscription') },
    settings: ref('RoomSettings'),
    activeSpeaker: nullable(str),
    layout: obj({ kind: { enum: [...LAYOUT_KINDS] }, fit: { enum: [...FIT_MODES] }, canvas: size, tiles: { type: 'array', items: ref('Tile') } }),
    mixer: obj({
      pid: nullable(int), epoch: int, capacity: int, restarts: int, processesStarted: int,
      // The H.264 rungs' own video process (docs/ARCHITECTURE.md "Lanes"); the fields above are the VP8 one's.
      h264Lane: obj({ pid: nullable(int), epoch: int, rungs: { type: 'array', items: str }, processesStarted: int, restarts: int }),
      // The mix's clocks and FFmpegs over the last ~10 s: p50 / p95 / max (null before the first sample), in ms except videoQueuedFrames (frames).
      timing: obj({ videoTickLateMs: stage, videoWriteToPacketMs: stage, videoQueuedFrames: stage, audioTickLateMs: stage, audioWriteToPacketMs: stage }),
    }, ['pid', 'capacity', 'restarts']),
  }),
  Telemetry: obj(
    {
      role: { enum: ['publisher', 'subscriber'] },
      session: { type: 'string', pattern: '^[A-Za-z0-9-]{1,64}$' },
      rttMs: { type: 'number', minimum: 0, maximum: 60_000 },
      jitterMs: { type: 'number', minimum: 0, maximum: 60_000 },
      lossPercent: { type: 'number', minimum: 0, maximum: 100 },
      bitrateKbps: { type: 'number', minimum: 0 },
      fps: { type: 'number', minimum: 0, maximum: 240 },
      framesDropped: { type: 'number', minimum: 0 },
      freezeCount: { type: 'number', minimum: 0 },
    },
    ['role', 'session'],
    true,
  ),
  HostGrantRequest: obj({ subscriptionId: str, name: str }, [], false),
  HostGrant: obj({ grant: str, whip: str, token: nullable(str), expiresAt: nullable(time) }),
  RecordingRequest: obj(
    { format: { enum: [...RECORDING_FORMATS], default: 'webm' }, maxDurationSec: { type: 'number', minimum: 1, maximum: 86_400 } },
    [],
    true,
  ),
  Recording: obj({
    id: str,
    room: str,
    format: { enum: [...RECORDING_FORMATS] },
    state: { enum: ['queued', 'starting', 'recording', 'finalizing', 'done', 'failed'] },
    maxDurationSec: num,
    createdAt: str,
    startedAt: nullable(time),
    finishedAt: nullable(time),
    progress: obj({ seconds: num, bytes: int, parts: int, worker: nullable(str), updatedAt: nullable(time) }),
    result: nullable(
      obj({
        durationSec: num,
        bytes: int,
        parts: int,
        gapsSec: { type: 'number', description: 'Seconds missing where a worker crashed and another continued' },
        startDelaySec: { anyOf: [num, { type: 'null' }], description: "Seconds from the request to the file's first frame (a keyframe sent to the writer)" },
        endReason: { enum: ['stopped', 'max-duration', 'room-closed', 'worker-shutdown'] },
      }),
    ),
    error: nullable(str),
    links: obj({ self: str, stop: str, file: str }),
  }),
  RecordingList: obj({ recordings: { type: 'array', items: ref('Recording') } }),
  RecordingStopped: {
    anyOf: [obj({ id: str, state: { const: 'canceled' }, message: str }), { allOf: [ref('Recording'), obj({ stopping: { const: true } })] }],
  },
  Stats: obj({ at: time, server: nullable({ type: 'object' }), rooms: { type: 'array', items: { type: 'object' } } }),
  Health: obj({ ok: { const: true }, uptimeSec: int }),
  Readiness: obj({ ready: bool, checks: { type: 'object' } }),
  PageConfig: obj({ auth: { enum: ['token', 'open'] }, turn: bool }),
  TokenRequest: obj(
    { room: { type: 'string', description: 'A room name or "*"' }, role: { enum: [...ROLES] }, name: { type: 'string', maxLength: 64 }, ttlSec: { type: 'integer', minimum: 1 } },
    ['room', 'role'],
    true,
  ),
  Token: {
    anyOf: [obj({ open: { const: true }, token: { type: 'null' } }), obj({ open: { const: false }, token: str, expiresAt: time })],
  },
};
