// The test suite's Redis: REDIS_URL as given, or a private redis-server that answers PING and
// is gone after stop().

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { redisPing, redisUnavailableReason, testRedis } from '../helpers/redis.ts';
import { skip } from '../helpers/skip.ts';

test('REDIS_URL given: used as is, nothing started', async () => {
  const r = await testRedis({ REDIS_URL: 'redis://10.9.8.7:6390' });
  assert.equal([r.url, r.private], ['redis://10.9.8.7:6390', false]);
  await r.stop();
});

test('no REDIS_URL: a private redis-server on a free port, stopped by stop()', async () => {
  const reason = redisUnavailableReason({});
  if (reason) return skip(reason);
  const r = await testRedis({});
  assert.ok(r.private);
  const port = Number(new URL(r.url).port);
  assert.ok(port > 0 && port !== 6379, r.url);
  assert.ok(await redisPing(port));
  await r.stop();
  await r.stop();
  assert.not.ok(await redisPing(port), 'gone after stop()');
});

test.run();
