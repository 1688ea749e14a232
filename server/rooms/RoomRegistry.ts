// The rooms this server hosts. A room is created by its first publisher or subscriber (or a
// PUT with settings) and closed once it has been empty for `idleMs` — however it came to be
// empty: its last member left, or the request that created it failed.

import { badRequest, notFound, unavailable } from '../../pipeline/errors.ts';
import { Room, ROOM_NAME, type RoomSettingsPatch } from './Room.ts';
import { log as rootLog } from '../../workers/log.ts';
import { Admission } from './Admission.ts';
import type { IceNetwork } from '../rtc/network.ts';

const log = rootLog.child({ component: 'rooms' });

export class RoomRegistry {
  private readonly rooms = new Map<string, Room>();
  private readonly creating = new Map<string, Promise<Room>>();
  /** When each empty room became empty (performance.now()). */
  private readonly emptySince = new Map<Room, number>();
  private readonly sweeper: NodeJS.Timeout;
  private closing: Promise<void> | null = null;
  /** Rooms being closed (idle, or released): close() waits for them. */
  private readonly closingRooms = new Set<Promise<void>>();
  /** Refuses new rooms while the server is overloaded (env ADMISSION_*). */
  readonly admission: Admission;

  constructor(
    private readonly opts: {
      idleMs: number;
      iceServers?: () => any[];
      /** ICE_ANNOUNCED_IP and the UDP port range of every peer connection. */
      network?: IceNetwork;
      maxRooms?: number;
      limits?: { maxParticipants: number; maxSubscribers: number };
    },
  ) {
    this.sweeper = setInterval(() => this.sweep(), Math.max(50, Math.min(1000, opts.idleMs / 4)));
    this.sweeper.unref();
    this.admission = new Admission(() => this.rooms.values());
  }

  static validateName(name: string): string {
    if (!ROOM_NAME.test(name)) {
      throw badRequest('room names are 1 to 64 characters of A-Z, a-z, 0-9, "_" and "-"');
    }
    return name;
  }

  get(name: string): Room | undefined {
    return this.rooms.get(name);
  }

  require(name: string): Room {
    RoomRegistry.validateName(name);
    const room = this.rooms.get(name);
    if (!room) throw notFound(`room "${name}" does not exist`);
    return room;
  }

  list(): Room[] {
    return [...this.rooms.values()];
  }

  get size(): number {
    return this.rooms.size;
  }

  /**
   * The room, created (and its mixer started) if it does not exist yet. `forMember`: a publisher
   * or subscriber is joining it, so it encodes its always-on rungs at once (Room.expectMember).
   */
  async getOrCreate(name: string, settings: RoomSettingsPatch = {}, { forMember = false } = {}): Promise<Room> {
    RoomRegistry.validateName(name);
    if (this.closing) throw unavailable('the server is shutting down');
    const existing = this.rooms.get(name);
    if (existing) {
      // A request is about to use it: restart its idle clock rather than let it close mid-join.
      if (this.emptySince.has(existing)) this.emptySince.set(existing, performance.now());
      if (forMember) existing.expectMember();
      return existing;
    }
    const pending = this.creating.get(name);
    if (pending) return forMember ? pending.then((room) => (room.expectMember(), room)) : pending;
    if (this.rooms.size + this.creating.size >= (this.opts.maxRooms ?? Infinity)) {
      throw unavailable(`this server hosts its maximum of ${this.opts.maxRooms} rooms; try again later or another server`, 30);
    }
    const refusal = this.admission.refusal('room');
    if (refusal) {
      log.warn({ room: name, refusal }, 'new room refused: overloaded');
      throw unavailable(`${refusal}: no new rooms for now; try again later or another server`, 10);
    }
    this.admission.admitted();
    const p = (async () => {
      const room = new Room(name, { iceServers: this.opts.iceServers, settings, limits: this.opts.limits, network: this.opts.network });
      try {
        if (forMember) room.expectMember();
        await room.start();
      } catch (err) {
        await room.close();
        log.error({ room: name, err }, 'room could not start');
        throw unavailable(`could not start the mixer for room "${name}": ${(err as Error).message}`);
      }
      this.rooms.set(name, room);
      this.emptySince.set(room, performance.now());
      log.info({ room: name, capacity: room.mixer.stats().capacity }, 'room created: mixer started');
      return room;
    })().finally(() => this.creating.delete(name));
    this.creating.set(name, p);
    return p;
  }

  /**
   * Throws 503 + Retry-After while a new publisher would push this server's rooms under their
   * frame rate (called before any WebRTC work; a new room is checked by getOrCreate).
   */
  admitPublisher(room: string): void {
    const refusal = this.admission.refusal('publisher');
    if (!refusal) return;
    log.warn({ room, refusal }, 'new publisher refused: overloaded');
    throw unavailable(`${refusal}: no new publishers for now; try again later`, 5);
  }

  private isEmpty(room: Room): boolean {
    return room.participants.size === 0 && room.subscriptions.size === 0 && room.joining === 0;
  }

  /**
   * Closes a room at once if it is unused: for a request that created the room and then
   * failed (a bad offer, a full room), so that it leaves no room and no mixer behind.
   */
  async releaseIfUnused(room: Room, why: string): Promise<void> {
    if (this.rooms.get(room.name) !== room || !room.unused) return;
    this.rooms.delete(room.name);
    this.emptySince.delete(room);
    log.info({ room: room.name, why }, 'room closed: the request that created it failed');
    await this.track(room.close());
  }

  private track(p: Promise<void>): Promise<void> {
    const t = p.catch((err) => log.error({ err }, 'closing a room failed'));
    this.closingRooms.add(t);
    void t.finally(() => this.closingRooms.delete(t));
    return t;
  }

  /** Closes rooms that have been empty for idleMs. */
  private sweep(): void {
    const now = performance.now();
    for (const [name, room] of this.rooms) {
      if (!this.isEmpty(room)) {
        this.emptySince.delete(room);
        continue;
      }
      const since = this.emptySince.get(room);
      if (since === undefined) this.emptySince.set(room, now);
      else if (now - since >= this.opts.idleMs) {
        this.rooms.delete(name);
        this.emptySince.delete(room);
        log.info({ room: name, idleMs: this.opts.idleMs }, 'room closed: empty');
        void this.track(room.close());
      }
    }
  }

  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closing = (async () => {
      clearInterval(this.sweeper);
      this.admission.close();
      await Promise.allSettled([...this.creating.values()]);
      for (const name of this.rooms.keys()) log.info({ room: name }, 'room closed: server shutting down');
      await Promise.all([...this.rooms.values()].map((r) => r.close()));
      await Promise.all([...this.closingRooms]);
      this.rooms.clear();
      this.emptySince.clear();
    })();
    return this.closing;
  }
}
