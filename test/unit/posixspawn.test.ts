// workers/ffmpeg/spawnChild.ts with the posix_spawn addon: real children (sh, cat, sleep), their
// pipes, exit codes and signals, a start that fails, what the child inherits (no signal ignored
// or blocked, no fd of this process beyond 0-2) and that nothing is left behind (no zombie).

import fs from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { posixSpawnAddon, spawnChild, type Child } from '../../workers/ffmpeg/spawnChild.ts';
import { skip } from '../helpers/skip.ts';

const lib = posixSpawnAddon();
const NOT_BUILT = 'native/posixspawn is not built (npm run build:posixspawn), or MCU_SPAWN=node';

function run(file: string, args: string[], opts: { stdin?: boolean; stdout?: boolean } = {}) {
  const child = spawnChild(file, args, { stdin: !!opts.stdin, stdout: !!opts.stdout, env: process.env });
  let out = '';
  let err = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (err += d));
  const closed = new Promise<{ code: number | null; signal: string | null }>((resolve, reject) => {
    child.once('close', (code, signal) => resolve({ code, signal }));
    child.once('error', reject);
  });
  return { child, closed, out: () => out, err: () => err };
}

const spawned = (c: Child) => new Promise<void>((r) => c.once('spawn', () => r()));

test('output pipes, exit code, and no zombie once closed', async () => {
  if (!lib) return skip(NOT_BUILT);
  const r = run('sh', ['-c', 'echo out; echo err >&2; exit 3'], { stdout: true });
  await spawned(r.child);
  assert.ok(r.child.pid! > 0);
  assert.equal(await r.closed, { code: 3, signal: null });
  assert.is(r.out(), 'out\n');
  assert.is(r.err(), 'err\n');
  assert.not.ok(fs.existsSync(`/proc/${r.child.pid}`), 'reaped');
});

test('stdin pipe: what is written comes back through cat', async () => {
  if (!lib) return skip(NOT_BUILT);
  const r = run('cat', [], { stdin: true, stdout: true });
  r.child.stdin!.end('hello through a pipe');
  assert.equal(await r.closed, { code: 0, signal: null });
  assert.is(r.out(), 'hello through a pipe');
});

test('a signal ends it: close reports the signal, kill() after the exit is refused', async () => {
  if (!lib) return skip(NOT_BUILT);
  const r = run('sleep', ['30']);
  await spawned(r.child);
  assert.ok(r.child.kill('SIGTERM'));
  assert.equal(await r.closed, { code: null, signal: 'SIGTERM' });
  assert.not.ok(r.child.kill('SIGKILL'), 'nothing to kill');
});

test('the child inherits no ignored or blocked standard signal and no fd but 0-2 (Node ignores SIGPIPE and keeps many fds)', async () => {
  if (!lib) return skip(NOT_BUILT);
  // Read by the spawned program itself (a shell would block signals around its own forks).
  const status = run('cat', ['/proc/self/status'], { stdout: true });
  assert.equal(await status.closed, { code: 0, signal: null });
  const lines = status.out().split('\n');
  const mask = (name: string) => BigInt(`0x${lines.find((l) => l.startsWith(`${name}:`))!.split('\t')[1]}`);
  assert.is(mask('SigBlk'), 0n, status.out());
  // Signals 1-31 (Node ignores SIGPIPE and SIGXFSZ: 0x1001000 in its own SigIgn). glibc's
  // posix_spawn leaves its two internal real-time signals (32, 33: thread cancellation and
  // setxid) ignored in the child, where a program's glibc takes them over when it uses them.
  assert.is(mask('SigIgn') & 0x7fffffffn, 0n, status.out()); // signal n is bit n - 1
  // ls's own fds: 0-2 and the directory it reads, none of Node's epoll, sockets or pipes.
  const fds = run('ls', ['/proc/self/fd'], { stdout: true });
  assert.equal(await fds.closed, { code: 0, signal: null });
  const list = fds.out().trim().split('\n').map(Number);
  assert.ok([0, 1, 2].every((fd) => list.includes(fd)) && list.length <= 4, `fds in the child: ${list.join(' ')}`);
});

test('a child\'s stdout pipe holds a whole 640x360 picture (1 MiB: F_SETPIPE_SZ)', async () => {
  if (!lib) return skip(NOT_BUILT);
  // python reads its own stdout's capacity (F_GETPIPE_SZ = 1032).
  const size = run('python3', ['-c', 'import fcntl; print(fcntl.fcntl(1, 1032))'], { stdout: true });
  assert.equal(await size.closed, { code: 0, signal: null });
  assert.is(Number(size.out().trim()), 1 << 20, size.out());
});

test('a child\'s stdin pipe holds a 720p canvas (2 MiB: F_SETPIPE_SZ), or 1 MiB where fs.pipe-max-size refuses more', async () => {
  if (!lib) return skip(NOT_BUILT);
  const size = run('python3', ['-c', 'import fcntl; print(fcntl.fcntl(0, 1032))'], { stdin: true, stdout: true });
  size.child.stdin!.end();
  assert.equal(await size.closed, { code: 0, signal: null });
  const max = Number(fs.readFileSync('/proc/sys/fs/pipe-max-size', 'utf8'));
  const got = Number(size.out().trim());
  // Above fs.pipe-max-size only a process with CAP_SYS_RESOURCE gets 2 MiB.
  if (max >= 2 << 20) assert.is(got, 2 << 20, size.out());
  else assert.ok(got === 1 << 20 || got === 2 << 20, size.out());
});

test('a binary that does not exist: an error with code ENOENT, no spawn, no pid', async () => {
  if (!lib) return skip(NOT_BUILT);
  const child = spawnChild('/nonexistent/ffmpeg', ['-version'], { stdin: false, stdout: false, env: process.env });
  let started = false;
  child.once('spawn', () => (started = true));
  const err = await new Promise<NodeJS.ErrnoException>((r) => child.once('error', r));
  assert.is(err.code, 'ENOENT');
  assert.is(child.pid, undefined);
  assert.not.ok(started);
});

test.run();
