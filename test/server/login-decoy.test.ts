/**
 * Login timing (review of issue 18): the decoy password hash an unknown name is checked against is
 * computed when the server starts, not by the first login of an unknown name (which would then take
 * the time of a hash plus a verify, and tell the name apart). Checked structurally, not by timing. (The hub: test/hub/login-decoy.test.ts, its own process.)
 */
import t from 'tap';
import { decoyHashReady } from '../../server/credentials.js';
import { accountsFixture } from '../node/accounts-fixture.js';

t.test('node: the decoy exists once the app is built, before any login', async (t) => {
  t.notOk(decoyHashReady(), 'not made at import');
  const f = await accountsFixture(t);
  t.ok(decoyHashReady(), 'made at start');
  t.equal((await f.login({ user: 'nobody', password: 'x', otp: '123456' })).json().code, 'ERR_LOGIN_FAILED');
});
