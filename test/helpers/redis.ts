// Redis for tests that need one, without depending on one somebody started: REDIS_URL when it
// is given (CI, a developer's own), otherwise a private redis-server on a free port, stopped
// when the suite is done (and killed if the test process exits first).

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { freePort } from '../../bench/lib/server-proc.ts';

export interface TestRedis {
  url: string;
  /** True when this helper started it (a private redis-server). */
  private: boolean;
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const p of live) p.kill('SIGKILL');
});

/** Why no Redis can be had here (null: one can). Tests report "skipped" with this reason. */
export function redisUnavailableReason(env = process.env): string | null {
  if (env.REDIS_URL) return null;
  const r = spawnSync('redis-server', ['--version'], { stdio: 'ignore' });
  return r.error || r.status !== 0 ? 'no REDIS_URL given and redis-server is not installed (scripts/setup.sh installs it)' : null;
}

/** Answers PING with PONG? */
export function redisPing(port: number, host = '127.0.0.1', timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, host);
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('error', () => done(false));
    s.once('connect', () => s.write('PING\r\n'));
    s.once('data', (d) => done(d.toString().startsWith('+PONG')));
  });
}

/** bind: addresses a private redis-server listens on (other network namespaces reach it there; its URL names the first). */
export async function testRedis(env = process.env, bind: string[] = []): Promise<TestRedis> {
  if (env.REDIS_URL && !bind.length) return { url: env.REDIS_URL, private: false, stop: async () => {} };
  const reason = redisUnavailableReason({ ...env, REDIS_URL: bind.length ? undefined : env.REDIS_URL });
  if (reason) throw new Error(reason);
  const port = await freePort();
  const proc = spawn('redis-server', ['--port', String(port), '--bind', ...(bind.length ? [...bind, '--protected-mode', 'no'] : ['127.0.0.1']), '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(proc);
  let output = '';
  proc.stdout!.on('data', (d) => (output = (output + d).slice(-2000)));
  proc.stderr!.on('data', (d) => (output = (output + d).slice(-2000)));
  const exited = new Promise<void>((r) => proc.once('exit', () => (live.delete(proc), r())));
  let gone = false;
  void exited.then(() => (gone = true));
  const until = performance.now() + 10_000;
  while (!(await redisPing(port))) {
    if (gone) throw new Error(`redis-server on port ${port} exited before it answered: ${output.trim().slice(-500)}`);
    if (performance.now() > until) {
      proc.kill('SIGKILL');
      throw new Error(`redis-server on port ${port} did not answer PING within 10 s`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  let stopping: Promise<void> | null = null;
  return {
    url: `redis://${bind[0] ?? '127.0.0.1'}:${port}`,
    private: true,
    stop() {
      if (stopping) return stopping;
      stopping = (async () => {
        if (gone) return;
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), 2000);
        await exited;
        clearTimeout(t);
      })();
      return stopping;
    },
  };
}
