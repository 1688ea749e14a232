// Connects one subscriber's Egress to its room: its PLI/FIR and its connecting become keyframe
// requests on the rung it watches, and its end removes the subscription.

import type { Subscription } from './types.ts';

export interface SubscriberRoom {
  requestKeyframe(rung: string): void;
  remove(id: string, reason: string): void;
}

export function linkSubscriber(subscription: Subscription, room: SubscriberRoom): void {
  const { egress, id } = subscription;
  // PLI/FIR: a keyframe on the rung this subscriber watches (rate-limited per rung).
  egress.on('keyframeRequest', () => {
    if (subscription.rung) room.requestKeyframe(subscription.rung);
  });
  egress.on('gone', (reason) => room.remove(id, reason));
  if (egress.goneReason) queueMicrotask(() => room.remove(id, egress.goneReason ?? 'gone'));
  // A new subscriber needs a keyframe to start decoding: once it can receive one (a keyframe
  // sent before DTLS is up is dropped, and the rung's keyframe rate limit then delays the next).
  egress.once('connected', () => {
    if (subscription.rung) room.requestKeyframe(subscription.rung);
  });
}
