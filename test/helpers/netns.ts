// Test hosts in Linux network namespaces: a veth pair, addresses, and tbf rate limits
// (netem is not available on this kernel). Everything created here is removed by cleanup().

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

const run = (...args: string[]) => execFileSync(args[0], args.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] }).toString();

export interface TestHost {
  ns: string;
  /** Address of the host side (where the server listens). */
  hostAddress: string;
  /** Address inside the namespace. */
  nsAddress: string;
  /** Rate-limits what leaves the namespace (toward the server). */
  limitEgress(rateKbit: number): void;
  /** Rate-limits what enters the namespace (from the server). */
  limitIngress(rateKbit: number): void;
  exec(argv: string[]): string[];
  cleanup(): void;
}

export function netnsAvailable(): boolean {
  try {
    run('ip', 'netns', 'list');
    return process.getuid?.() === 0;
  } catch {
    return false;
  }
}

export function createTestHost(index: number): TestHost {
  const ns = `mcu-t${index}`;
  const h = `mcuh${index}`;
  const n = `mcun${index}`;
  const hostAddress = `10.231.${index}.1`;
  const nsAddress = `10.231.${index}.2`;
  const cleanup = () => {
    try {
      run('ip', 'link', 'del', h);
    } catch {
      /* gone */
    }
    try {
      run('ip', 'netns', 'del', ns);
    } catch {
      /* gone */
    }
  };
  cleanup();
  run('ip', 'netns', 'add', ns);
  run('ip', 'link', 'add', h, 'type', 'veth', 'peer', 'name', n);
  run('ip', 'link', 'set', n, 'netns', ns);
  run('ip', 'addr', 'add', `${hostAddress}/30`, 'dev', h);
  run('ip', 'link', 'set', h, 'up');
  run('ip', 'netns', 'exec', ns, 'ip', 'addr', 'add', `${nsAddress}/30`, 'dev', n);
  run('ip', 'netns', 'exec', ns, 'ip', 'link', 'set', n, 'up');
  run('ip', 'netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up');
  const tbf = (dev: string, inNs: boolean, rateKbit: number) => {
    const prefix = inNs ? ['ip', 'netns', 'exec', ns] : [];
    const burst = Math.max(4, Math.round(rateKbit / 8 / 10)); // ~100 ms worth, in kB
    run(...prefix, 'tc', 'qdisc', 'replace', 'dev', dev, 'root', 'tbf', 'rate', `${rateKbit}kbit`, 'burst', `${burst}kb`, 'latency', '50ms');
  };
  return {
    ns,
    hostAddress,
    nsAddress,
    limitEgress: (r) => tbf(n, true, r),
    limitIngress: (r) => tbf(h, false, r),
    exec: (argv) => ['ip', 'netns', 'exec', ns, ...argv],
    cleanup,
  };
}

/** Hosts on one Ethernet segment: a bridge in the root namespace, one namespace per host. */
export interface BridgedNet {
  /** The root namespace's address on the bridge (the test process, Redis). */
  hostAddress: string;
  hosts: Array<{ ns: string; address: string; exec(argv: string[]): string[] }>;
  cleanup(): void;
}

/**
 * `count` namespaces on bridge `mcubr<index>` (10.232.<index>.0/24: the bridge .1, host i
 * .(10+i)). Bridged, so no IP forwarding is needed: each host reaches every other directly, as
 * machines on one LAN do. Everything created here is removed by cleanup().
 */
export function createBridgedNet(index: number, count: number): BridgedNet {
  const bridge = `mcubr${index}`;
  const names = Array.from({ length: count }, (_, i) => ({ ns: `mcu-b${index}-${i + 1}`, h: `mcubh${index}x${i + 1}`, n: `mcubn${index}x${i + 1}`, address: `10.232.${index}.${11 + i}` }));
  const quiet = (...args: string[]) => {
    try {
      run(...args);
    } catch {
      /* gone */
    }
  };
  const cleanup = () => {
    for (const x of names) {
      quiet('ip', 'link', 'del', x.h);
      quiet('ip', 'netns', 'del', x.ns);
    }
    quiet('ip', 'link', 'del', bridge);
  };
  cleanup();
  const hostAddress = `10.232.${index}.1`;
  run('ip', 'link', 'add', bridge, 'type', 'bridge');
  run('ip', 'addr', 'add', `${hostAddress}/24`, 'dev', bridge);
  run('ip', 'link', 'set', bridge, 'up');
  for (const x of names) {
    run('ip', 'netns', 'add', x.ns);
    run('ip', 'link', 'add', x.h, 'type', 'veth', 'peer', 'name', x.n);
    run('ip', 'link', 'set', x.h, 'master', bridge);
    run('ip', 'link', 'set', x.h, 'up');
    run('ip', 'link', 'set', x.n, 'netns', x.ns);
    run('ip', 'netns', 'exec', x.ns, 'ip', 'addr', 'add', `${x.address}/24`, 'dev', x.n);
    run('ip', 'netns', 'exec', x.ns, 'ip', 'link', 'set', x.n, 'up');
    run('ip', 'netns', 'exec', x.ns, 'ip', 'link', 'set', 'lo', 'up');
  }
  return { hostAddress, hosts: names.map((x) => ({ ns: x.ns, address: x.address, exec: (argv: string[]) => ['ip', 'netns', 'exec', x.ns, ...argv] })), cleanup };
}

/** The kernel's UDP counters (/proc/net/snmp): datagrams dropped because a socket's buffer was full. */
export function udpDrops(): { rcvbuf: number; sndbuf: number } {
  const lines = fs.readFileSync('/proc/net/snmp', 'utf8').split('\n').filter((l) => l.startsWith('Udp:'));
  const [names, values] = lines.map((l) => l.split(/\s+/).slice(1));
  const get = (n: string) => Number(values?.[names?.indexOf(n) ?? -1] ?? NaN);
  return { rcvbuf: get('RcvbufErrors'), sndbuf: get('SndbufErrors') };
}

/** What the UDP drop counters did since `before`, as a test prints it. */
export function udpDropsSince(before: { rcvbuf: number; sndbuf: number }): string {
  const now = udpDrops();
  return `UDP drops on this host meanwhile: ${now.rcvbuf - before.rcvbuf} at full receive buffers, ${now.sndbuf - before.sndbuf} at full send buffers (the tbf link's backlog)`;
}
