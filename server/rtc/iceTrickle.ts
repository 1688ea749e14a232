// Trickled candidates and ICE restarts applied to a session's werift peer connection
// (WHIP and WHEP PATCH, RFC 9725 4.3). A restart re-applies the current remote offer with the
// client's new credentials; werift then restarts ICE with fresh local credentials, which go
// back to the client as a fragment.

import type { RTCPeerConnection } from 'werift';
import { HOST_NETWORK, answerForClients, gatherTurn, type IceNetwork } from './network.ts';
import { iceGathered } from '../../workers/iceGathering.ts';
import { answerFrag, iceUfragOf, isIceRestart, restartOffer, type SdpFrag } from '../../pipeline/sdpFrag.ts';

export async function applyIceFragment(pc: RTCPeerConnection, frag: SdpFrag, net: IceNetwork = HOST_NETWORK): Promise<{ restarted: boolean; answer: string | null }> {
  const remote = pc.remoteDescription?.sdp;
  if (!remote) throw new Error('the session has no remote description');
  let answer: string | null = null;
  const restarted = isIceRestart(frag, iceUfragOf(remote));
  if (restarted) {
    const release = await gatherTurn(net);
    try {
      await pc.setRemoteDescription({ type: 'offer', sdp: restartOffer(remote, frag) });
      await pc.setLocalDescription(await pc.createAnswer());
      await iceGathered(pc, 2000);
    } finally {
      release();
    }
    answer = answerForClients(net, answerFrag(pc.localDescription!.sdp));
  }
  const firstMid = /^a=mid:(\S+)/m.exec(pc.remoteDescription!.sdp)?.[1] ?? '0';
  for (const c of frag.candidates) {
    await pc.addIceCandidate({ candidate: c.candidate, sdpMid: c.mid ?? firstMid }).catch(() => {});
  }
  return { restarted, answer };
}
