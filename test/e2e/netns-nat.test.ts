// ICE behind a real 1:1 NAT. A publisher in its own network namespace reaches the server only
// through a public address that nftables translates (DNAT in the namespace's output path) to
// the server's private one; packets to the server's private address that were not translated
// are dropped, so the direct path ICE would otherwise find is closed. With ICE_ANNOUNCED_IP set
// to the public address media flows; without it (the control) ICE cannot connect.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startServer, type RunningServer } from '../../server/main.ts';
import { waitFor } from '../helpers/peers.ts';
import { createTestHost, netnsAvailable, type TestHost } from '../helpers/netns.ts';
import { skip } from '../helpers/skip.ts';

const PUBLIC_IP = '10.231.77.1';

function skipReason(): string | null {
  if (!netnsAvailable()) return 'needs root and ip netns';
  if (spawnSync('nft', ['--version'], { stdio: 'ignore' }).status !== 0) return 'nft (nftables) is not installed';
  return null;
}

/** The namespace's 1:1 NAT: PUBLIC_IP ⇄ the server's address on the veth, nothing else. */
function natInFront(host: TestHost): void {
  const inNs = (...argv: string[]) => {
    const [cmd, ...args] = host.exec(argv);
    const r = spawnSync(cmd, args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr}`);
  };
  inNs('ip', 'route', 'add', `${PUBLIC_IP}/32`, 'via', host.hostAddress);
  const rules = [
    'table ip mcunat {',
    '  chain out_nat { type nat hook output priority -100; policy accept;',
    `    ip daddr ${PUBLIC_IP} dnat to ${host.hostAddress}`,
    '  }',
    '  chain out_filter { type filter hook output priority 100; policy accept;',
    `    ip daddr ${host.hostAddress} ct status & dnat != dnat drop`,
    '  }',
    '}',
  ].join('\n');
  const [cmd, ...args] = host.exec(['nft', '-f', '-']);
  const r = spawnSync(cmd, args, { input: rules, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`nft: ${r.stderr}`);
}

async function publishFromNs(host: TestHost, url: string): Promise<{ id: string; child: ChildProcess }> {
  const [cmd, ...args] = host.exec([process.execPath, '--import', 'tsx', 'test/helpers/publish-cli.ts', url]);
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const id = await waitFor(() => /participant (\S+)/.exec(out)?.[1], 20_000, `the namespaced publisher (${out})`).catch((err) => {
    child.kill('SIGKILL');
    throw err;
  });
  return { id, child };
}

async function stop(child: ChildProcess | null): Promise<void> {
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(t);
}

async function framesIn(server: RunningServer, room: string, id: string): Promise<number> {
  const info = await (await fetch(`${server.url}/rooms/${room}`, { headers: { Accept: 'application/json' } })).json();
  return info.participants?.find((p: any) => p.id === id)?.framesIn ?? 0;
}

test('behind a 1:1 NAT: media flows with ICE_ANNOUNCED_IP, and not without it', async () => {
  const reason = skipReason();
  if (reason) return skip(reason);
  const host = createTestHost(7);
  let announced: RunningServer | null = null;
  let plain: RunningServer | null = null;
  const children: ChildProcess[] = [];
  try {
    natInFront(host);
    announced = await startServer({ port: 0, host: '0.0.0.0', demo: false, roomIdleMs: 500, ice: { announcedIp: PUBLIC_IP, portRange: { min: 27_300, max: 27_319 } } });
    plain = await startServer({ port: 0, host: '0.0.0.0', demo: false, roomIdleMs: 500 });

    const a = await publishFromNs(host, `http://${PUBLIC_IP}:${announced.port}/rooms/nat/whip?name=behind-nat`);
    children.push(a.child);
    const c = await publishFromNs(host, `http://${PUBLIC_IP}:${plain.port}/rooms/nat/whip?name=control`);
    children.push(c.child);

    await waitFor(async () => (await framesIn(announced!, 'nat', a.id)) > 10, 20_000, 'frames through the NAT with ICE_ANNOUNCED_IP');
    // The control had as long, and a few seconds more, to connect.
    await new Promise((r) => setTimeout(r, 4000));
    const control = await framesIn(plain, 'nat', c.id);
    assert.is(control, 0, 'without ICE_ANNOUNCED_IP the publisher behind the NAT cannot connect (the test can fail)');
  } finally {
    await Promise.all(children.map(stop));
    await announced?.close();
    await plain?.close();
    host.cleanup();
  }
});

test.run();
