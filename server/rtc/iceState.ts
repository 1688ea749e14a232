// What a werift peer connection's ICE agent did, for a log line when it fails: each candidate
// pair's state and its STUN checks (sent, retransmitted, answered, received), and the DTLS state.

import type { RTCPeerConnection } from 'werift';

const PAIR_STATES = ['frozen', 'waiting', 'in progress', 'succeeded', 'failed'];

/** One line per transport: "lo 127.0.0.1:4000 → 127.0.0.1:5000 failed, checks 5 (4 resent) answered 0, got 3". */
export function iceSummary(pc: RTCPeerConnection): string {
  try {
    return pc.iceTransports
      .map((t: any, i: number) => {
        const c = t.connection;
        const pairs = (c?.checkList ?? []).map((p: any) => {
          const l = p.localCandidate;
          const r = p.remoteCandidate;
          return `${l?.host}:${l?.port}→${r?.host}:${r?.port} ${PAIR_STATES[p.state] ?? p.state} sent ${p.requestsSent} (resent ${p.retransmissionsSent}) answered ${p.responsesReceived} got ${p.requestsReceived}`;
        });
        const dtls = pc.dtlsTransports[i]?.state ?? '?';
        return `ice ${t.state}, dtls ${dtls}, ${c?.iceControlling ? 'controlling' : 'controlled'}, ${c?.remoteCandidates?.length ?? 0} remote candidates: ${pairs.join('; ') || 'no pairs'}`;
      })
      .join(' | ');
  } catch (err) {
    return `ice state unreadable: ${(err as Error).message}`;
  }
}
