// RungSelection: a rung nobody watches any more lingers (RUNG_LINGER_MS), a held rung is encoded
// before its subscriber arrives, and both are dropped when their time is up.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RungSelection } from '../../server/rooms/RungSelection.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function selection(lingerMs: number) {
  const subs: Array<{ rung: string | null; pendingRung: string | null }> = [];
  const calls: string[][] = [];
  const sel = new RungSelection(
    {
      subscriptions: () => subs as any,
      alwaysOnRungs: () => ['720p'],
      tapRungs: () => [],
      setRungs: (ids) => calls.push([...ids].sort()),
      setPeriodicKeyframes: () => {},
      requestKeyframe: () => {},
      routesChanged: () => {},
      publish: () => {},
    },
    lingerMs,
  );
  return { sel, subs, calls, last: () => calls[calls.length - 1] };
}

test('a rung whose last subscriber left lingers, then is dropped', async () => {
  const { sel, subs, last } = selection(60);
  subs.push({ rung: '720p-h264', pendingRung: null });
  sel.update();
  assert.equal(last(), ['720p', '720p-h264']);
  subs.pop();
  sel.update();
  assert.equal(last(), ['720p', '720p-h264'], 'still encoded right after the subscriber left');
  await sleep(120);
  assert.equal(last(), ['720p'], 'dropped after the linger');
  sel.dispose();
});

test('a subscriber back within the linger finds its rung encoded: no change at all', async () => {
  const { sel, subs, calls } = selection(200);
  subs.push({ rung: '360p', pendingRung: null });
  sel.update();
  subs.pop();
  sel.update();
  await sleep(20);
  subs.push({ rung: '360p', pendingRung: null });
  sel.update();
  await sleep(260);
  assert.ok(calls.every((c) => c.includes('360p')), JSON.stringify(calls));
  sel.dispose();
});

test('hold: encoded before its subscriber arrives, dropped when unwatched after the hold', async () => {
  const { sel, last } = selection(0);
  sel.update();
  assert.equal(last(), ['720p']);
  sel.hold('720p-h264', 60);
  assert.equal(last(), ['720p', '720p-h264']);
  await sleep(120);
  assert.equal(last(), ['720p']);
  sel.dispose();
});

test('dispose stops the timer: nothing changes after it', async () => {
  const { sel, subs, calls } = selection(30);
  subs.push({ rung: '360p', pendingRung: null });
  sel.update();
  subs.pop();
  sel.update();
  const n = calls.length;
  sel.dispose();
  await sleep(80);
  assert.is(calls.length, n);
});

test.run();
