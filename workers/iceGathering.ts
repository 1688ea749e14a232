// The one ICE gathering wait of every werift peer connection here (WHIP ingest, WHEP egress,
// ICE restarts, edge pulls, the recording worker's WHEP client): resolves when gathering
// completes or after `timeoutMs`, whichever is first (an answer then carries the candidates found
// so far; trickle brings the rest), and leaves no subscription behind.

import type { RTCPeerConnection } from 'werift';

export async function iceGathered(pc: RTCPeerConnection, timeoutMs: number): Promise<void> {
  if (pc.iceGatheringState === 'complete') return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      sub.unSubscribe();
      resolve();
    }, timeoutMs);
    const sub = pc.iceGatheringStateChange.subscribe((state) => {
      if (state === 'complete') {
        clearTimeout(timer);
        sub.unSubscribe();
        resolve();
      }
    });
  });
}
