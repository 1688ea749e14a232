// Cluster decisions without I/O: which node records are fresh, how loaded a node is, which node
// a new room goes to (two random choices within the requester's region), and how a request for
// a room is answered (here, forwarded, or redirected). server/cluster/ does the Redis and HTTP.

export type NodeState = 'serving' | 'draining';

/** What every node writes to Redis each heartbeat (hash mcu:cluster:nodes, field = id). */
export interface NodeRecord {
  id: string;
  /** Where other nodes and clients reach it (PUBLIC_URL), without a trailing slash. */
  url: string;
  region: string;
  state: NodeState;
  /** Wall-clock ms of this record (the writer's Date.now()). */
  updatedAt: number;
  rooms: number;
  publishers: number;
  subscribers: number;
  /** Machine CPU in use, 0..1 (1-minute load average over cores, capped). */
  cpu: number;
  /** Bits per second sent to subscribers (its rooms' and its edge viewers'), over the last heartbeat. */
  egressBps: number;
  /** Viewers of other nodes' rooms served here (webinar edges; counted in `subscribers` too). */
  edgeViewers: number;
  maxRooms: number;
  /** Rooms hosted, with their members (GET /rooms on any node lists them) and mode (edges serve webinars). */
  roomList: Array<{ name: string; mode?: string; participants: number; subscriptions: number }>;
}

/** A record this old (ms) is stale: its node is not chosen and its rooms are orphaned. */
export const NODE_EXPIRY_MS = 5000;
export const HEARTBEAT_MS = 2000;
/** A room's owner key lives this long without renewal (the owner renews every heartbeat). */
export const ROOM_LEASE_MS = 10_000;

export function isStale(node: Pick<NodeRecord, 'updatedAt'>, now: number, expiryMs = NODE_EXPIRY_MS): boolean {
  return !(now - node.updatedAt <= expiryMs && now - node.updatedAt >= -expiryMs);
}

/** Takes new rooms: fresh, serving and below its room limit. */
export function isEligible(node: NodeRecord, now: number, expiryMs = NODE_EXPIRY_MS): boolean {
  return !isStale(node, now, expiryMs) && node.state === 'serving' && node.rooms < node.maxRooms;
}

/**
 * One number, lower is better: the scarcest of CPU and room slots dominates, media sessions
 * break ties between equally busy machines (a publisher costs a decode, a subscriber a send).
 */
export function loadScore(n: Pick<NodeRecord, 'cpu' | 'rooms' | 'maxRooms' | 'publishers' | 'subscribers'>): number {
  const cpu = Math.min(1, Math.max(0, n.cpu));
  const slots = n.maxRooms > 0 ? n.rooms / n.maxRooms : 1;
  return Math.max(cpu, slots) * 1000 + n.rooms * 10 + n.publishers * 2 + n.subscribers * 0.05;
}

/**
 * The owner of a new room: among eligible nodes of `region` (all eligible nodes when the region
 * has none), two picked at random, the less loaded (ties: the lower id, so racing callers with
 * the same view agree more often; the atomic claim in Redis settles the rest). null: none.
 */
export function chooseOwner(nodes: readonly NodeRecord[], opts: { now: number; region?: string | null; random?: () => number; expiryMs?: number }): NodeRecord | null {
  const random = opts.random ?? Math.random;
  const eligible = nodes.filter((n) => isEligible(n, opts.now, opts.expiryMs));
  const local = opts.region ? eligible.filter((n) => n.region === opts.region) : [];
  const pool = local.length ? local : eligible;
  if (pool.length === 0) return null;
  if (pool.length === 1) return pool[0];
  const i = Math.floor(random() * pool.length) % pool.length;
  let j = Math.floor(random() * (pool.length - 1)) % (pool.length - 1);
  if (j >= i) j++;
  const [a, b] = [pool[i], pool[j]];
  const d = loadScore(a) - loadScore(b);
  if (d !== 0) return d < 0 ? a : b;
  return a.id < b.id ? a : b;
}

/** Whether the recorded owner still holds its room: its record exists and is fresh. */
export function ownerAlive(owner: NodeRecord | undefined, now: number, expiryMs = NODE_EXPIRY_MS): owner is NodeRecord {
  return !!owner && !isStale(owner, now, expiryMs);
}

export type Routing = { kind: 'local' } | { kind: 'forward'; to: NodeRecord } | { kind: 'redirect'; to: NodeRecord };

/**
 * How a node answers a request for a room owned by `owner`: a request already forwarded once is
 * served here whatever this node believes (no loops), as is one for a room nobody owns.
 */
export function route(selfId: string, owner: NodeRecord | null, o: { forwarded: boolean; redirect: boolean }): Routing {
  if (o.forwarded || !owner || owner.id === selfId) return { kind: 'local' };
  return o.redirect ? { kind: 'redirect', to: owner } : { kind: 'forward', to: owner };
}

/** A Location from the owner made absolute on the owner (relative ones resolve against it). */
export function absoluteLocation(ownerUrl: string, location: string): string {
  return new URL(location, `${ownerUrl}/`).toString();
}

/** The cluster-wide room list: every fresh node's rooms, each once, with its node. */
export function clusterRooms(nodes: readonly NodeRecord[], now: number, expiryMs = NODE_EXPIRY_MS): Array<{ name: string; participants: number; subscriptions: number; node: string }> {
  const seen = new Map<string, { name: string; participants: number; subscriptions: number; node: string; at: number }>();
  for (const n of nodes) {
    if (isStale(n, now, expiryMs)) continue;
    for (const r of n.roomList) {
      const prev = seen.get(r.name);
      // Two fresh nodes both listing a room (a hand-over in progress): the newer record wins.
      if (!prev || prev.at < n.updatedAt) seen.set(r.name, { name: r.name, participants: r.participants, subscriptions: r.subscriptions, node: n.id, at: n.updatedAt });
    }
  }
  return [...seen.values()].sort((a, b) => a.name.localeCompare(b.name)).map(({ at: _at, ...r }) => r);
}

/** A NodeRecord from Redis, or null when it is not one (another version, corruption). */
export function parseNodeRecord(raw: string | null | undefined): NodeRecord | null {
  if (!raw) return null;
  try {
    const v = JSON.parse(raw);
    if (typeof v?.id !== 'string' || typeof v.url !== 'string' || typeof v.updatedAt !== 'number') return null;
    return {
      id: v.id,
      url: v.url,
      region: typeof v.region === 'string' ? v.region : '',
      state: v.state === 'draining' ? 'draining' : 'serving',
      updatedAt: v.updatedAt,
      rooms: Number(v.rooms) || 0,
      publishers: Number(v.publishers) || 0,
      subscribers: Number(v.subscribers) || 0,
      cpu: Number(v.cpu) || 0,
      egressBps: Number(v.egressBps) || 0,
      edgeViewers: Number(v.edgeViewers) || 0,
      maxRooms: Number(v.maxRooms) || 0,
      roomList: Array.isArray(v.roomList) ? v.roomList.filter((r: any) => typeof r?.name === 'string') : [],
    };
  } catch {
    return null;
  }
}
