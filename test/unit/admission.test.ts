// Admission control: two consecutive bad samples refuse new rooms; one is not enough. CPU
// headroom: a new room is admitted only if one more room's cost fits under the limit.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Admission, cpuCounter } from '../../server/rooms/Admission.ts';
import { cpuRefusal, MIN_ROOM_CORES, roomCostCores } from '../../pipeline/admission.ts';

test('CPU headroom: a room costs what rooms cost here on average (at least MIN_ROOM_CORES)', () => {
  assert.is(roomCostCores({ capacityCores: 2, busyCores: 0.1, serverCores: 0.05, rooms: 0 }), MIN_ROOM_CORES);
  assert.is(roomCostCores({ capacityCores: 2, busyCores: 0.1, serverCores: 0.1, rooms: 1 }), MIN_ROOM_CORES);
  assert.is(roomCostCores({ capacityCores: 2, busyCores: 1.5, serverCores: 1.4, rooms: 2 }), 0.7);
});

test('CPU headroom on a 2-core machine at 80 %: the third room of 0.7 cores is refused, the second admitted', () => {
  const one = { capacityCores: 2, busyCores: 0.8, serverCores: 0.7, rooms: 1 };
  assert.is(cpuRefusal(one, 80, 'room'), null, '0.8 + 0.7 = 1.5 <= 1.6');
  const two = { capacityCores: 2, busyCores: 1.5, serverCores: 1.4, rooms: 2 };
  assert.match(cpuRefusal(two, 80, 'room') ?? '', /no CPU headroom for another room \(CPU 75 % now, a room needs about 35 %, limit 80 %\)/);
  // A publisher is refused only once the limit is exceeded.
  assert.is(cpuRefusal(two, 80, 'publisher'), null);
  assert.match(cpuRefusal({ ...two, busyCores: 1.7 }, 80, 'publisher') ?? '', /CPU 85 % > 80 %/);
  // A room admitted a moment ago counts at the estimate: two rooms at once do not both fit.
  assert.is(cpuRefusal({ ...one, busyCores: 0.1 }, 80, 'room', 1), null, '0.1 + 2 × 0.7 = 1.5');
  assert.match(cpuRefusal({ ...one, busyCores: 0.3 }, 80, 'room', 1) ?? '', /1 room\(s\) starting/);
  // 0: off.
  assert.is(cpuRefusal({ ...two, busyCores: 2 }, 0, 'room'), null);
});

test('mixer skipped ticks: refused after two bad seconds, admitted again after a good one', () => {
  const counts = { ticks: 0, skippedTicks: 0 };
  const room = { mixer: { stats: () => counts } };
  const a = new Admission(() => [room], { ADMISSION_MAX_LAG_MS: '0', ADMISSION_MAX_SKIPPED_PCT: '10', ADMISSION_MAX_CPU_PERCENT: '0' });
  const sample = () => (a as any).sample();
  try {
    sample(); // baseline
    counts.ticks += 30;
    counts.skippedTicks += 9; // 30 %
    sample();
    assert.is(a.refusal(), null, 'one bad second is not overload');
    counts.ticks += 30;
    counts.skippedTicks += 12;
    sample();
    assert.match(a.refusal() ?? '', /skipped 30 %/);
    counts.ticks += 30;
    sample();
    assert.is(a.refusal(), null);
  } finally {
    a.close();
  }
});

test('limits set to 0 are off; bad values are refused with the variable named', () => {
  const counts = { ticks: 0, skippedTicks: 0 };
  const room = { mixer: { stats: () => counts } };
  const a = new Admission(() => [room], { ADMISSION_MAX_LAG_MS: '0', ADMISSION_MAX_SKIPPED_PCT: '0', ADMISSION_MAX_CPU_PERCENT: '0' });
  try {
    for (let i = 0; i < 3; i++) {
      counts.ticks += 30;
      counts.skippedTicks += 30;
      (a as any).sample();
    }
    assert.is(a.refusal(), null);
  } finally {
    a.close();
  }
  assert.throws(() => new Admission(() => [], { ADMISSION_MAX_LAG_MS: 'fast' }), /ADMISSION_MAX_LAG_MS/);
  // The production defaults: all three checks on.
  const d = new Admission(() => [], {});
  try {
    assert.equal([d.maxLagMs, d.maxSkippedPct, d.maxCpuPct], [250, 10, 70]);
  } finally {
    d.close();
  }
});

test('CPU capacity and use: a container\'s cgroup v2 quota when it has one, else the machine', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcu-cgroup-'));
  try {
    fs.writeFileSync(path.join(dir, 'cpu.max'), '150000 100000\n');
    fs.writeFileSync(path.join(dir, 'cpu.stat'), 'usage_usec 2500000\nuser_usec 2000000\n');
    const quota = cpuCounter(dir);
    assert.is(quota.capacity, 1.5);
    assert.is(quota.usedSec(), 2.5);
    fs.writeFileSync(path.join(dir, 'cpu.max'), 'max 100000\n');
    const machine = cpuCounter(dir);
    assert.is(machine.capacity, os.availableParallelism());
    assert.type(machine.usedSec(), 'number');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
