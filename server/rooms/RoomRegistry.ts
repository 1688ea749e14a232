// The rooms this server hosts. A room is created by its first publisher or subscriber and
// closed once it has been empty for `idleMs`.

import { badRequest, notFound, unavailable } from '../errors.ts';
import { Room, ROOM_NAME, type RoomSettings } from './Room.ts';

export class RoomRegistry {
  private readonly rooms = new Map<string, Room>();
  private readonly creating = new Map<string, Promise<Room>>();
  private readonly idleTimers = new Map<string, NodeJS.Timeout>();
  private closing: Promise<void> | null = null;

  constructor(
    private readonly opts: {
      idleMs: number;
      iceServers?: () => any[];
      maxRooms?: number;
      limits?: { maxParticipants: number; maxSubscribers: number };
    },
  ) {}

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

  /** The room, created (and its mixer started) if it does not exist yet. */
  async getOrCreate(name: string, settings: Partial<RoomSettings> = {}): Promise<Room> {
    RoomRegistry.validateName(name);
    if (this.closing) throw unavailable('the server is shutting down');
    this.cancelIdle(name);
    const existing = this.rooms.get(name);
    if (existing) return existing;
    const pending = this.creating.get(name);
    if (pending) return pending;
    if (this.rooms.size + this.creating.size >= (this.opts.maxRooms ?? Infinity)) {
      throw unavailable(`this server hosts its maximum of ${this.opts.maxRooms} rooms; try again later or another server`, 30);
    }
    const p = (async () => {
      const room = new Room(name, this.opts.iceServers ?? (() => []), settings, undefined, this.opts.limits);
      try {
        await room.start();
      } catch (err) {
        await room.close();
        throw unavailable(`could not start the mixer for room "${name}": ${(err as Error).message}`);
      }
      room.on('empty', () => this.scheduleIdle(name, room));
      this.rooms.set(name, room);
      return room;
    })().finally(() => this.creating.delete(name));
    this.creating.set(name, p);
    return p;
  }

  private scheduleIdle(name: string, room: Room): void {
    this.cancelIdle(name);
    const t = setTimeout(() => {
      this.idleTimers.delete(name);
      if (room.participants.size === 0 && room.subscriptions.size === 0 && this.rooms.get(name) === room) {
        this.rooms.delete(name);
        void room.close();
      }
    }, this.opts.idleMs);
    t.unref();
    this.idleTimers.set(name, t);
  }

  private cancelIdle(name: string): void {
    const t = this.idleTimers.get(name);
    if (t) clearTimeout(t);
    this.idleTimers.delete(name);
  }

  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closing = (async () => {
      for (const t of this.idleTimers.values()) clearTimeout(t);
      this.idleTimers.clear();
      await Promise.allSettled([...this.creating.values()]);
      await Promise.all([...this.rooms.values()].map((r) => r.close()));
      this.rooms.clear();
    })();
    return this.closing;
  }
}
