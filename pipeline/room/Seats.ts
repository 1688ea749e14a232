// Who may still join a room: its publisher and subscriber limits, counting the WHIP/WHEP
// negotiations in flight, so that concurrent offers to a nearly full room are refused before
// negotiating (and a room is not idle while someone is joining it).

import { roomFull } from '../errors.ts';

export interface SeatLimits {
  maxParticipants: number;
  maxSubscribers: number;
}

export class Seats {
  /** WHIP/WHEP negotiations in flight. */
  joining = 0;
  private readonly inFlight = { publishers: 0, subscribers: 0 };

  constructor(private readonly room: string, private readonly limits: SeatLimits) {}

  /** Throws room_full when every publisher slot is taken (`present` publishers, and those joining). */
  checkPublisher(present: number): void {
    if (present + this.inFlight.publishers >= this.limits.maxParticipants) {
      throw roomFull(`room "${this.room}" already has its maximum of ${this.limits.maxParticipants} participants (counting those joining)`);
    }
  }

  checkSubscriber(present: number): void {
    if (present + this.inFlight.subscribers >= this.limits.maxSubscribers) {
      throw roomFull(`room "${this.room}" already has its maximum of ${this.limits.maxSubscribers} subscribers (counting those joining)`);
    }
  }

  /** Runs a publisher's negotiation, counted as joining while it runs. */
  publisher<T>(join: () => Promise<T>): Promise<T> {
    return this.counted('publishers', join);
  }

  subscriber<T>(join: () => Promise<T>): Promise<T> {
    return this.counted('subscribers', join);
  }

  private async counted<T>(kind: keyof Seats['inFlight'], join: () => Promise<T>): Promise<T> {
    this.joining++;
    this.inFlight[kind]++;
    try {
      return await join();
    } finally {
      this.joining--;
      this.inFlight[kind]--;
    }
  }
}
