// ZmqCommandClient against a fake ZMTP 3.0 REP peer (fault injection: the peer drops the
// connection with commands in flight). Replies must never be matched to the wrong command.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { DISCONNECTED_REPLY, ZmqCommandClient } from '../../workers/mixer/ZmqCommandClient.ts';

function greeting(): Buffer {
  const g = Buffer.alloc(64);
  g[0] = 0xff;
  g[9] = 0x7f;
  g[10] = 3;
  g.write('NULL', 12, 'ascii');
  return g;
}
const frame = (body: Buffer, flags: number) => Buffer.concat([Buffer.from([flags, body.length]), body]);
const READY = (() => {
  const name = Buffer.from('READY');
  const key = Buffer.from('Socket-Type');
  const value = Buffer.from('REP');
  const len = Buffer.alloc(4);
  len.writeUInt32BE(value.length);
  return frame(Buffer.concat([Buffer.from([name.length]), name, Buffer.from([key.length]), key, len, value]), 0x04);
})();

/** A REP peer that answers "0 Success <command>" and can be told to drop the next connection. */
function fakeRep(sock: string) {
  const state = { dropAfter: Infinity, received: [] as string[] };
  const server = net.createServer((c) => {
    let inbox = Buffer.alloc(0);
    let greeted = false;
    let handled = 0;
    c.write(greeting());
    c.on('data', (d) => {
      inbox = Buffer.concat([inbox, d]);
      if (!greeted) {
        if (inbox.length < 64) return;
        inbox = inbox.subarray(64);
        greeted = true;
        c.write(READY);
      }
      while (inbox.length >= 2 && inbox.length >= 2 + inbox[1]) {
        const flags = inbox[0];
        const body = inbox.subarray(2, 2 + inbox[1]);
        inbox = inbox.subarray(2 + inbox[1]);
        if (flags & 0x04 || (flags & 0x01 && body.length === 0)) continue;
        const line = body.toString();
        state.received.push(line);
        if (++handled > state.dropAfter) {
          state.dropAfter = Infinity;
          c.destroy(); // drop with this command (and any after it) unanswered
          return;
        }
        c.write(Buffer.concat([frame(Buffer.alloc(0), 0x01), frame(Buffer.from(`0 Success ${line}`), 0)]));
      }
    });
    c.on('error', () => {});
  });
  server.listen(sock);
  return { server, state };
}

test('replies are matched to their own commands, also across a dropped connection', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcu-zmq-'));
  const sock = path.join(dir, 'cmd.sock');
  const { server, state } = fakeRep(sock);
  const client = new ZmqCommandClient(sock, 10);
  try {
    const first = await client.send([{ target: 'a', command: 'x', arg: '1' }]);
    assert.equal(first, ['0 Success a x 1']);
    state.dropAfter = 2; // (per connection) answer one more, then drop the connection mid-batch
    const batch = await client.send([
      { target: 'b', command: 'x', arg: '2' },
      { target: 'c', command: 'x', arg: '3' },
      { target: 'd', command: 'x', arg: '4' },
    ]);
    assert.is(batch[0], '0 Success b x 2');
    assert.is(batch[1], DISCONNECTED_REPLY);
    assert.is(batch[2], DISCONNECTED_REPLY);
    // After the reconnect, a new command gets its own reply, not a stale one.
    const after = await client.send([{ target: 'e', command: 'x', arg: '5' }]);
    assert.equal(after, ['0 Success e x 5']);
  } finally {
    client.close();
    server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('commands sent before the peer exists are queued, then answered', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcu-zmq-'));
  const sock = path.join(dir, 'cmd.sock');
  const client = new ZmqCommandClient(sock, 10);
  const replies = client.send([{ target: 'o', command: 'x', arg: '9' }]);
  await new Promise((r) => setTimeout(r, 50));
  const { server } = fakeRep(sock);
  try {
    assert.equal(await replies, ['0 Success o x 9']);
  } finally {
    client.close();
    server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('close() answers everything pending', async () => {
  const client = new ZmqCommandClient(path.join(os.tmpdir(), 'mcu-zmq-nowhere.sock'), 10);
  const p = client.send([{ target: 'x', command: 'y', arg: 'z' }]);
  client.close();
  assert.equal(await p, ['closed']);
});

test.run();
