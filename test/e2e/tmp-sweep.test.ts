// Temp files of a killed server or worker are removed by the next start: directories are
// named after their owning pid, and only those whose owner is gone are swept.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { makeTempDir, sweepStaleTempDirs } from '../../workers/tmp.ts';

test('dirs of dead owners are swept; live owners\' dirs stay', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'sweep-test-'));
  try {
    const dead = spawnSync('true').pid!; // exited and reaped: its pid is free
    fs.mkdirSync(path.join(root, `mcu-p${dead}-remux-abc`));
    fs.writeFileSync(path.join(root, `mcu-p${dead}-remux-abc`, 'in.sdp'), 'v=0');
    fs.mkdirSync(path.join(root, `mcu-p${process.pid}-mix-def`));
    fs.mkdirSync(path.join(root, 'mcu-mix-legacy'));
    fs.mkdirSync(path.join(root, 'unrelated'));
    assert.is(sweepStaleTempDirs(root), 1);
    assert.equal(fs.readdirSync(root).sort(), [`mcu-p${process.pid}-mix-def`, 'mcu-mix-legacy', 'unrelated'].sort());
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('makeTempDir names the owner and a safe kind', () => {
  const d = makeTempDir('hls-room/../x');
  try {
    assert.match(path.basename(d), new RegExp(`^mcu-p${process.pid}-hls-room_\\.\\._x-`.replace('\\.\\.', '__')));
  } finally {
    fs.rmSync(d, { recursive: true, force: true });
  }
});

test.run();
