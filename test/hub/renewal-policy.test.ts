/**
 * Renewal and re-enrolment policy (issue 13, item 14), on both engines over real mutual TLS:
 * renewal only inside the window (less than half the certificate's life left), at most one new
 * certificate per node per interval, the previous certificate superseded (revoked, reason
 * `superseded`) after a short overlap; re-enrolment supersedes the old certificate at once.
 * The hub's clock is shifted; TLS itself runs on real time, so only the old (real-time valid)
 * certificates are presented after a shift.
 */
import t from 'tap';
import { parseCrl } from '../../certs/crl.js';
import { createNodeKeys } from '../../certs/node-keys.js';
import { engines } from '../helpers/db.js';
import { hubFixture } from './fixture.js';

const DAY = 86_400_000;

for (const engine of await engines()) {
  t.test(`renewal policy (${engine.name})`, async (t) => {
    const f = await hubFixture(t, { engine }) // defaults: renewMinIntervalSeconds 600, renewOverlapSeconds 3600;
    const ctx = f.hub.app.hubCtx;
    t.teardown(() => f.shiftClock(0));
    const status = async (serial: string) => (await ctx.ca.certs.findIssued(serial));

    t.test('too early, then inside the window; rate-limited; the old certificate superseded after the overlap', async (t) => {
      const node = await f.enrol('430100', 3);
      const early = await f.call(node.agent, 'POST', '/v1/renew', { csrPem: createNodeKeys('430100').csrPem });
      t.equal(early.status, 403);
      t.equal(early.json.code, 'ERR_RENEWAL_TOO_EARLY', 'a fresh 365-day certificate is not renewed');

      f.shiftClock(300 * DAY);
      const first = await f.call(node.agent, 'POST', '/v1/renew', { csrPem: createNodeKeys('430100').csrPem });
      t.equal(first.status, 200, String(first.json.code ?? 'renewed'));
      const burst = await f.call(node.agent, 'POST', '/v1/renew', { csrPem: createNodeKeys('430100').csrPem });
      t.equal(burst.status, 429);
      t.equal(burst.json.code, 'ERR_RENEWAL_RATE_LIMITED', 'a second certificate right away is refused');
      t.equal((await f.call(node.agent, 'GET', '/v1/checkpoints/latest')).status, 200, 'the old certificate works during the overlap');
      t.equal((await status(node.serial))?.reason, 'superseded', 'and is marked superseded');

      f.shiftClock(300 * DAY + 601_000);
      const retry = await f.call(node.agent, 'POST', '/v1/renew', { csrPem: createNodeKeys('430100').csrPem });
      t.equal(retry.status, 200, 'after the interval the old certificate may renew again (an answer that never arrived)');
      t.equal((await status(first.json.serial as string))?.reason, 'superseded', 'the unused first successor is superseded too');

      f.shiftClock(300 * DAY + 3_601_000);
      const after = await f.call(node.agent, 'GET', '/v1/checkpoints/latest');
      t.equal(after.status, 403);
      t.equal(after.json.code, 'ERR_CERT_REVOKED', 'after the overlap the old certificate is refused');
      f.shiftClock(300 * DAY + 3_601_000 + 61_000);
      const crl = await parseCrl((await f.call(f.anonymous, 'GET', '/v1/crl')).json as string, { caCertPem: f.caCertPem });
      t.ok(crl.revoked.has(node.serial), 'the CRL lists the superseded certificate');
      t.notOk(crl.revoked.has(retry.json.serial as string), 'but not the current one');
      f.shiftClock(0);
    });

    t.test('re-enrolment supersedes the previous certificate at once', async (t) => {
      const old = await f.enrol('430700', 2);
      t.equal((await f.call(old.agent, 'GET', '/v1/checkpoints/latest')).status, 200);
      const again = await f.enrol('430700', 2);
      t.equal((await f.call(again.agent, 'GET', '/v1/checkpoints/latest')).status, 200);
      const refused = await f.call(old.agent, 'GET', '/v1/checkpoints/latest');
      t.equal(refused.status, 403);
      t.equal(refused.json.code, 'ERR_CERT_REVOKED');
      t.equal((await status(old.serial))?.reason, 'superseded');
    });
  });
}
