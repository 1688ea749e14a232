// workers/weriftDtlsFix.ts: werift's own DTLS client and server over an in-memory link whose
// server-to-client direction is slower than the client's 500 ms retransmission. The client
// sends its ClientHello twice, the server answers both with a HelloVerifyRequest, and the
// handshake must still complete (unfixed werift 0.24 fails it on the second one). Lossless and
// in order, as loopback is; the delay is fault injection.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CipherContext, DtlsClient, DtlsServer, HashAlgorithm, NamedCurveAlgorithm, SignatureAlgorithm } from 'werift';
import '../../workers/weriftDtlsFix.ts';

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

async function handshake(clientToServerMs: number, serverToClientMs: number): Promise<{ result: string; sent: { client: number; server: number } }> {
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
    return { result, sent: { ...l.sent } };
  } finally {
    l.close();
    client.close();
    server.close();
  }
}

test('a handshake on a quick link completes', async () => {
  const { result } = await handshake(1, 1);
  assert.is(result, 'connected');
});

test('the server answers slower than the client retransmits: two HelloVerifyRequests, the handshake still completes', async () => {
  const { result, sent } = await handshake(1, 700);
  console.log(`  slow answers: ${result}; datagrams sent by client ${sent.client}, server ${sent.server}`);
  // The ClientHello went twice and each got its HelloVerifyRequest: the case this fix is for.
  assert.ok(sent.client >= 3, `the client retransmitted (${sent.client} datagrams)`);
  assert.is(result, 'connected');
});

test.run();
