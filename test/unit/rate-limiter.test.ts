import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RateLimiter } from '../../pipeline/auth/RateLimiter.ts';

test('burst, then the sustained rate, per client', () => {
  const rl = new RateLimiter(2, 3);
  assert.equal([0, 0, 0].map(() => rl.take('a', 0)), [0, 0, 0]);
  assert.ok(rl.take('a', 0) > 0, 'burst spent');
  assert.is(rl.take('b', 0), 0, 'another client is not affected');
  assert.is(rl.take('a', 500), 0, 'one token back after 0.5 s at 2/s');
  assert.ok(rl.take('a', 500) >= 1);
});

test('memory stays bounded under many addresses', () => {
  const rl = new RateLimiter(1, 1, 100);
  for (let i = 0; i < 1000; i++) rl.take(`ip${i}`, i);
  assert.ok((rl as any).buckets.size <= 100);
});

test.run();
