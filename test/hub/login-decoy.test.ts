/** The hub computes the decoy password hash at start too (test/server/login-decoy.test.ts). */
import t from 'tap';
import { decoyHashReady } from '../../server/credentials.js';
import { hubAccountsFixture } from './accounts-fixture.js';

t.test('hub: the decoy exists once the hub is built, before any login', async (t) => {
  t.notOk(decoyHashReady(), 'not made at import');
  await hubAccountsFixture(t);
  t.ok(decoyHashReady(), 'made at start');
});
