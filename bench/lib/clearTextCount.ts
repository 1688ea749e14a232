// A counting viewer's shortcut: once a werift WHEP client's SRTP session exists, its packets are
// handed over by their clear-text RTP header (SRTP encrypts only the payload) and never
// decrypted. werift's SRTP costs ~50 µs a packet, which would make the load generator, not the
// server, the bottleneck on a small box. RTCP keeps flowing (it is not SRTP's decrypt).

import { SrtpAuthenticationError } from 'werift';
import type { WhepRtpClient } from '../../workers/clients/WhepRtpClient.ts';

/** werift drops a packet whose decryption throws this, silently. */
const SKIP = Object.create(SrtpAuthenticationError.prototype) as Error;

/** From the SRTP session's start on, every RTP packet goes to `onPacket` (still encrypted) instead of werift. */
export function countClearText(client: WhepRtpClient, onPacket: (data: Buffer) => void): void {
  const dtls = client.pc.getTransceivers()[0]?.receiver.dtlsTransport as any;
  const patch = () => {
    if (!dtls?.srtp) return false;
    dtls.srtp.decrypt = (data: Buffer) => {
      onPacket(data);
      throw SKIP;
    };
    return true;
  };
  if (patch()) return;
  const timer = setInterval(() => patch() && clearInterval(timer), 20);
  client.once('gone', () => clearInterval(timer));
}
