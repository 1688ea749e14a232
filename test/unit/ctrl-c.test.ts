// Ctrl-C reaches the server's (and the recording worker's) own SIGINT handler, however busy its
// event loop is. The `tsx` command does not guarantee that: it relays a signal to its child and,
// unless the child's preflight answers over IPC within 30 ms, sends it again and then SIGKILLs it,
// so a server busy for 60 ms at that moment died without closing its sessions, mixers or
// recordings (e2e/quickstart, run K3: no line from the server after Ctrl-C, every process gone
// in 1.7 s). `node --import tsx` runs the same TypeScript with no relay between.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';

const pkg = JSON.parse(fs.readFileSync('package.json', 'utf8'));

test("npm start, npm run demo and npm run worker run their entry point under node --import tsx, not the tsx command", () => {
  for (const name of ['start', 'demo', 'worker']) {
    const script: string = pkg.scripts[name];
    // The command after any VAR=value assignments.
    const command = script.split(/\s+/).filter((w) => !/^[A-Z_]+=/.test(w));
    assert.equal(command.slice(0, 3), ['node', '--import', 'tsx'], `${name}: ${script}`);
    assert.match(command[3], /\.ts$/, `${name}: ${script}`);
  }
});

/** Runs `argv` in its own process group with a program whose event loop is busy 200 ms at a time; SIGINT to the group; its output. */
async function interrupt(argv: string[], file: string): Promise<string> {
  const child = spawn(argv[0], [...argv.slice(1), file], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const closed = new Promise((r) => child.once('close', r));
  const deadline = Date.now() + 20_000;
  while (!out.includes('ready') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  await new Promise((r) => setTimeout(r, 300)); // inside a busy stretch or just before one
  process.kill(-child.pid!, 'SIGINT');
  const killer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 10_000);
  await closed;
  clearTimeout(killer);
  return out;
}

test('a busy program started as those scripts start it runs its own SIGINT handler on Ctrl-C', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctrl-c-'));
  const file = path.join(dir, 'busy.ts');
  fs.writeFileSync(
    file,
    [
      "process.on('SIGINT', () => { console.log('handler ran'); setTimeout(() => { console.log('stopped'); process.exit(0); }, 50); });",
      "console.log('ready');",
      'setInterval(() => { const t = Date.now(); while (Date.now() - t < 200) {} }, 10);',
      'const typed: number = 1; void typed; // TypeScript, as the entry points are',
    ].join('\n'),
  );
  try {
    const out = await interrupt([process.execPath, '--import', 'tsx'], file);
    assert.match(out, /handler ran[^]*stopped/, out);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
