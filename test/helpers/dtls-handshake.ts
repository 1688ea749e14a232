// werift's own DTLS client and server over an in-memory link, for the unit tests of the werift
// fixes (workers/weriftDtlsFix.ts, workers/weriftX25519.ts). Lossless and in order, as loopback
// is; each direction's delay is fault injection.

import { CipherContext, DtlsClient, DtlsServer, HashAlgorithm, NamedCurveAlgorithm, SignatureAlgorithm } from 'werift';

interface End {
  onData?: (buf: Buffer) => void;
  send(buf: Buffer): Promise<void>;
  close(): void;
}

/** Two transport ends; what one sends reaches the other after its direction's delay. */
function link(clientToServerMs: number, serverToClientMs: number): { client: End; server: End; sent: { client: number; server: number }; close(): void } {
  const timers = new Set<NodeJS.Timeout>();
  const sent = { client: 0, server: 0 };
  const make = (who: 'client' | 'server', delayMs: () => number, other: () => End): End => ({
    send(buf) {
      sent[who]++;
      const copy = Buffer.from(buf);
      const t = setTimeout(() => {
        timers.delete(t);
        other().onData?.(copy);
      }, delayMs());
      timers.add(t);
      return Promise.resolve();
    },
    close() {},
  });
  const client: End = make('client', () => clientToServerMs, () => server);
  const server: End = make('server', () => serverToClientMs, () => client);
  return { client, server, sent, close: () => timers.forEach(clearTimeout) };
}

async function certificate() {
  const { certPem, keyPem, signatureHash } = await CipherContext.createSelfSignedCertificateWithKey(
    { signature: SignatureAlgorithm.ecdsa_3, hash: HashAlgorithm.sha256_4 },
    NamedCurveAlgorithm.secp256r1_23,
  );
  return { cert: certPem, key: keyPem, signatureHash };
}

/** One handshake; its result, the datagrams each side sent, and the key-exchange curve the client used. */
export async function dtlsHandshake(clientToServerMs: number, serverToClientMs: number): Promise<{ result: string; sent: { client: number; server: number }; curve: number | undefined }> {
  const l = link(clientToServerMs, serverToClientMs);
  const common = { srtpProfiles: [1 as const], extendedMasterSecret: true };
  const server = new DtlsServer({ ...(await certificate()), ...common, transport: l.server as any, certificateRequest: true });
  const client = new DtlsClient({ ...(await certificate()), ...common, transport: l.client as any });
  try {
    const result = await new Promise<string>((resolve) => {
      const t = setTimeout(() => resolve('timed out'), 15_000);
      client.onConnect.once(() => (clearTimeout(t), resolve('connected')));
      client.onError.once((e: Error) => (clearTimeout(t), resolve(`failed: ${e?.message || e?.stack?.split('\n')[1]?.trim() || 'error'}`)));
      client.connect().catch((e: Error) => (clearTimeout(t), resolve(`failed: ${e.message}`)));
    });
    return { result, sent: { ...l.sent }, curve: (client as any).cipher?.localKeyPair?.curve };
  } finally {
    l.close();
    client.close();
    server.close();
  }
}
