// MixerSupervisor with stand-in processes (no FFmpeg): readiness, promotion on first media,
// make-before-break replacement, a death replaced after the backoff, and close() waiting for
// every process it stopped.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { MixerStartTimeout, MixerSupervisor } from '../../workers/mixer/MixerSupervisor.ts';
import type { MixerProcess } from '../../workers/mixer/MixerProcess.ts';
import { FULL_MIX_KEY, videoStreamKey } from '../../pipeline/mixer/streamKey.ts';
import { FakeProc, quietLog, tick } from '../helpers/fakeMixerProcess.ts';

const quiet = quietLog;

function setup(rungs = ['720p'], readyTimeoutMs = 2000) {
  const procs: FakeProc[] = [];
  const events: string[] = [];
  const sup = new MixerSupervisor('room', {
    start: async (name) => {
      const p = new FakeProc(name, rungs.map((id) => ({ id })));
      procs.push(p);
      return p as unknown as MixerProcess;
    },
    promoted: (_p, reason, epoch) => events.push(`promoted ${reason} ${epoch}`),
    rtp: (key, _buf, epoch) => events.push(`rtp ${key} ${epoch}`),
    level: () => {},
    error: (err) => events.push(`error ${err.message}`),
  }, quiet, readyTimeoutMs);
  return { sup, procs, events };
}

test('start: ready once every input is open; promoted on its first video packet', async () => {
  const { sup, procs, events } = setup();
  const started = sup.start();
  await tick();
  assert.is(procs.length, 1);
  assert.is(sup.incoming, procs[0] as any);
  procs[0].connect();
  await started;
  procs[0].emit('rtp', FULL_MIX_KEY, Buffer.alloc(1)); // audio first: not yet promoted (it encodes video)
  assert.is(sup.serving, null);
  procs[0].emit('rtp', videoStreamKey('720p'), Buffer.alloc(1));
  assert.is(sup.serving, procs[0] as any);
  assert.is(sup.epoch, 1);
  assert.equal(events, ['promoted start 1', 'rtp video:720p 1']);
  procs[0].finishClose();
  await sup.close();
});

test('a planned replacement starts beside the serving process, which serves until the new one has media', async () => {
  const { sup, procs, events } = setup();
  const started = sup.start();
  await tick();
  procs[0].connect();
  await started;
  procs[0].emit('rtp', videoStreamKey('720p'), Buffer.alloc(1));
  await sup.replace('rungs');
  await tick(5);
  assert.is(procs.length, 2);
  assert.is(sup.serving, procs[0] as any, 'the old one still serves');
  assert.is(procs[0].closeCalls, 0);
  procs[1].connect();
  await tick(5);
  procs[0].emit('rtp', videoStreamKey('720p'), Buffer.alloc(1));
  procs[1].emit('rtp', videoStreamKey('720p'), Buffer.alloc(1));
  assert.is(sup.serving, procs[1] as any);
  assert.is(procs[0].closeCalls, 1, 'the old one is stopped on promotion');
  assert.equal(events.slice(-3), ['rtp video:720p 1', 'promoted rungs 2', 'rtp video:720p 2']);
  assert.is(sup.restarts, 1);
  // close() waits for the replaced process too.
  let closed = false;
  const closing = sup.close().then(() => (closed = true));
  procs[1].finishClose();
  await tick(10);
  assert.not.ok(closed, 'still waiting for the replaced process to stop');
  procs[0].finishClose();
  await closing;
  assert.ok(closed);
  assert.is(sup.close(), sup.close(), 'one shared close promise');
});

test('a death is replaced after the first backoff step; a new start gets the next epoch', async () => {
  const { sup, procs } = setup();
  const started = sup.start();
  await tick();
  procs[0].connect();
  await started;
  procs[0].emit('rtp', videoStreamKey('720p'), Buffer.alloc(1));
  const at = performance.now();
  procs[0].emit('died', { code: 1, signal: null });
  await tick();
  assert.is(sup.serving, null, 'a dead process stops serving (and is stopped) at once');
  assert.is(procs[0].closeCalls, 1);
  assert.is(sup.lastExit?.code, 1);
  while (procs.length < 2) await tick(5);
  assert.ok(performance.now() - at >= 95, 'started after the 100 ms backoff');
  procs[1].connect();
  await tick(5);
  procs[1].emit('rtp', videoStreamKey('720p'), Buffer.alloc(1));
  assert.is(sup.epoch, 2);
  for (const p of procs) p.finishClose();
  await sup.close();
});

test('readiness timeout: the process is stopped and start() rejects with MixerStartTimeout', async () => {
  const { sup, procs } = setup(['720p'], 50);
  const started = sup.start();
  await tick();
  procs[0].finishClose();
  const err = await started.catch((e) => e);
  assert.instance(err, MixerStartTimeout);
  assert.is(procs[0].closeCalls, 1);
  assert.is(sup.incoming, null);
  await sup.close();
});

test('watchdog: a serving process that went quiet is replaced', async () => {
  const { sup, procs } = setup();
  const started = sup.start();
  await tick();
  procs[0].connect();
  await started;
  procs[0].emit('rtp', videoStreamKey('720p'), Buffer.alloc(1));
  procs[0].lastPacketAt = 1000;
  assert.ok(sup.watchdog(2000), 'quiet for 1 s: fine');
  assert.not.ok(sup.watchdog(4001), 'quiet for 3 s: frozen, tick skipped');
  await tick(5);
  assert.is(sup.serving, null);
  assert.is(procs[0].closeCalls, 1);
  while (procs.length < 2) await tick(5);
  procs[1].connect();
  for (const p of procs) p.finishClose();
  await sup.close();
});

test.run();
