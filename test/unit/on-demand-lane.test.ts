// OnDemandLane with stand-in processes (no FFmpeg): nothing runs until it has rungs and its
// owner has begun; a change of rungs replaces its process; its last rung going stops it; a new
// start after that gets epochs past every earlier one; close() waits for what it stopped.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { OnDemandLane } from '../../workers/mixer/OnDemandLane.ts';
import type { MixerProcess } from '../../workers/mixer/MixerProcess.ts';
import { videoStreamKey } from '../../pipeline/mixer/streamKey.ts';
import { FakeProc, quietLog, tick } from '../helpers/fakeMixerProcess.ts';

function setup() {
  const procs: FakeProc[] = [];
  const events: string[] = [];
  const lane = new OnDemandLane('room/h264', {
    start: async (name, rungs) => {
      const p = new FakeProc(name, rungs.map((id) => ({ id })));
      procs.push(p);
      return p as unknown as MixerProcess;
    },
    promoted: (_p, reason, epoch) => events.push(`promoted ${reason} ${epoch}`),
    rtp: (key, _buf, epoch) => events.push(`rtp ${key} ${epoch}`),
    error: (err) => events.push(`error ${err.message}`),
  }, quietLog, 2000);
  return { lane, procs, events };
}

/** The newest process opens its inputs and sends a packet of its first rung (it is promoted). */
async function serve(procs: FakeProc[]): Promise<FakeProc> {
  while (!procs.length || procs[procs.length - 1].allConnected) await tick(2);
  const p = procs[procs.length - 1];
  p.connect();
  await tick(2);
  p.emit('rtp', videoStreamKey(p.rungs[0].id), Buffer.alloc(1));
  return p;
}

test('no process before begin() or without rungs; the first rung starts one', async () => {
  const { lane, procs, events } = setup();
  lane.setRungs(['720p-h264']);
  await tick(5);
  assert.is(procs.length, 0, 'not before begin()');
  lane.setRungs([]);
  lane.begin();
  await tick(5);
  assert.is(procs.length, 0, 'no rungs, no process');
  assert.ok(lane.watchdog(performance.now()));
  assert.equal(lane.stats(), { pid: null, epoch: 0, rungs: [], processesStarted: 0, restarts: 0 });
  lane.setRungs(['720p-h264']);
  const p = await serve(procs);
  assert.is(lane.serving, p as any);
  assert.equal(p.rungs, [{ id: '720p-h264' }]);
  assert.equal(events, ['promoted start 1', 'rtp video:720p-h264 1']);
  assert.equal(lane.stats(), { pid: p.ffmpeg.pid, epoch: 1, rungs: ['720p-h264'], processesStarted: 1, restarts: 0 });
  p.finishClose();
  await lane.close();
});

test('rungs change: a new process beside the old (make before break); none left: it stops; back: epochs go on', async () => {
  const { lane, procs, events } = setup();
  lane.begin();
  lane.setRungs(['720p-h264']);
  const first = await serve(procs);
  lane.setRungs(['720p-h264', '360p-h264']);
  const second = await serve(procs);
  assert.is(lane.serving, second as any);
  assert.equal(second.rungs.map((r) => r.id), ['720p-h264', '360p-h264']);
  assert.is(first.closeCalls, 1, 'the old one stopped on promotion');
  assert.ok(events.includes('promoted rungs 2'), events.join());
  lane.setRungs([]);
  await tick(5);
  assert.is(lane.serving, null);
  assert.is(second.closeCalls, 1, 'the last rung gone: stopped');
  const stopped = lane.stats();
  assert.equal([stopped.pid, stopped.processesStarted, stopped.restarts], [null, 2, 1]);
  lane.setRungs(['360p-h264']);
  const third = await serve(procs);
  assert.is(lane.serving, third as any);
  const epoch = lane.stats().epoch;
  assert.ok(epoch > 2, `a new start's epoch (${epoch}) is past every earlier one`);
  assert.is(lane.stats().processesStarted, 3);
  // close() waits for every process it stopped, the retired supervisor's too.
  let closed = false;
  const closing = lane.close().then(() => (closed = true));
  third.finishClose();
  first.finishClose();
  await tick(10);
  assert.not.ok(closed, 'still waiting for the retired process');
  second.finishClose();
  await closing;
  assert.ok(closed);
  assert.is(lane.close(), lane.close(), 'idempotent');
  lane.setRungs(['720p-h264']);
  await tick(5);
  assert.is(procs.length, 3, 'nothing starts after close()');
});

test.run();
