// Who gets which part of the room's mix: the routing table (MixRouter: each packet to the
// subscriptions and taps taking it), the rungs the mixer encodes and each subscription's own
// (RungSelection, adapted to its feedback), and taps (HLS, RTMP), which count as watchers of
// their rungs. The two are wired to each other here: a rung switch on a keyframe changes the
// rungs to encode, an adapted level changes the routes.

import type { AudioStreamKey, MixStreamKey } from '../../pipeline/mixer/streamKey.ts';
import type { MixTap } from '../broadcast/MixSource.ts';
import { MixRouter } from './MixRouter.ts';
import { RungSelection } from './RungSelection.ts';
import type { RoomEvent, Subscription } from './types.ts';

/** What delivery asks of the room's mixer (RoomMixer). */
export interface DeliveryMixer {
  /** The mixer slot of a publisher (-1: none). */
  slotOf(participantId: string): number;
  setRungs(ids: Set<string>): void;
  /** The rungs that get a keyframe every interval unasked (RoomMixer.setPeriodicKeyframes). */
  setPeriodicKeyframes(ids: Set<string>): void;
  requestKeyframe(rung: string): void;
}

export interface DeliveryHooks {
  subscriptions(): Iterable<Subscription>;
  /** Rungs encoded whether watched or not (see RungSelection). */
  alwaysOnRungs(): Iterable<string>;
  publish(e: Omit<RoomEvent, 'at'>): void;
}

export class MixDelivery {
  private readonly router: MixRouter<Subscription>;
  private readonly rungs: RungSelection;

  /** `mixer` is read when used (the room makes its mixer after its parts); `lingerMs`: see RungSelection. */
  constructor(private readonly mixer: () => DeliveryMixer, hooks: DeliveryHooks, lingerMs?: number) {
    this.router = new MixRouter<Subscription>(() => hooks.subscriptions(), {
      slotOf: (id) => mixer().slotOf(id),
      requestKeyframe: (rung) => mixer().requestKeyframe(rung),
      switched: () => this.rungs.update(),
    });
    this.rungs = new RungSelection({
      subscriptions: () => hooks.subscriptions(),
      alwaysOnRungs: () => hooks.alwaysOnRungs(),
      tapRungs: () => this.router.tapRungs(),
      setRungs: (ids) => mixer().setRungs(ids),
      setPeriodicKeyframes: (ids) => mixer().setPeriodicKeyframes(ids),
      requestKeyframe: (rung) => mixer().requestKeyframe(rung),
      routesChanged: () => this.router.rebuild(),
      publish: (e) => hooks.publish(e),
    }, lingerMs);
  }

  /** A packet of the mix, to those taking it (MixRouter.route). */
  route(key: MixStreamKey, buf: Buffer, epoch: number, contentAt: number | null): void {
    this.router.route(key, buf, epoch, contentAt);
  }

  /** Rebuilds the routing table: a subscription came, went, or now hears another stream. */
  rebuildRoutes(): void {
    this.router.rebuild();
  }

  /** The mixer encodes the rungs someone watches, switches to or taps, and the always-on one. */
  updateRungs(): void {
    this.rungs.update();
  }

  /** Keeps `rung` encoded for `ms` though nobody watches it yet (a recorder on its way). */
  hold(rung: string, ms: number): void {
    this.rungs.hold(rung, ms);
  }

  /** Stops the rungs' linger and hold timers (the room is closing). */
  dispose(): void {
    this.rungs.dispose();
  }

  /** Once a second: each subscriber's level from its own feedback. */
  adapt(): void {
    this.rungs.adapt();
  }

  /** Which of the mix's audio streams a subscription hears. */
  audioKeyOf(s: Subscription): AudioStreamKey {
    return this.router.audioKeyOf(s);
  }

  /** Starts feeding a tap (its rungs are encoded, each from a keyframe); returns the function that stops it (true if it was fed). */
  addTap(tap: MixTap): () => boolean {
    const remove = this.router.addTap(tap);
    this.rungs.update();
    for (const r of tap.rungs) this.mixer().requestKeyframe(r);
    return remove;
  }
}
