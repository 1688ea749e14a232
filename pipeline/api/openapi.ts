// The OpenAPI 3.1 document of the HTTP API (served at GET /openapi.json). Pure data; a test
// checks that every route the app registers is described here and that real responses
// validate against these schemas.

import { SCHEMAS } from './schemas.ts';

type Json = Record<string, unknown>;

const ref = (name: string): Json => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: string, description: string): Json => ({ description, content: { 'application/json': { schema: ref(schema) } } });
const problem = (description: string): Json => ({ description, content: { 'application/problem+json': { schema: ref('Problem') } } });
const empty = (description: string): Json => ({ description });
const body = (schema: string, required = true): Json => ({ required, content: { 'application/json': { schema: ref(schema) } } });

const ERRORS: Record<string, Json> = {
  '400': problem('Invalid request'),
  '401': problem('A valid bearer token is needed'),
  '403': problem('The token does not allow this'),
  '404': problem('No such resource'),
  '429': problem('Too many requests'),
  '503': problem('Unavailable (limits, overload: admission control, shutting down, no ICE port free); Retry-After says when to try again'),
};
const errors = (...codes: string[]): Record<string, Json> => Object.fromEntries(codes.map((c) => [c, ERRORS[c]]));

const pathParam = (name: string, description: string): Json => ({ name, in: 'path', required: true, schema: { type: 'string' }, description });
const ROOM = pathParam('room', 'Room name: 1 to 64 of A-Z a-z 0-9 _ -');
const SESSION = pathParam('id', 'Session id (the last segment of the Location header)');
const RECORDING = pathParam('id', 'Recording id');
const sdp = (description: string): Json => ({ description, content: { 'application/sdp': { schema: { type: 'string' } } } });
const sdpfrag = { required: true, content: { 'application/trickle-ice-sdpfrag': { schema: { type: 'string' } } } };
const sse = (description: string): Json => ({ description, content: { 'text/event-stream': { schema: { type: 'string' } } } });
const html = (description: string): Json => ({ description, content: { 'text/html': { schema: { type: 'string' } } } });

function op(summary: string, tag: string, responses: Record<string, Json>, extra: Json = {}): Json {
  // Every body is size-limited (body parsers answer 413).
  const tooLarge = extra.requestBody ? { '413': problem('The request body is too large') } : {};
  return { summary, tags: [tag], responses: { ...responses, ...tooLarge }, ...extra };
}

function sessionPaths(kind: 'whip' | 'whep'): Record<string, Json> {
  const what = kind === 'whip' ? 'publish (WHIP, RFC 9725)' : 'subscribe to the mix (WHEP)';
  const query =
    kind === 'whip'
      ? [
          { name: 'name', in: 'query', schema: { type: 'string' }, description: 'Display name (open mode)' },
          { name: 'grant', in: 'query', schema: { type: 'string' }, description: 'Webinar host grant' },
        ]
      : [
          { name: 'participant', in: 'query', schema: { type: 'string' }, description: 'Watch as this participant: its mix-minus' },
          { name: 'level', in: 'query', schema: { enum: ['720p', '360p', 'audio'] }, description: 'Pin the rung' },
          {
            name: 'tracks',
            in: 'query',
            schema: { type: 'integer', minimum: 1, maximum: 4 },
            description: "Individual tracks instead of the composite: the N most recent speakers' own video, forwarded (the offer needs N receiving video m-lines; an offer with several video m-lines gets them without the parameter). Slots are announced as tracks-changed events",
          },
        ];
  return {
    [`/rooms/{room}/${kind}`]: {
      parameters: [ROOM],
      options: op(`Preflight and ICE servers to ${what}`, kind, { '204': empty('Accept-Post, Accept-Patch and ICE server Link headers') }),
      post: op(`Offer SDP to ${what}`, kind, { '201': sdp('The SDP answer; Location names the session'), ...errors('400', '401', '403', '404', '429', '503'), '406': problem('No codec the server can use'), '409': problem('The room closed meanwhile'), '415': problem('Not application/sdp') }, {
        parameters: query,
        requestBody: { required: true, content: { 'application/sdp': { schema: { type: 'string' } } } },
      }),
    },
    [`/rooms/{room}/${kind}/{id}`]: {
      parameters: [ROOM, SESSION],
      delete: op(`End a ${kind.toUpperCase()} session`, kind, { '200': empty('Ended'), ...errors('401', '403', '404') }),
      patch: op('Trickle ICE candidates or restart ICE', kind, {
        '200': { description: 'ICE restarted: the server\'s new credentials and candidates', content: { 'application/trickle-ice-sdpfrag': { schema: { type: 'string' } } } },
        '204': empty('Candidates applied'),
        ...errors('400', '401', '403', '404'),
        '412': problem('If-Match does not name the session\'s ETag'),
        '415': problem('The body is not application/trickle-ice-sdpfrag'),
        '428': problem('If-Match is missing (an ICE restart)'),
      }, { requestBody: sdpfrag }),
    },
  };
}

export function openApiDocument(version = '0.1.0'): Json {
  return {
    openapi: '3.1.0',
    info: {
      title: 'MCU server',
      version,
      description: 'Real-time video MCU: WHIP in, one mixed stream out over WHEP, HLS and RTMP. Errors are RFC 9457 problem details.',
    },
    servers: [{ url: '/' }],
    security: [{ bearer: [] }, {}],
    tags: ['whip', 'whep', 'rooms', 'broadcast', 'recordings', 'ops'].map((name) => ({ name })),
    paths: {
      ...sessionPaths('whip'),
      ...sessionPaths('whep'),
      '/rooms': { get: op('Rooms the token covers', 'rooms', { '200': json('RoomList', 'Rooms'), ...errors('401', '403') }) },
      '/rooms/{room}': {
        parameters: [ROOM],
        get: op('A room: participants, subscriptions, layout, mixer (browsers asking for HTML get the room page)', 'rooms', { '200': { ...json('Room', 'The room'), content: { 'application/json': { schema: ref('Room') }, 'text/html': { schema: { type: 'string' } } } }, ...errors('400', '401', '403', '404') }),
        put: op('Create a room with settings, or replace a live room\'s settings', 'rooms', { '200': json('Room', 'Settings replaced'), '201': json('Room', 'Created'), ...errors('400', '401', '403', '503') }, { requestBody: body('RoomSettingsPatch', false) }),
        patch: op('Change some settings of a live room', 'rooms', { '200': json('Room', 'Changed'), ...errors('400', '401', '403', '404') }, { requestBody: body('RoomSettingsPatch') }),
      },
      '/rooms/{room}/participants/{id}': {
        parameters: [ROOM, pathParam('id', 'Participant id')],
        patch: op('Change one participant\'s settings (voice processing on or off)', 'rooms', { '200': json('Participant', 'The participant'), ...errors('400', '401', '403', '404') }, { requestBody: body('ParticipantPatch') }),
      },
      '/rooms/{room}/events': { parameters: [ROOM], get: op('Room events (layout, speaker, joins) as server-sent events', 'rooms', { '200': sse('layout-changed first, and tracks-changed with each tracks subscription\'s current slots; then every event'), ...errors('401', '403', '404') }) },
      '/rooms/{room}/telemetry': { parameters: [ROOM], post: op('A client\'s own figures about its session', 'rooms', { '204': empty('Recorded'), ...errors('400', '401', '403', '404') }, { requestBody: body('Telemetry') }) },
      '/rooms/{room}/hosts': { parameters: [ROOM], post: op('Grant a webinar host seat', 'broadcast', { '201': json('HostGrant', 'The grant and its WHIP URL'), ...errors('400', '401', '403', '404') }, { requestBody: body('HostGrantRequest', false) }) },
      '/rooms/{room}/hls/{file}': {
        parameters: [ROOM, pathParam('file', 'index.m3u8, a variant playlist or a segment')],
        get: op('HLS of the mix (started by the first playlist request)', 'broadcast', {
          '200': { description: 'Playlist or segment', content: { 'application/vnd.apple.mpegurl': { schema: { type: 'string' } }, 'video/mp2t': { schema: { type: 'string', contentMediaType: 'video/mp2t' } } } },
          ...errors('401', '403', '404'),
          '503': problem('HLS is starting (Retry-After) or could not start'),
        }),
      },
      '/rooms/{room}/streams': {
        parameters: [ROOM],
        post: op('Push the mix to an RTMP(S) target', 'broadcast', { '201': json('Stream', 'Pushing'), ...errors('400', '401', '403', '404'), '409': problem('Too many pushes in this room') }, { requestBody: body('StreamRequest') }),
        get: op('RTMP pushes of a room', 'broadcast', { '200': json('StreamList', 'Pushes'), ...errors('401', '403', '404') }),
      },
      '/rooms/{room}/streams/{id}': { parameters: [ROOM, pathParam('id', 'Push id')], delete: op('Stop an RTMP push', 'broadcast', { '204': empty('Stopped'), ...errors('401', '403', '404') }) },
      '/rooms/{room}/watch': { parameters: [ROOM], get: op('HLS viewer page', 'broadcast', { '200': html('Page') }) },
      '/vendor/hls.min.js': { get: op('hls.js for the viewer page', 'broadcast', { '200': { description: 'Script', content: { 'application/javascript': { schema: { type: 'string' } } } } }) },
      '/rooms/{room}/recordings': { parameters: [ROOM], post: op('Record the room (a job for the recording workers)', 'recordings', { '202': json('Recording', 'Queued; Location names it'), ...errors('400', '401', '403', '404', '503') }, { requestBody: body('RecordingRequest', false) }) },
      '/recordings': { get: op('Recordings the token covers', 'recordings', { '200': json('RecordingList', 'Recordings'), ...errors('401', '403', '503') }, { parameters: [{ name: 'room', in: 'query', schema: { type: 'string' } }] }) },
      '/recordings/{id}': {
        parameters: [RECORDING],
        get: op('A recording', 'recordings', { '200': json('Recording', 'The recording'), ...errors('401', '404', '503') }),
        delete: op('Delete a recording and its files', 'recordings', { '204': empty('Deleted'), ...errors('401', '404', '503'), '409': problem('Not finished yet') }),
      },
      '/recordings/{id}/stop': { parameters: [RECORDING], post: op('Stop a recording', 'recordings', { '200': json('RecordingStopped', 'Taken off the queue'), '202': json('RecordingStopped', 'Stopping'), ...errors('401', '404', '503'), '409': problem('Already finished') }) },
      '/recordings/{id}/file': {
        parameters: [RECORDING],
        get: op('The recorded file (Range requests answered)', 'recordings', {
          '200': { description: 'WebM or MP4', content: { 'video/webm': { schema: { type: 'string', contentMediaType: 'video/webm' } }, 'video/mp4': { schema: { type: 'string', contentMediaType: 'video/mp4' } } } },
          '206': empty('A range of the file'),
          ...errors('401', '404', '503'),
          '409': problem('Not finished yet'),
        }),
      },
      '/metrics': { get: op('Prometheus metrics (METRICS_TOKEN or an admin token)', 'ops', { '200': { description: 'Prometheus text format', content: { 'text/plain': { schema: { type: 'string' } } } }, ...errors('401', '403') }) },
      '/stats': { get: op('Quality and load figures (JSON)', 'ops', { '200': json('Stats', 'A snapshot'), ...errors('401', '403') }, { parameters: [{ name: 'fresh', in: 'query', schema: { type: 'string' }, description: 'Sample now' }] }) },
      '/stats/events': { get: op('Stats snapshots as server-sent events', 'ops', { '200': sse('One "stats" event per sample'), ...errors('401', '403') }) },
      '/dashboard': { get: op('Operator dashboard page', 'ops', { '200': html('Page') }) },
      '/cluster/edges': { get: op('CLUSTER=1: the pulls this node makes as a webinar edge, with their viewers (admin)', 'ops', { '200': json('ClusterEdges', 'Pulls'), ...errors('401', '403') }) },
      '/cluster/nodes': { get: op('CLUSTER=1: the nodes in Redis with their load (admin)', 'ops', { '200': json('ClusterNodes', 'Nodes'), ...errors('401', '403') }) },
      '/admin/drain': { post: op('CLUSTER=1: take no new rooms on this node; its rooms go on until they end (admin)', 'ops', { '202': json('Drain', 'Draining'), ...errors('401', '403') }) },
      '/healthz': { get: op('Liveness: the process answers', 'ops', { '200': json('Health', 'Alive') }, { security: [] }) },
      '/readyz': { get: op('Readiness: FFmpeg, Redis, disk', 'ops', { '200': json('Readiness', 'Ready'), '503': json('Readiness', 'Not ready') }, { security: [] }) },
      '/config': { get: op('Configuration the bundled pages need', 'ops', { '200': json('PageConfig', 'Auth mode and TURN') }, { security: [] }) },
      '/tokens': { post: op('Mint a room token (never more than the caller holds)', 'ops', { '200': json('Token', 'The token (open mode: none needed)'), ...errors('400', '401', '403') }, { requestBody: body('TokenRequest') }) },
      '/openapi.json': { get: op('This document', 'ops', { '200': { description: 'OpenAPI 3.1', content: { 'application/json': { schema: { type: 'object' } } } } }, { security: [] }) },
    },
    components: {
      schemas: SCHEMAS,
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'A room token (HS256 or ES256); /metrics also takes METRICS_TOKEN; event streams and HLS also take ?access_token=' } },
    },
  };
}
