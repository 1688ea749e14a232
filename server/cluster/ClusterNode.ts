// This node's part of the cluster, on Redis: its heartbeat (hash mcu:cluster:nodes, one JSON
// record per node, every 2 s), and room ownership (mcu:cluster:room:<name> = owner id, set once
// with SET NX, renewed by the owner each heartbeat, gone ROOM_LEASE_MS after its owner stops).
// Decisions (who is stale, who gets a new room) are pipeline/cluster/placement.ts.

import os from 'node:os';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { chooseOwner, HEARTBEAT_MS, ownerAlive, parseNodeRecord, ROOM_LEASE_MS, type NodeRecord, type NodeState } from '../../pipeline/cluster/placement.ts';
import { RateMeter } from '../../pipeline/cluster/edges.ts';
import { unavailable } from '../../pipeline/errors.ts';
import type { EdgeRelays } from './EdgeRelays.ts';
import type { RoomRegistry } from '../rooms/RoomRegistry.ts';
import { log as rootLog } from '../../workers/log.ts';

const log = rootLog.child({ component: 'cluster' });
const NODES = 'mcu:cluster:nodes';
/** A random secret every node reads: it marks requests forwarded by a node (not by a client). */
const KEY = 'mcu:cluster:key';
const roomKey = (room: string) => `mcu:cluster:room:${room}`;
/** Records this old are removed from the hash by whichever node sees them. */
const FORGET_MS = 60_000;

// Renew (or re-take, when it expired) a room this node hosts; 0 when another node holds it.
const RENEW = `local v = redis.call('GET', KEYS[1])
if v == false or v == ARGV[1] then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
return 0`;
// Delete a key only while it still names this owner (a dead owner's, or our own on release).
const DEL_IF = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([p, new Promise<T>((_, reject) => (t = setTimeout(() => reject(new Error(`Redis did not answer within ${ms} ms`)), ms)))]).finally(() => clearTimeout(t));
}

export interface ClusterOptions {
  redisUrl: string;
  /** NODE_ID, or hostname:port once the port is known. */
  nodeId: () => string;
  /** PUBLIC_URL, or http://127.0.0.1:<port>. */
  url: () => string;
  region: string;
  maxRooms: number;
  rooms: RoomRegistry;
  /** CLUSTER_REDIRECT: answer 307 to the owner instead of proxying. */
  redirect: boolean;
  /** Webinar viewers of other nodes' rooms served here (null: this node is no edge). */
  edges?: EdgeRelays | null;
}

export class ClusterNode {
  private redis: Redis | null = null;
  private timer: NodeJS.Timeout | null = null;
  private state: NodeState = 'serving';
  /** Rooms renewed at the last heartbeat: the ones gone since are released. */
  private hosted = new Set<string>();
  /** One placement at a time per room in this process. */
  private readonly placing = new Map<string, Promise<NodeRecord>>();
  private closing: Promise<void> | null = null;
  private beating: Promise<void> | null = null;
  /** The cluster's forwarding secret (mcu:cluster:key): only nodes with Redis access know it. */
  key = '';
  /** Bytes sent to subscribers of this node's rooms, summed as their tracks come and go. */
  private roomBytes = 0;
  private readonly seenBytes = new WeakMap<object, number>();
  private readonly egress = new RateMeter();

  constructor(readonly opts: ClusterOptions) {}

  get id(): string {
    return this.opts.nodeId();
  }
  get redirect(): boolean {
    return this.opts.redirect;
  }
  get draining(): boolean {
    return this.state === 'draining';
  }

  async start(): Promise<void> {
    this.redis = new Redis(this.opts.redisUrl, { maxRetriesPerRequest: 2, enableOfflineQueue: true, lazyConnect: true });
    let last = '';
    // Once per distinct error (ioredis reconnects on its own, and says so every try).
    this.redis.on('error', (err) => err.message !== last && log.warn({ error: (last = err.message) }, 'cluster Redis error'));
    this.redis.on('ready', () => (last = ''));
    await this.redis.connect();
    await this.readKey();
    await this.heartbeat();
    this.timer = setInterval(() => void this.heartbeat(), HEARTBEAT_MS);
    this.timer.unref();
    log.info({ node: this.id, url: this.opts.url(), region: this.opts.region }, 'cluster node registered');
  }

  /** No new rooms here (the record says draining); rooms already here go on. */
  async drain(): Promise<void> {
    this.state = 'draining';
    await this.beating; // one in flight may carry the old state
    await this.heartbeat();
  }

  private async readKey(): Promise<void> {
    const redis = this.requireRedis();
    await redis.set(KEY, randomBytes(24).toString('base64url'), 'NX');
    this.key = (await redis.get(KEY)) ?? this.key;
  }

  get edges(): EdgeRelays | null {
    return this.opts.edges ?? null;
  }

  /** Every byte sent to subscribers so far (this node's rooms and its edge viewers): monotonic. */
  private bytesSent(): number {
    for (const room of this.opts.rooms.list()) {
      for (const s of room.subscriptions.values()) {
        for (const t of [s.egress.video, s.egress.audio, ...s.egress.slots]) {
          if (!t) continue;
          this.roomBytes += t.bytes - (this.seenBytes.get(t) ?? 0);
          this.seenBytes.set(t, t.bytes);
        }
      }
    }
    return this.roomBytes + (this.edges?.bytesSent() ?? 0);
  }

  record(): NodeRecord {
    const list = this.opts.rooms.list();
    const roomList = list.map((r) => ({ name: r.name, mode: r.settings.mode, participants: r.participants.size, subscriptions: r.subscriptions.size }));
    const edgeViewers = this.edges?.viewers.size ?? 0;
    return {
      id: this.id,
      url: this.opts.url(),
      region: this.opts.region,
      state: this.state,
      updatedAt: Date.now(),
      rooms: list.length,
      publishers: roomList.reduce((s, r) => s + r.participants, 0),
      subscribers: roomList.reduce((s, r) => s + r.subscriptions, 0) + edgeViewers,
      edgeViewers,
      cpu: Math.min(1, os.loadavg()[0] / Math.max(1, os.cpus().length)),
      egressBps: Math.round(this.egress.bps),
      maxRooms: this.opts.maxRooms,
      roomList,
    };
  }

  private heartbeat(): Promise<void> {
    if (this.beating || !this.redis) return this.beating ?? Promise.resolve();
    const redis = this.redis;
    this.beating = (async () => {
      this.egress.sample(this.bytesSent(), performance.now());
      const rec = this.record();
      const now = new Set(rec.roomList.map((r) => r.name));
      const m = redis.multi().hset(NODES, rec.id, JSON.stringify(rec));
      for (const name of now) m.eval(RENEW, 1, roomKey(name), rec.id, ROOM_LEASE_MS);
      for (const name of this.hosted) if (!now.has(name)) m.eval(DEL_IF, 1, roomKey(name), rec.id);
      const res = (await withTimeout(m.exec(), HEARTBEAT_MS * 2)) ?? [];
      [...now].forEach((name, i) => {
        if (res[i + 1]?.[1] === 0) log.error({ room: name, node: rec.id }, 'room hosted here is owned by another node in Redis (this node was taken for dead?)');
      });
      this.hosted = now;
      await this.readKey(); // the same for all nodes, unless Redis lost it
      // Forget long-dead nodes (their rooms expired with their leases).
      for (const n of await withTimeout(this.nodes(), HEARTBEAT_MS)) if (Date.now() - n.updatedAt > FORGET_MS) await redis.hdel(NODES, n.id);
    })()
      .catch((err) => log.warn({ error: (err as Error).message }, 'cluster heartbeat failed'))
      .finally(() => (this.beating = null));
    return this.beating;
  }

  async nodes(): Promise<NodeRecord[]> {
    const all = await this.requireRedis().hgetall(NODES);
    return Object.values(all).map(parseNodeRecord).filter((n): n is NodeRecord => n !== null);
  }

  /** The live owner of a room, or null (nobody, or a dead node whose claim is then cleared). */
  async ownerOf(room: string): Promise<NodeRecord | null> {
    const redis = this.requireRedis();
    const [id, nodes] = await Promise.all([redis.get(roomKey(room)), this.nodes()]);
    if (!id) return null;
    const owner = nodes.find((n) => n.id === id);
    if (ownerAlive(owner, Date.now())) return owner;
    await redis.eval(DEL_IF, 1, roomKey(room), id);
    log.warn({ room, owner: id }, 'room orphaned: its owner is stale; it is placed anew on its next use');
    return null;
  }

  /** The room's owner, placing it (atomically) if it has none: for requests that create rooms. */
  place(room: string, region: string | null): Promise<NodeRecord> {
    const pending = this.placing.get(room);
    if (pending) return pending;
    const p = this.placeOnce(room, region).finally(() => this.placing.delete(room));
    this.placing.set(room, p);
    return p;
  }

  private async placeOnce(room: string, region: string | null): Promise<NodeRecord> {
    const redis = this.requireRedis();
    for (let attempt = 0; attempt < 3; attempt++) {
      const owner = await this.ownerOf(room);
      if (owner) return owner;
      const nodes = await this.nodes();
      // This node's view of itself is the freshest there is.
      const self = this.record();
      const view = [...nodes.filter((n) => n.id !== self.id), self];
      const chosen = chooseOwner(view, { now: Date.now(), region: region ?? this.opts.region });
      if (!chosen) throw unavailable('no node of the cluster takes new rooms now (all draining, full or stale)', 5);
      const won = await redis.set(roomKey(room), chosen.id, 'PX', ROOM_LEASE_MS, 'NX');
      if (won === 'OK') {
        log.info({ room, owner: chosen.id, by: self.id }, 'room placed');
        return chosen;
      }
      // Another node placed it first: its choice stands (read again above).
    }
    throw unavailable(`room "${room}" could not be placed (its owner keeps changing); try again`, 1);
  }

  private requireRedis(): Redis {
    if (!this.redis) throw unavailable('the cluster is not connected to Redis yet', 1);
    return this.redis;
  }

  /** Stops the heartbeat, releases this node's rooms and record. Idempotent. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closing = (async () => {
      if (this.timer) clearInterval(this.timer);
      const redis = this.redis;
      if (!redis) return;
      try {
        // Redis may be gone: the release is best effort, and never holds the shutdown > 2 s.
        await withTimeout(this.beating ?? Promise.resolve(), 2000);
        const m = redis.multi().hdel(NODES, this.id);
        for (const name of new Set([...this.hosted, ...this.opts.rooms.list().map((r) => r.name)])) m.eval(DEL_IF, 1, roomKey(name), this.id);
        await withTimeout(m.exec(), 2000);
      } catch (err) {
        log.warn({ error: (err as Error).message }, 'cluster: could not release this node in Redis');
      }
      redis.disconnect();
      await this.edges?.close();
    })();
    return this.closing;
  }
}

