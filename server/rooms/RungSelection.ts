// Which rungs of the ladder a room's mixer encodes, and which one each subscriber gets: once a
// second each subscriber's own RTCP feedback (loss, RTT, bandwidth estimate) moves its level
// (pipeline/ladder.ts RungAdapter); a move to another rung is made pending and MixRouter takes it
// on that rung's next keyframe. The mixer encodes the rungs someone watches or is switching to,
// those a tap takes, and the always-on ones while anyone is in the room; and which of them get
// a keyframe every interval unasked (pipeline/mixer/keyframePolicy.ts): those taps take and
// those watched by a subscription that cannot ask (a recorder, an offer without PLI or FIR).

import { rungFor, type Feedback, type Level } from '../../pipeline/ladder.ts';
import type { RoomEvent, Subscription } from './types.ts';
import { log as rootLog } from '../../workers/log.ts';

const log = rootLog.child({ component: 'rungs' });

export interface RungSelectionHooks {
  subscriptions(): Iterable<Subscription>;
  /** Rungs encoded whether watched or not (MIX_ALWAYS_ON_RUNGS while the room has publishers or subscribers, else none). */
  alwaysOnRungs(): Iterable<string>;
  tapRungs(): Iterable<string>;
  /** The mixer's encoded rungs (RoomMixer.setRungs). */
  setRungs(ids: Set<string>): void;
  /** The rungs whose consumers cannot ask for keyframes: taps and subscriptions marked periodicKeyframes. */
  setPeriodicKeyframes(ids: Set<string>): void;
  requestKeyframe(rung: string): void;
  /** A subscription's rung or pending rung changed: the routing table is rebuilt. */
  routesChanged(): void;
  publish(e: Omit<RoomEvent, 'at'>): void;
}

/**
 * A rung nobody watches any more is still encoded this long. Adding or dropping a rung swaps the
 * mixer process (make before break, 0.8-1.3 s to the new rung's first keyframe on a busy 2-core
 * box): a subscriber that comes back (a recorder's next MP4 job, a page reload) then joins a
 * running encode instead of waiting for a swap each way.
 */
export const RUNG_LINGER_MS = 5000;

export class RungSelection {
  /** Rungs encoded though unwatched (lingering, or held for a subscriber on its way), until when (performance.now). */
  private readonly held = new Map<string, number>();
  private encoded = new Set<string>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly hooks: RungSelectionHooks,
    private readonly lingerMs = RUNG_LINGER_MS,
  ) {}

  /** Encodes the rungs someone watches or is switching to, the always-on ones, and those lingering or held. */
  update(): void {
    const now = performance.now();
    const ids = new Set<string>();
    for (const r of this.hooks.alwaysOnRungs()) ids.add(r);
    for (const s of this.hooks.subscriptions()) {
      if (s.rung) ids.add(s.rung);
      if (s.pendingRung) ids.add(s.pendingRung);
    }
    for (const r of this.hooks.tapRungs()) ids.add(r);
    for (const id of this.encoded) if (!ids.has(id) && !this.held.has(id) && this.lingerMs > 0) this.held.set(id, now + this.lingerMs);
    for (const [id, until] of this.held) {
      if (until <= now) this.held.delete(id);
      else ids.add(id);
    }
    this.encoded = ids;
    this.hooks.setRungs(ids);
    const periodic = new Set<string>(this.hooks.tapRungs());
    for (const s of this.hooks.subscriptions()) {
      if (!s.periodicKeyframes) continue;
      if (s.rung) periodic.add(s.rung);
      if (s.pendingRung) periodic.add(s.pendingRung);
    }
    this.hooks.setPeriodicKeyframes(periodic);
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.held.size) {
      const next = Math.min(...this.held.values());
      this.timer = setTimeout(() => this.update(), Math.max(0, next - now) + 1);
      this.timer.unref();
    }
  }

  /** Encodes `rung` for the next `ms` whether watched or not: a subscriber is on its way (a recording was requested). */
  hold(rung: string, ms: number): void {
    const until = performance.now() + ms;
    if ((this.held.get(rung) ?? 0) >= until) return;
    this.held.set(rung, until);
    this.update();
  }

  /** Stops the linger timer (the room is closing). */
  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.held.clear();
  }

  /** Once a second: each subscriber's own RTCP feedback decides its level. */
  adapt(): void {
    const now = performance.now();
    for (const s of this.hooks.subscriptions()) {
      const v = s.egress.video;
      if (!v || !s.codec || !v.firstPacketAt || s.pinnedLevel) continue;
      const fb: Feedback = { atMs: now, ...v.feedback() };
      s.lastFeedback = fb;
      const from = s.adapter.level;
      const level = s.adapter.update(fb);
      if (!level) continue;
      // Why a subscriber moved, and how long its next step up waits (it grows after failed probes).
      log.info({ subscription: s.id, from, to: level, lossPercent: Math.round(fb.lossPercent * 10) / 10, rttMs: fb.rttMs === null ? null : Math.round(fb.rttMs), nextUpAfterMs: s.adapter.upAfterMs }, 'subscriber level changed');
      this.switchLevel(s, level);
    }
  }

  private switchLevel(s: Subscription, level: Level): void {
    const target = rungFor(level, s.codec ?? 'vp8');
    s.egress.video?.resetFeedback();
    if (!target) {
      // Audio only: stop video now; nothing to wait for.
      s.rung = null;
      s.pendingRung = null;
    } else if (target.id !== s.rung) {
      s.pendingRung = target.id;
      this.hooks.requestKeyframe(target.id);
    } else {
      s.pendingRung = null;
    }
    this.hooks.routesChanged();
    this.update();
    this.hooks.publish({ type: 'subscription-rung-changed', subscriptionId: s.id, level, rung: target?.id ?? null });
  }
}
