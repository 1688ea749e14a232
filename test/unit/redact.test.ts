// Secrets out of logs and responses: the text rules, every string field of a log line, and the
// logger itself (the two leaks an audit found: a Redis password in the worker's start line, a
// query token in the cluster forwarder's failure line).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { redactFields, redactText, redactUrl } from '../../pipeline/redact.ts';
import { createLogger } from '../../workers/log.ts';

const JWT = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlc2lnbmF0dXJl';

test('text: JWTs, bearer tokens, token parameters and URL user-info are masked', () => {
  assert.not.match(redactText(`Authorization: Bearer ${JWT}`), /eyJ/);
  assert.is(redactText(`/rooms/r/hls/index.m3u8?access_token=${JWT}`), '/rooms/r/hls/index.m3u8?access_token=***');
  assert.not.match(redactText('redis://:s3cretPass@redis:6379/0'), /s3cretPass/);
  assert.not.match(redactText('rtmp://live.example.com/app/sk_live_123'), /sk_live_123/);
  assert.is(redactUrl('rtmp://user:pw@live.example.com/app/KEY?x=1'), 'rtmp://***@live.example.com/app/***?***');
  assert.is(redactText('ffmpeg started with 5 inputs'), 'ffmpeg started with 5 inputs');
});

test('fields: every string, nested and in arrays, is masked; other values and untouched objects pass as they are', () => {
  const clean = { room: 'r', n: 3, ok: true, nested: { a: 'b' } };
  assert.is(redactFields(clean), clean);
  const buf = Buffer.from('x');
  const out = redactFields({ redis: 'redis://:pw@h:6379', url: `/x?access_token=${JWT}`, stderr: ['a', `Bearer ${JWT}`], deep: { u: 'rtmp://h/app/KEY' }, buf, n: 1 });
  assert.not.match(JSON.stringify(out), /pw@|eyJ|KEY/);
  assert.is(out.buf, buf);
  assert.is(out.n, 1);
  const err = new Error(`failed ${JWT}`);
  assert.is(redactFields({ err }).err, err, 'errors are left to the err serializer');
});

test('the logger: a secret in any field never reaches the line', () => {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'mcu-redact-')), 'log.jsonl');
  try {
    const log = createLogger({ LOG_FILE: file, LOG_LEVEL: 'info' });
    log.info({ queue: 'q', redis: 'redis://:s3cretPass@redis:6379' }, 'recording worker started');
    log.warn({ owner: 'n1', url: `/rooms/r/events?access_token=${JWT}` }, 'forwarding to the room\'s owner failed');
    log.error({ err: new Error(`upstream said Bearer ${JWT}`) }, 'failed');
    log.info({ streamKey: 'sk_1', target: 'rtmp://a.example/live/sk_1' }, 'push');
    const text = fs.readFileSync(file, 'utf8');
    assert.is(text.trim().split('\n').length, 4);
    for (const secret of ['s3cretPass', 'eyJ', 'sk_1']) assert.not.ok(text.includes(secret), `${secret} in ${text}`);
    assert.match(text, /"queue":"q"/);
  } finally {
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
  }
});

test.run();
