import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { getEventListeners } from 'node:events';
import { sleep } from '../../pipeline/sleep.ts';

test('waits that end on their own leave no listener on the long-lived signal', async () => {
  const ctl = new AbortController();
  for (let i = 0; i < 50; i++) await sleep(1, ctl.signal);
  assert.is(getEventListeners(ctl.signal, 'abort').length, 0);
});

test('an abort ends the wait early; an aborted signal does not wait at all', async () => {
  const ctl = new AbortController();
  const t0 = performance.now();
  const p = sleep(10_000, ctl.signal);
  setTimeout(() => ctl.abort(), 20);
  await p;
  assert.ok(performance.now() - t0 < 1000);
  assert.is(getEventListeners(ctl.signal, 'abort').length, 0);
  const t1 = performance.now();
  await sleep(10_000, ctl.signal);
  assert.ok(performance.now() - t1 < 100);
});

test.run();
