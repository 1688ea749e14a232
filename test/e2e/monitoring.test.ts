// Monitoring with a live room: Prometheus text that a parser accepts, with real figures;
// client telemetry beside the server's view; health and readiness.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { startServer, type RunningServer } from '../../server/main.ts';
import { startPublisher, startSubscriber, waitFor, type Publisher, type Subscriber } from '../helpers/peers.ts';

interface Ctx {
  server: RunningServer;
  pubs: Publisher[];
  sub: Subscriber;
}
const room = 'e2e-metrics';
const test = suite<Ctx>('monitoring');

test.before(async (ctx) => {
  ctx.server = await startServer({ port: 0, host: '127.0.0.1', statsIntervalMs: 500 });
  ctx.pubs = [
    await startPublisher({ baseUrl: ctx.server.url, room, name: 'A', color: [200, 0, 0], toneHz: 500 }),
    await startPublisher({ baseUrl: ctx.server.url, room, name: 'B', color: [0, 200, 0], toneHz: 900 }),
  ];
  ctx.sub = await startSubscriber({ baseUrl: ctx.server.url, room, participant: ctx.pubs[0].participantId });
  await ctx.sub.waitForFrames(30, 10_000);
  // Until the stats have settled on flowing media (a few 500 ms samples): what the tests read.
  await waitFor(async () => {
    const r = ((await (await fetch(`${ctx.server.url}/stats`)).json()) as any).rooms.find((x: any) => x.name === room);
    return r?.mixer.fps > 20 && r.subscriptions[0]?.quality.server?.fps > 15 && r.participants.every((p: any) => p.quality.server?.bitrateKbps > 10);
  }, 15_000, 'stats of flowing media (mixer > 20 fps, subscription > 15 fps, each ingest > 10 kbps)', 250);
});

test.after(async (ctx) => {
  await ctx.sub?.close();
  for (const p of ctx.pubs ?? []) await p.close();
  await ctx.server?.close();
});

function value(families: any[], name: string, labels: Record<string, string> = {}): number {
  const fam = families.find((f) => f.name === name);
  assert.ok(fam, `metric ${name} exists`);
  const m = fam.metrics.find((x: any) => Object.entries(labels).every(([k, v]) => x.labels?.[k] === v));
  assert.ok(m, `metric ${name} ${JSON.stringify(labels)} has a sample`);
  return Number(m.value ?? m.count);
}

test('/metrics parses as Prometheus text and holds the figures, all non-zero', async ({ server }) => {
  const res = await fetch(`${server.url}/metrics`);
  assert.is(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /text\/plain/);
  let families = parsePrometheusTextFormat(await res.text());
  // Ours are mcu_*; Node's process metrics keep their standard names (process_*, nodejs_*).
  for (const f of families) assert.match(f.name, /^(mcu_|process_|nodejs_)/, `${f.name}: mcu_*, or a standard process metric`);
  assert.ok(families.some((f: any) => f.name === 'process_cpu_seconds_total'), 'process_cpu_seconds_total');
  for (const f of families) {
    if (f.name.startsWith('mcu_') && f.name.endsWith('_total')) assert.is(f.type, 'COUNTER', `${f.name} is a counter`);
  }
  const nonZero: Array<[string, Record<string, string>?]> = [
    ['mcu_rooms'],
    ['mcu_participants'],
    ['mcu_subscribers'],
    ['mcu_connection_bitrate_bits_per_second', { direction: 'ingest' }],
    ['mcu_connection_bitrate_bits_per_second', { direction: 'egress' }],
    ['mcu_connection_frames_per_second', { direction: 'ingest' }],
    ['mcu_connection_mos', { direction: 'ingest' }],
    ['mcu_connection_mos', { direction: 'egress' }],
    ['mcu_connection_rtt_seconds', { direction: 'egress' }],
    ['mcu_connection_jitter_seconds', { direction: 'ingest' }],
    ['mcu_cpu_utilisation_ratio', { process: 'node' }],
    ['mcu_cpu_utilisation_ratio', { process: 'ffmpeg' }],
    ['mcu_bandwidth_bits_per_second', { direction: 'in' }],
    ['mcu_bandwidth_bits_per_second', { direction: 'out' }],
    ['mcu_mixer_frames_per_second'],
    ['mcu_keyframes_sent_total'],
    ['mcu_encoder_bitrate_bits_per_second', { rung: '720p' }],
    ['mcu_sessions_attempted_total', { session: 'whip' }],
    ['mcu_sessions_reached_media_total', { session: 'whep' }],
    ['mcu_call_setup_success_ratio'],
    ['mcu_media_bytes_total', { direction: 'in' }],
    ['mcu_media_bytes_total', { direction: 'out' }],
  ];
  // Some figures need a few stats samples (RTT from RTCP reports, jitter): wait for them, then
  // assert on that reading (a figure that stays at zero fails below, by name).
  const zero = (fams: any[]) => nonZero.some(([name, labels]) => {
    try {
      return !(value(fams, name, labels) > 0);
    } catch {
      return true;
    }
  });
  await waitFor(async () => !zero((families = parsePrometheusTextFormat(await (await fetch(`${server.url}/metrics`)).text()))), 10_000, 'every figure non-zero').catch(() => {});
  for (const [name, labels] of nonZero) {
    const v = value(families, name, labels);
    assert.ok(v > 0, `${name} ${JSON.stringify(labels ?? {})} = ${v}`);
  }
  // Ingest RTT comes from ICE consent checks: on loopback it can round to 0 ms.
  assert.ok(value(families, 'mcu_connection_rtt_seconds', { direction: 'ingest' }) >= 0);
  const mos = value(families, 'mcu_connection_mos', { direction: 'ingest' });
  assert.ok(mos > 4 && mos <= 4.5, `loopback MOS ${mos}`);
  const fps = value(families, 'mcu_mixer_frames_per_second');
  assert.ok(fps > 20, `mixer fps ${fps}`);
  // Counters only grow between two readings.
  const later = parsePrometheusTextFormat(await (await fetch(`${server.url}/metrics`)).text());
  for (const name of ['mcu_keyframes_sent_total', 'mcu_mixer_duplicated_frames_total']) {
    assert.ok(value(later, name) >= value(families, name), `${name} did not go down`);
  }
  assert.ok(value(later, 'mcu_media_bytes_total', { direction: 'out' }) >= value(families, 'mcu_media_bytes_total', { direction: 'out' }));
  // low cardinality: no participant or session ids in labels
  const text = await (await fetch(`${server.url}/metrics`)).text();
  assert.not.ok(text.includes(ctx_ids(server)[0]), 'no ids as labels');
});

function ctx_ids(server: RunningServer): string[] {
  const r = server.rooms.get(room)!;
  return [...r.participants.keys(), ...r.subscriptions.keys()];
}

test('GET /stats: per-connection quality, time to media, mixer figures', async ({ server, pubs }) => {
  const stats = await (await fetch(`${server.url}/stats`)).json();
  const r = stats.rooms.find((x: any) => x.name === room);
  assert.ok(r);
  const a = r.participants.find((p: any) => p.id === pubs[0].participantId);
  assert.ok(a.timeToVideoMs > 0 && a.timeToVideoMs < 5000, `time to video ${a.timeToVideoMs}`);
  assert.ok(a.quality.server.bitrateKbps > 10, `ingest ${a.quality.server.bitrateKbps} kbps`);
  assert.is(a.quality.server.grade, 'good');
  assert.ok(r.subscriptions[0].quality.server.fps > 15);
  assert.ok(r.mixer.fps > 20);
  assert.ok(stats.server.callSetup.reachedMedia >= 3);
});

test('client telemetry is validated and shown beside the server view', async ({ server, sub }) => {
  const post = (body: unknown) =>
    fetch(`${server.url}/rooms/${room}/telemetry`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  let res = await post({ role: 'subscriber', session: sub.subscriptionId, rttMs: 12, lossPercent: 0.5, fps: 29 });
  assert.is(res.status, 204);
  res = await post({ role: 'subscriber', session: sub.subscriptionId, lossPercent: 500 });
  assert.is(res.status, 400);
  assert.match((await res.json()).message, /lossPercent/);
  res = await post({ role: 'subscriber', session: 'nope' });
  assert.is(res.status, 404);
  res = await fetch(`${server.url}/rooms/${room}/telemetry`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{bad json' });
  assert.is(res.status, 400);
  const stats = await (await fetch(`${server.url}/stats`)).json();
  const s = stats.rooms.find((x: any) => x.name === room).subscriptions.find((x: any) => x.id === sub.subscriptionId);
  assert.is(s.quality.client.rttMs, 12);
  assert.ok(s.quality.server, 'server view beside it');
});

test('/healthz and /readyz', async ({ server }) => {
  assert.is((await fetch(`${server.url}/healthz`)).status, 200);
  const r = await fetch(`${server.url}/readyz`);
  assert.is(r.status, 200);
  const body = await r.json();
  assert.ok(body.ready);
  assert.ok(body.checks.ffmpeg.ok);
  assert.ok(['up', 'down'].includes(body.checks.redis.state));
});

test('SSE stream delivers samples', async ({ server }) => {
  const ctrl = new AbortController();
  const res = await fetch(`${server.url}/stats/events`, { signal: ctrl.signal });
  assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
  const reader = res.body!.getReader();
  let text = '';
  await waitFor(async () => {
    const { value } = await reader.read();
    text += new TextDecoder().decode(value);
    return (text.match(/event: stats/g) ?? []).length >= 2;
  }, 5000, 'two SSE samples');
  ctrl.abort();
  assert.match(text, /"rooms":\[/);
});

test.run();
