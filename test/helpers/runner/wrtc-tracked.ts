// @roamhq/wrtc as the runner's children see it (resolve-hooks.mjs): the same module, but each
// RTCPeerConnection remembers the test that opened it until it is closed. libwebrtc's threads
// outlive a peer connection left open and can crash the process while it exits; the child closes
// what is left (closeLeftOpen) before it exits and names the tests that left it.

import wrtc from '@roamhq/wrtc';
import { current } from './marks.ts';

const open = new Map<object, { file: string; where: string }>();
const w = wrtc as any;
const Real = w.RTCPeerConnection;
const realClose = Real.prototype.close;
Real.prototype.close = function close(this: object) {
  open.delete(this);
  return realClose.call(this);
};
w.RTCPeerConnection = new Proxy(Real, {
  construct(target, args, newTarget) {
    const pc = Reflect.construct(target, args, newTarget);
    open.set(pc, { ...current });
    return pc;
  },
});

/** Closes every peer connection still open; says where each was opened. */
function closeLeftOpen(): Array<{ file: string; where: string }> {
  const left = [...open.entries()];
  for (const [pc] of left) {
    try {
      (pc as any).close();
    } catch {
      /* closed by its own */
    }
  }
  return left.map(([, at]) => at);
}
(globalThis as any)[Symbol.for('mcu.test.wrtcCloseLeftOpen')] = closeLeftOpen;

export default wrtc;
