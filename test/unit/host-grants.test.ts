// Webinar host grants (pipeline/room/hostGrants.ts): live until the giving token expires.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { HostGrants } from '../../pipeline/room/hostGrants.ts';

test('a grant is known until it expires, then forgotten; one without expiry stays', () => {
  const g = new HostGrants();
  g.add('a', { subscriptionId: 's1', name: null }, 0, 1000);
  g.add('b', { subscriptionId: null, name: 'Host' }, 0, null);
  assert.ok(g.has('a', 999));
  assert.not.ok(g.has('a', 1000));
  assert.not.ok(g.has('a', 0), 'forgotten once expired');
  assert.ok(g.has('b', 1e15));
  assert.not.ok(g.has('c', 0));
});

test.run();
