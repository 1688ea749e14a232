// Which participant is in which of the mixer's slots, and where each slot's picture is placed.
// A participant keeps its slot number while it stays (its subscribers' mix-minus is that slot's).
// A full table grows to the next capacity tier (the process must be replaced by a larger one);
// trailing slots left empty let it shrink back, never below the capacity it started with.

import { capacityFor } from './graph.ts';
import type { SlotPlacement } from './canvas.ts';
import type { Rect } from '../layout/geometry.ts';

const hidden = (): SlotPlacement => ({ visible: false, rect: { x: 0, y: 0, width: 16, height: 16 } });

export class SlotTable<S extends { participantId: string }> {
  readonly slots: Array<S | null>;
  placements: SlotPlacement[];
  /** Changes whenever the placements do (the canvas's draws are recomputed then). */
  version = 0;

  constructor(private readonly minCapacity: number) {
    this.slots = new Array(minCapacity).fill(null);
    this.placements = this.slots.map(hidden);
  }

  get capacity(): number {
    return this.slots.length;
  }

  slotOf(participantId: string): number {
    return this.slots.findIndex((s) => s?.participantId === participantId);
  }

  /** The participant's slot (made by `make` in the first free one); `grew`: the table outgrew its capacity. */
  add(participantId: string, make: () => S): { slot: number; grew: boolean } {
    const existing = this.slotOf(participantId);
    if (existing >= 0) return { slot: existing, grew: false };
    let slot = this.slots.indexOf(null);
    const grew = slot < 0;
    if (grew) {
      const capacity = capacityFor(this.slots.length + 1);
      if (capacity <= this.slots.length) throw new Error(`the room is full (${this.slots.length} participants)`);
      slot = this.slots.length;
      while (this.slots.length < capacity) {
        this.slots.push(null);
        this.placements.push(hidden());
      }
      this.version++;
    }
    this.slots[slot] = make();
    return { slot, grew };
  }

  remove(participantId: string): void {
    const slot = this.slotOf(participantId);
    if (slot >= 0) this.slots[slot] = null;
  }

  /** The capacity the participants need: only trailing empty slots can go. */
  shrinkTarget(): number {
    let highest = this.slots.length - 1;
    while (highest >= 0 && !this.slots[highest]) highest--;
    return Math.max(this.minCapacity, capacityFor(highest + 1));
  }

  shrinkTo(capacity: number): void {
    this.slots.length = capacity;
    this.placements.length = capacity;
    this.version++;
  }

  /**
   * Places the slots from the layout's tiles (participant id → rect and crop; absent: hidden, at
   * its last position). True when any placement changed.
   */
  place(tiles: ReadonlyMap<string, { rect: Rect; crop?: Rect | null }>): boolean {
    const next: SlotPlacement[] = this.slots.map((s, k) => {
      const t = s ? tiles.get(s.participantId) : undefined;
      return t ? { visible: true, rect: t.rect, crop: t.crop ?? undefined } : { visible: false, rect: this.placements[k].rect };
    });
    if (JSON.stringify(next) === JSON.stringify(this.placements)) return false;
    this.placements = next;
    this.version++;
    return true;
  }
}
