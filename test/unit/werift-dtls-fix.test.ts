// workers/weriftDtlsFix.ts: werift's own DTLS client and server over an in-memory link whose
// server-to-client direction is slower than the client's 500 ms retransmission. The client
// sends its ClientHello twice, the server answers both with a HelloVerifyRequest, and the
// handshake must still complete (unfixed werift 0.24 fails it on the second one). Lossless and
// in order, as loopback is; the delay is fault injection.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import '../../workers/weriftDtlsFix.ts';
import { dtlsHandshake as handshake } from '../helpers/dtls-handshake.ts';

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
