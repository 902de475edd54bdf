/** The hub's /readyz with reasons (issue 17 item 6): the store refusing writes, its certificate near its end. */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { certInfo, generateEcKeyPair, randomSerial } from '../../certs/pki-crypto.js';
import { signEcLeafCertificate } from '../../certs/ec-x509.js';
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

  // the EC P-256 identity is issued on its own schedule (first start after the upgrade): watched too
  const ctx = f.hub.app.hubCtx;
  const kp = generateEcKeyPair();
  const soon = signEcLeafCertificate({
    caCertPem: f.caCertPem, caKeyPem: readFileSync(join(f.caDir, 'ca.key'), 'utf8'), cn: '430000', publicKeyPem: kp.publicKeyPem,
    serial: randomSerial(), notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + 2 * 86_400_000), hosts: ['localhost'],
  });
  const saved = ctx.identity.ec;
  (ctx.identity as { ec?: { keyPem: string; certPem: string } }).ec = { keyPem: kp.privateKeyPem, certPem: soon };
  r = await f.call(f.anonymous, 'GET', '/readyz');
  t.equal(r.status, 503, 'an EC hub certificate near its end makes the hub not ready, the RSA one being fine');
  t.match(r.json, { details: { reasons: [{ check: 'certificate', message: /hub EC P-256 certificate expires in [12] day\(s\)/ }] } });
  (ctx.identity as { ec?: { keyPem: string; certPem: string } }).ec = saved;
});
