/**
 * /readyz with reasons (issue 17 item 6): not ready while the store refuses writes, the hub has not
 * answered for more than 15 minutes, or the certificate is expired, revoked or within 7 days of
 * its end, or a CRL held from the hub (the RSA one; the SM2 one of an SM-enrolled node) is past its
 * nextUpdate, or the hub stopped serving the SM2 CRL before the node held one; ready again when the
 * cause goes.
 */
import t from 'tap';
import { signCrl } from '../../certs/crl.js';
import { buildSm2Crl, createSm2Ca } from '../../certs/sm2-x509.js';
import type { Exchange } from '../../node/exchange/exchange.js';
import type { ExchangeMaterial } from '../../node/exchange/files.js';
import { HUB_UNREACHABLE_MS, notReadyReasons } from '../../node/readiness.js';
import { issue, makeCa } from '../helpers/pki.js';
import { nodeFixture } from './app-fixture.js';

const DAY = 86_400_000;
const ca = makeCa();

t.test('a store that refuses writes makes /readyz 503 ERR_NOT_READY with the reason', async (t) => {
  const f = await nodeFixture(t);
  t.equal((await f.app.inject({ url: '/readyz' })).statusCode, 200);
  await f.app.nodeCtx.db.raw('PRAGMA query_only = ON');
  const res = await f.app.inject({ url: '/readyz' });
  t.equal(res.statusCode, 503);
  t.equal(res.json().code, 'ERR_NOT_READY');
  t.match(res.json().details.reasons, [{ check: 'store', message: /the store does not accept writes/ }]);
  await f.app.nodeCtx.db.raw('PRAGMA query_only = OFF');
  t.equal((await f.app.inject({ url: '/readyz' })).statusCode, 200, 'ready again');
});

t.test('hub contact and certificate reasons', async (t) => {
  const f = await nodeFixture(t);
  const now = new Date('2026-12-01T00:00:00Z');
  const id = issue(ca, '430100', { notBefore: new Date(now.getTime() - DAY), notAfter: new Date(now.getTime() + 100 * DAY) });
  let material = { nodeId: '430100', certPem: id.certPem, keyPem: id.keyPem, caCertPem: ca.certPem } as ExchangeMaterial;
  let contact: ReturnType<Exchange['contact']> = { lastAt: now, failingSince: null };
  const exchange = { contact: () => contact, identity: { current: () => material }, sm2CrlAbsentSince: () => null } as unknown as Exchange;
  const ctx = { ...f.app.nodeCtx, exchange };
  const checks = async (at: Date) => (await notReadyReasons(ctx, at)).map((r) => r.check);

  t.same(await checks(now), [], 'ready');
  contact = { lastAt: now, failingSince: new Date(now.getTime() + 60_000) };
  t.same(await checks(new Date(now.getTime() + 60_000 + HUB_UNREACHABLE_MS - 1000)), [], 'a hub away for less than 15 minutes: still ready');
  const away = await notReadyReasons(ctx, new Date(now.getTime() + 60_000 + HUB_UNREACHABLE_MS + 1000));
  t.match(away, [{ check: 'hub', message: /the hub has not answered since 2026-12-01T00:00:00\.000Z/ }]);
  contact = { lastAt: now, failingSince: null };

  t.match(await notReadyReasons(ctx, new Date(now.getTime() + 95 * DAY)), [{ check: 'certificate', message: /expires in 5 day\(s\)/ }]);
  t.match(await notReadyReasons(ctx, new Date(now.getTime() + 101 * DAY)), [{ check: 'certificate', message: /expired/ }]);

  const crlPem = await signCrl({ caCertPem: ca.certPem, caKeyPem: ca.keyPem, thisUpdate: now, nextUpdate: new Date(now.getTime() + 7 * DAY), entries: [{ serial: id.serial, revokedAt: now, reason: 'keyCompromise' }] });
  material = { ...material, crlPem };
  t.match(await notReadyReasons(ctx, now), [{ check: 'certificate', message: /is revoked by the hub/ }]);

  f.app.nodeCtx.state.closing = true;
  t.same(await checks(now), ['closing']);
  f.app.nodeCtx.state.closing = false;
});

t.test('hostile review L1: a CRL held from the hub past its nextUpdate — the RSA one, and the SM2 one of an SM-enrolled node — is a reason', async (t) => {
  const f = await nodeFixture(t);
  const now = new Date('2026-12-01T00:00:00Z');
  const id = issue(ca, '430100', { notBefore: new Date(now.getTime() - DAY), notAfter: new Date(now.getTime() + 100 * DAY) });
  const sm2Ca = createSm2Ca({ cn: 'Test SM2 root (readiness)', now: new Date(now.getTime() - DAY) });
  const rsaCrl = await signCrl({ caCertPem: ca.certPem, caKeyPem: ca.keyPem, thisUpdate: now, nextUpdate: new Date(now.getTime() + 7 * DAY), entries: [] });
  const sm2Crl = (days: number) => buildSm2Crl(sm2Ca.issuer, [], { number: BigInt(days), now, nextUpdateDays: days });
  const sm2 = { keyPem: sm2Ca.keyPem, certPem: sm2Ca.certPem, caCertPem: sm2Ca.certPem, hubCertPem: sm2Ca.certPem };
  let material = { nodeId: '430100', certPem: id.certPem, keyPem: id.keyPem, caCertPem: ca.certPem, crlPem: rsaCrl, sm2, sm2CrlPem: sm2Crl(3) } as ExchangeMaterial;
  let absentSince: Date | null = null;
  const exchange = { contact: () => ({ lastAt: now, failingSince: null }), identity: { current: () => material }, sm2CrlAbsentSince: () => absentSince } as unknown as Exchange;
  const ctx = { ...f.app.nodeCtx, exchange };

  t.same(await notReadyReasons(ctx, now), [], 'both current: ready');
  t.match(await notReadyReasons(ctx, new Date(now.getTime() + 4 * DAY)), [{ check: 'crl', message: /the hub's SM2 CRL is past its nextUpdate 2026-12-04T00:00:00\.000Z.*\[ERR_CRL_STALE\]/ }], 'the SM2 CRL (3 days) stale, the RSA one (7 days) not');
  t.equal((await notReadyReasons(ctx, new Date(now.getTime() + 4 * DAY))).length, 1);
  t.match(await notReadyReasons(ctx, new Date(now.getTime() + 8 * DAY)), [{ check: 'crl', message: /the hub's CRL is past its nextUpdate/ }, { check: 'crl', message: /SM2 CRL/ }], 'both stale');
  material = { ...material, sm2: undefined } as unknown as ExchangeMaterial;
  t.same((await notReadyReasons(ctx, new Date(now.getTime() + 4 * DAY))).map((r) => r.check), [], 'a node not enrolled with an SM2 key: its SM2 CRL file is not its concern');
  material = { ...material, sm2, sm2CrlPem: undefined } as ExchangeMaterial;
  absentSince = now;
  t.match(await notReadyReasons(ctx, now), [{ check: 'crl', message: /has not served its SM2 CRL since 2026-12-01T00:00:00\.000Z .*\[ERR_SM2_CA_ABSENT\]/ }], 'SM-enrolled, none held, the hub answers 404');
});
