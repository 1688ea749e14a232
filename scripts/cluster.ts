// `npm run cluster`: a local 3-node cluster for trying CLUSTER=1 (docs/CLUSTER.md). Uses
// REDIS_URL when given, else starts a private redis-server; nodes on CLUSTER_BASE_PORT+1..3
// (default 8081..8083), ids node1..node3. Ctrl-C stops everything it started.
//   CLUSTER_NODES=3  CLUSTER_BASE_PORT=8080  CLUSTER_REGIONS=eu,eu,us (one per node)

import { spawn, type ChildProcess } from 'node:child_process';
import { testRedis } from '../test/helpers/redis.ts';

const count = Number(process.env.CLUSTER_NODES) || 3;
const base = Number(process.env.CLUSTER_BASE_PORT) || 8080;
const regions = (process.env.CLUSTER_REGIONS ?? '').split(',').map((r) => r.trim());
const redis = await testRedis();
console.log(`Redis: ${redis.url}${redis.private ? ' (private, stopped on exit)' : ''}`);
const nodes: ChildProcess[] = [];
for (let i = 1; i <= count; i++) {
  const port = base + i;
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    stdio: 'inherit',
    env: {
      ...process.env,
      CLUSTER: '1',
      REDIS_URL: redis.url,
      NODE_ID: `node${i}`,
      PORT: String(port),
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      REGION: regions[i - 1] || process.env.REGION || 'default',
      LOG_PRETTY: process.env.LOG_PRETTY ?? '0',
    },
  });
  nodes.push(child);
  console.log(`node${i}: http://127.0.0.1:${port}/`);
}
let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await Promise.all(nodes.map((n) => (n.exitCode !== null ? null : new Promise((r) => (n.once('exit', r), n.kill('SIGTERM'))))));
  await redis.stop();
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
