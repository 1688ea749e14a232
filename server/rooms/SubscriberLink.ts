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
  // A new subscriber needs a keyframe to start decoding: the router asks for one at once and
  // holds it until DTLS is up (MixRouter); asked again here, once it can receive, in case none was held.
  egress.once('connected', () => {
    if (subscription.rung) room.requestKeyframe(subscription.rung);
  });
}
