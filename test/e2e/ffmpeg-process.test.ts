// FfmpegProcess runs exactly specToArgv(spec): values with spaces stay one argument, stdio
// pipes work, a requested stop is told from a death, and no process outlives its stop.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FfmpegProcess, liveFfmpegProcesses } from '../../workers/ffmpeg/FfmpegProcess.ts';

test('a path with spaces is one argument, byte for byte', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcu ffmpeg test '));
  const out = path.join(dir, 'one frame, two words.png');
  try {
    const p = new FfmpegProcess('spaces', {
      globalOptions: ['-hide_banner', '-loglevel', 'error', '-nostdin', '-y'],
      inputs: [{ url: 'color=c=red:s=32x16', options: ['-f', 'lavfi'] }],
      filterComplex: '',
      outputs: [{ url: out, options: ['-frames:v', '1'] }],
    });
    assert.equal(p.argv[p.argv.length - 1], out);
    const exit = await p.exited;
    assert.is(exit.code, 0, exit.stderrTail.join('\n'));
    assert.ok(fs.statSync(out).size > 0);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('FFmpeg does not get the Node process’s malloc setting (MALLOC_MMAP_THRESHOLD_); the rest of the environment it does', async () => {
  const before = process.env.MALLOC_MMAP_THRESHOLD_;
  process.env.MALLOC_MMAP_THRESHOLD_ = '131072';
  process.env.MCU_TEST_ENV_PROBE = 'kept';
  try {
    const p = new FfmpegProcess('env', {
      globalOptions: ['-hide_banner', '-loglevel', 'error', '-nostdin'],
      inputs: [{ url: 'color=c=red:s=32x16:r=10', options: ['-re', '-f', 'lavfi', '-t', '3'] }],
      filterComplex: '',
      outputs: [{ url: '-', options: ['-f', 'null'] }],
    });
    const pid = await p.started;
    // Until its exec, the forked child's /proc environ is still this process's.
    for (let i = 0; i < 100 && !fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('color=c=red'); i++) await new Promise((r) => setTimeout(r, 20));
    const env = fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
    await p.stop();
    assert.ok(env.includes('MCU_TEST_ENV_PROBE=kept'), 'the rest of the environment');
    assert.not.ok(env.some((e) => e.startsWith('MALLOC_MMAP_THRESHOLD_=')), 'no fixed mmap threshold for FFmpeg');
  } finally {
    if (before === undefined) delete process.env.MALLOC_MMAP_THRESHOLD_;
    else process.env.MALLOC_MMAP_THRESHOLD_ = before;
    delete process.env.MCU_TEST_ENV_PROBE;
  }
});

test('stdin and stdout pipes carry raw media through', async () => {
  const p = new FfmpegProcess(
    'pipes',
    {
      globalOptions: ['-hide_banner', '-loglevel', 'error'],
      inputs: [{ url: 'pipe:0', options: ['-f', 'rawvideo', '-pix_fmt', 'gray', '-video_size', '4x2'] }],
      filterComplex: '',
      outputs: [{ url: 'pipe:1', options: ['-f', 'rawvideo', '-pix_fmt', 'gray', '-vf', 'negate'] }],
    },
    { stdin: true, stdout: true },
  );
  const chunks: Buffer[] = [];
  p.stdout!.on('data', (d: Buffer) => chunks.push(d));
  p.stdin!.end(Buffer.from([0, 10, 20, 30, 40, 50, 60, 70]));
  const exit = await p.exited;
  assert.is(exit.code, 0, exit.stderrTail.join('\n'));
  const out = Buffer.concat(chunks);
  assert.is(out.length, 8);
  assert.ok(out[0] > 200 && out[7] < 200, `negated bytes: ${[...out]}`);
});

test('stop() is a requested exit; kill() is a death; nothing stays live', async () => {
  const spec = {
    globalOptions: ['-hide_banner', '-loglevel', 'error', '-nostdin'],
    inputs: [{ url: 'anullsrc', options: ['-re', '-f', 'lavfi'] }],
    filterComplex: '',
    outputs: [{ url: '-', options: ['-f', 'null'] }],
  };
  const a = new FfmpegProcess('stopped', spec);
  await a.started;
  const stopped = await a.stop();
  assert.is(stopped.requested, true);

  const b = new FfmpegProcess('killed', spec);
  await b.started;
  let died = false;
  b.on('died', () => (died = true));
  b.kill('SIGKILL');
  const exit = await b.exited;
  assert.is(exit.signal, 'SIGKILL');
  assert.is(exit.requested, false);
  assert.ok(died);
  assert.is(liveFfmpegProcesses().size, 0);
});

test('a missing binary rejects `started` with the reason', async () => {
  const p = new FfmpegProcess('missing', { globalOptions: [], inputs: [], filterComplex: '', outputs: [] }, { ffmpegPath: '/nonexistent/ffmpeg' });
  const exit = await p.exited;
  assert.ok(exit.code !== 0);
  assert.is(liveFfmpegProcesses().size, 0);
});

test.run();
