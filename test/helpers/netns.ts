// Test hosts in Linux network namespaces: a veth pair, addresses, and tbf rate limits
// (netem is not available on this kernel). Everything created here is removed by cleanup().

import { execFileSync } from 'node:child_process';

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
