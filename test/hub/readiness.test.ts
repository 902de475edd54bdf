/** The hub's /readyz with reasons (issue 17 item 6): the store refusing writes, its certificate near its end. */
import t from 'tap';
import { certInfo } from '../../certs/pki-crypto.js';
import { hubFixture } from './fixture.js';

t.test('hub /readyz: ready; not ready while the store refuses writes or the certificate has < 7 days', async (t) => {
  const f = await hubFixture(t);
  t.equal((await f.call(f.anonymous, 'GET', '/readyz')).status, 200);
  const db = f.hub.app.hubCtx.db;
  await db.raw('PRAGMA query_only = ON');
  let r = await f.call(f.anonymous, 'GET', '/readyz');
  t.equal(r.status, 503);
  t.match(r.json, { code: 'ERR_NOT_READY', details: { reasons: [{ check: 'store', message: /does not accept writes/ }] } });
  await db.raw('PRAGMA query_only = OFF');
  const left = certInfo(f.hubCertPem).notAfter.getTime() - Date.now();
  f.shiftClock(left - 3 * 86_400_000);
  r = await f.call(f.anonymous, 'GET', '/readyz');
  t.equal(r.status, 503);
  t.match(r.json, { details: { reasons: [{ check: 'certificate', message: /expires in [23] day\(s\)/ }] } });
  f.shiftClock(0);
  t.equal((await f.call(f.anonymous, 'GET', '/readyz')).status, 200);
});
