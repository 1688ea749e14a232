// workers/weriftDtlsFix.ts, fix 2: the answerer's DTLS client (werift's RTCDtlsTransport in the
// client role) sends its ClientHello as soon as start() is called, not 100 ms later; and when
// nothing has answered by werift's own connect() 100 ms later, the same datagram goes again (a
// hello that reached a remote not yet listening costs what werift's wait cost). Over a stand-in
// ICE connection that records what is sent and never answers.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RTCDtlsFingerprint, RTCDtlsParameters, RTCDtlsTransport } from 'werift';
import '../../workers/weriftDtlsFix.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('the ClientHello goes at once, and again after werift’s 100 ms if unanswered', async () => {
  const sent: Array<{ atMs: number; buf: Buffer }> = [];
  let t0 = 0;
  const connection = {
    send: async (buf: Buffer) => void sent.push({ atMs: performance.now() - t0, buf: Buffer.from(buf) }),
    onData: { subscribe: () => ({ unSubscribe() {} }) },
    close() {},
  };
  const cert = await RTCDtlsTransport.SetupCertificate();
  const t = new RTCDtlsTransport({}, { connection, role: 'controlled' } as any, cert, [1]);
  t.setRemoteParams(new RTCDtlsParameters([new RTCDtlsFingerprint('sha-256', '00'.repeat(32).replace(/(..)(?!$)/g, '$1:'))], 'server'));
  t.role = 'client';
  t0 = performance.now();
  const started = t.start().catch(() => {});
  await sleep(40);
  assert.is(sent.length, 1, `one ClientHello within 40 ms of start() (sent: ${sent.map((s) => Math.round(s.atMs)).join(', ') || 'none'}; werift alone waits 100 ms)`);
  await sleep(120);
  assert.is(sent.length, 2, 'sent again at werift’s own connect(), as nothing answered');
  assert.ok(sent[1].atMs >= 90, `the second at ~100 ms (${Math.round(sent[1].atMs)} ms)`);
  assert.ok(sent[1].buf.equals(sent[0].buf), 'the same datagram');
  // Ends flight 1's retransmissions (500 ms on) and the handshake.
  (t as any).dtls.dtls.flight = 7;
  (t as any).dtls.close?.();
  void started;
});

test.run();
