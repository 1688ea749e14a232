// The OpenAPI document: structurally valid 3.1, every route the app registers is in it (a new
// route without docs fails here), and real responses of a live app validate against it.

import http from 'node:http';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { openApiDocument } from '../../pipeline/api/openapi.ts';
import { checkOpenApi, responseSchema, validate } from '../../pipeline/api/validate.ts';
import { createApp } from '../../server/http/app.ts';
import { RoomRegistry } from '../../server/rooms/RoomRegistry.ts';
import { Monitor } from '../../server/stats/Monitor.ts';
import { registeredRoutes } from '../helpers/routes.ts';
import express from 'express';
import { pino } from 'pino';
import { responseCheck } from '../../server/http/responseCheck.ts';
import { parseSettingsPatch } from '../../server/rooms/Room.ts';
import { parseTelemetry } from '../../pipeline/quality/figures.ts';
import { Recordings } from '../../server/recordings/Recordings.ts';

const doc = openApiDocument() as any;

/** A logger whose lines the test reads back. */
function memoryLog() {
  const lines: any[] = [];
  const log = pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l)) });
  return { log, lines };
}

function makeApp(log = memoryLog().log, cluster?: any) {
  const rooms = new RoomRegistry({ idleMs: 1000 });
  const monitor = new Monitor(rooms, 1000);
  return { app: createApp({ rooms, monitor, log, cluster }), rooms, monitor };
}

test('the document is structurally valid OpenAPI 3.1 and every $ref resolves', () => {
  assert.equal(checkOpenApi(doc), []);
  // The checker can fail.
  const broken = structuredClone(doc);
  broken.openapi = '3.0.3';
  broken.paths['/rooms/{room}'].get.parameters = [];
  delete broken.paths['/rooms/{room}'].parameters;
  broken.paths['/rooms'].get.responses['200'].content['application/json'].schema = { $ref: '#/components/schemas/Nope' };
  const errs = checkOpenApi(broken);
  assert.ok(errs.some((e) => /3\.1/.test(e)) && errs.some((e) => /\{room\} is not declared/.test(e)) && errs.some((e) => /Nope/.test(e)), errs.join('\n'));
});

test('every route registered in the app is documented, and every documented route exists', () => {
  // A cluster stub registers the CLUSTER=1 routes too (they are only used at request time).
  const { app, rooms, monitor } = makeApp(undefined, {});
  const routes = registeredRoutes(app);
  assert.ok(routes.length > 30, `found ${routes.length} routes`);
  const missing = routes.filter((r) => !doc.paths[r.path]?.[r.method]).map((r) => `${r.method.toUpperCase()} ${r.path}`);
  assert.equal(missing, [], `routes without documentation: ${missing.join(', ')}`);
  const registered = new Set(routes.map((r) => `${r.method} ${r.path}`));
  const ghosts: string[] = [];
  for (const [path, item] of Object.entries<any>(doc.paths)) {
    for (const m of Object.keys(item)) if (m !== 'parameters' && !registered.has(`${m} ${path}`)) ghosts.push(`${m.toUpperCase()} ${path}`);
  }
  assert.equal(ghosts, [], `documented but not registered: ${ghosts.join(', ')}`);
  monitor.close();
  void rooms.close();
});

test('the validator fails on a wrong body', () => {
  assert.ok(validate({ ok: 'yes' }, { $ref: '#/components/schemas/Health' }, doc).length > 0);
  assert.ok(validate({ role: 'admin', session: 'x' }, { $ref: '#/components/schemas/Telemetry' }, doc).length > 0);
  assert.ok(validate({ role: 'publisher', session: 'x', extra: 1 }, { $ref: '#/components/schemas/Telemetry' }, doc).some((e) => /unexpected "extra"/.test(e)));
  assert.equal(validate({ role: 'publisher', session: 'abc-1', rttMs: 20 }, { $ref: '#/components/schemas/Telemetry' }, doc), []);
});

test('real responses of a live app validate against the document; errors are problem+json', async () => {
  process.env.MCU_CHECK_RESPONSES = '1';
  const mem = memoryLog();
  const { app, rooms, monitor } = makeApp(mem.log);
  delete process.env.MCU_CHECK_RESPONSES;
  const server = http.createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const calls: Array<[string, string, string, unknown?]> = [
    ['GET', '/rooms', '/rooms'],
    ['GET', '/healthz', '/healthz'],
    ['GET', '/readyz', '/readyz'],
    ['GET', '/config', '/config'],
    ['GET', '/stats', '/stats'],
    ['POST', '/tokens', '/tokens', { room: 'a', role: 'publisher' }],
    ['GET', '/rooms/nope', '/rooms/{room}'],
    ['PATCH', '/rooms/nope', '/rooms/{room}', { layout: 'grid' }],
    ['PUT', '/rooms/bad!name', '/rooms/{room}', {}],
    ['GET', '/recordings', '/recordings'],
    ['POST', '/rooms/nope/telemetry', '/rooms/{room}/telemetry', { role: 'nobody' }],
    ['DELETE', '/rooms/nope/whip/x', '/rooms/{room}/whip/{id}'],
    ['GET', '/openapi.json', '/openapi.json'],
  ];
  try {
    for (const [method, url, path, json] of calls) {
      const res = await fetch(base + url, {
        method,
        headers: { Accept: 'application/json', ...(json ? { 'Content-Type': 'application/json' } : {}) },
        body: json ? JSON.stringify(json) : undefined,
      });
      const type = (res.headers.get('content-type') ?? '').split(';')[0];
      const schema = responseSchema(doc, method, path, res.status, type);
      assert.ok(schema, `${method} ${url} → ${res.status} ${type} is documented`);
      if (res.status >= 400) assert.is(type, 'application/problem+json', `${method} ${url}`);
      const errs = validate(await res.json(), schema!, doc);
      assert.equal(errs, [], `${method} ${url}: ${errs.join('; ')}`);
    }
    // MCU_CHECK_RESPONSES saw the same responses and found nothing to say.
    assert.equal(mem.lines.filter((l) => /response (does not match|check failed)/.test(l.msg)), []);
  } finally {
    server.close();
    monitor.close();
    await rooms.close();
  }
});

test('MCU_CHECK_RESPONSES logs a response that does not match the document', async () => {
  const mem = memoryLog();
  const app = express();
  app.use(responseCheck(mem.log));
  app.get('/healthz', (_req, res) => void res.json({ ok: 'yes' }));
  app.get('/config', (_req, res) => void res.status(418).json({ auth: 'open', turn: false }));
  const server = http.createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  // These mismatches are on purpose: keep them out of the file the runner fails the run on.
  const collected = process.env.MCU_RESPONSE_MISMATCH_FILE;
  delete process.env.MCU_RESPONSE_MISMATCH_FILE;
  try {
    await fetch(`${base}/healthz`);
    await fetch(`${base}/config`);
  } finally {
    if (collected !== undefined) process.env.MCU_RESPONSE_MISMATCH_FILE = collected;
    server.close();
  }
  const warned = mem.lines.filter((l) => l.msg === 'response does not match /openapi.json');
  assert.is(warned.length, 2, JSON.stringify(mem.lines));
  assert.ok(warned[0].problems.some((p: string) => /uptimeSec|expected/.test(p)));
  assert.ok(warned[1].problems.some((p: string) => /418 application\/json is not documented/.test(p)));
});

test('request schemas accept and refuse what the server\'s own parsers do', () => {
  const cases: Array<[string, (b: unknown) => unknown, unknown[]]> = [
    ['RoomSettingsPatch', parseSettingsPatch, [{}, { layout: 'speaker' }, { layout: 'mosaic' }, { mode: 'webinar', fit: 'crop', pinned: null }, { pinned: 5 }, { colour: 'red' }]],
    ['Telemetry', parseTelemetry, [{ role: 'publisher', session: 'ab-1' }, { role: 'subscriber', session: 'x', lossPercent: 101 }, { role: 'x', session: 'y' }, { role: 'publisher', session: 'a b' }, { role: 'publisher', session: 'a', extra: 1 }]],
    ['RecordingRequest', (b) => Recordings.parseRequest(b), [{}, { format: 'mp4' }, { format: 'avi' }, { maxDurationSec: 0 }, { maxDurationSec: 60 }, { other: 1 }]],
  ];
  for (const [name, parse, bodies] of cases) {
    for (const b of bodies) {
      const byParser = typeof parse(b) !== 'string';
      const bySchema = validate(b, { $ref: `#/components/schemas/${name}` }, doc).length === 0;
      assert.is(bySchema, byParser, `${name} ${JSON.stringify(b)}: schema ${bySchema}, parser ${byParser}`);
    }
  }
});

test.run();
