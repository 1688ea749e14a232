// A room's seats: limits count the negotiations in flight, and a finished (or failed) one frees its seat.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Seats } from '../../pipeline/room/Seats.ts';
import { McuError } from '../../pipeline/errors.ts';

const full = (f: () => void): McuError => {
  try {
    f();
  } catch (err) {
    return err as McuError;
  }
  throw new Error('no room_full');
};

test('publishers: those joining count against the limit until their negotiation ends', async () => {
  const seats = new Seats('r', { maxParticipants: 2, maxSubscribers: 10 });
  seats.checkPublisher(1);
  let finish!: () => void;
  const joining = seats.publisher(() => new Promise<string>((res) => (finish = () => res('done'))));
  assert.is(seats.joining, 1);
  const err = full(() => seats.checkPublisher(1));
  assert.ok(err instanceof McuError);
  assert.is(err.code, 'room_full');
  assert.match(err.message, /maximum of 2 participants \(counting those joining\)/);
  seats.checkSubscriber(9);
  finish();
  assert.is(await joining, 'done');
  assert.is(seats.joining, 0);
  seats.checkPublisher(1);
});

test('subscribers: a failed negotiation frees its seat too', async () => {
  const seats = new Seats('r', { maxParticipants: 2, maxSubscribers: 1 });
  seats.checkSubscriber(0);
  full(() => seats.checkSubscriber(1));
  let fail!: (e: Error) => void;
  const joining = seats.subscriber(() => new Promise((_, rej) => (fail = rej)));
  assert.is(full(() => seats.checkSubscriber(0)).code, 'room_full');
  seats.checkPublisher(1);
  fail(new Error('bad offer'));
  await joining.then(() => assert.unreachable(), (e: Error) => assert.is(e.message, 'bad offer'));
  assert.is(seats.joining, 0);
  seats.checkSubscriber(0);
});

test.run();
