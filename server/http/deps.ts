// What the HTTP layer is given by the composition root (server/main.ts).

import type { RoomRegistry } from '../rooms/RoomRegistry.ts';
import type { Monitor } from '../stats/Monitor.ts';
import type { Recordings } from '../recordings/Recordings.ts';
import type { Logger } from '../../workers/log.ts';
import type { TokenService } from '../auth/TokenService.ts';
import type { AllowRule } from '../../pipeline/net/pushTargets.ts';
import type { IceNetwork } from '../rtc/network.ts';
import type { ClusterNode } from '../cluster/ClusterNode.ts';

export interface AppDeps {
  rooms: RoomRegistry;
  monitor: Monitor;
  staticDir?: string;
  /** Verifies and mints room tokens; null = open mode. */
  tokens?: TokenService | null;
  /** Static bearer accepted by /metrics only (METRICS_TOKEN). */
  metricsToken?: string | null;
  /** STREAM_TARGETS_ALLOW; empty = any public address. */
  streamTargetsAllow?: readonly AllowRule[];
  turn?: { urls: string[]; secret: string; ttlSec: number } | null;
  /** Session creations per client address (token bucket). */
  sessionRate?: { perSec: number; burst: number };
  /** HLS stops after this long without a request (default 30 s). */
  hlsIdleMs?: number;
  /** The recording API (BullMQ on Redis); absent = recordings answer 503. */
  recordings?: Recordings | null;
  /** Readiness checks for /readyz. */
  ready?: () => Promise<{ ready: boolean; checks: Record<string, unknown> }>;
  /** Origins allowed by CORS ('*' = any; tokens are what protect the API). */
  corsOrigins?: '*' | readonly string[];
  /** ICE_ANNOUNCED_IP and the UDP port range, for ICE restarts' fragments. */
  iceNetwork?: IceNetwork;
  /** CLUSTER=1: rooms placed on Redis, requests for other nodes' rooms forwarded (docs/CLUSTER.md). */
  cluster?: ClusterNode | null;
  log?: Logger;
}
