/**
 * POST /v1/enroll under attack (issue 13, items 1 and 11): the token is checked before the CSR is
 * touched, the CSR's key before its signature, the body is small. A huge-key CSR with a fake token
 * is answered ERR_TOKEN_INVALID; with a real token ERR_CSR_KEY_UNSUPPORTED, and the token survives.
 */
import t from 'tap';
import { createNodeKeys } from '../../certs/node-keys.js';
import { hugeKeyCsr, multiCnCsr, rsaCsr } from '../helpers/hostile-csr.js';
import { engines } from '../helpers/db.js';
import { hubFixture } from './fixture.js';

for (const engine of await engines()) {
  t.test(`hostile enrolment requests (${engine.name})`, async (t) => {
    const f = await hubFixture(t, { engine });
    const fake = 'cf1_' + 'A'.repeat(43);

    t.test('a fake, well-formed token with a huge-key CSR: ERR_TOKEN_INVALID, and /healthz answers', async (t) => {
      const huge = hugeKeyCsr('430100');
      const [enrol, health] = await Promise.all([
        f.call(f.anonymous, 'POST', '/v1/enroll', { token: fake, csrPem: huge }),
        f.call(f.anonymous, 'GET', '/healthz'),
      ]);
      t.equal(enrol.status, 401);
      t.equal(enrol.json.code, 'ERR_TOKEN_INVALID', 'refused on the token: the CSR was never parsed');
      t.equal(health.json.status, 'ok');
      const malformed = await f.call(f.anonymous, 'POST', '/v1/enroll', { token: 'not-a-token', csrPem: huge });
      t.equal(malformed.json.code, 'ERR_TOKEN_INVALID');
    });

    t.test('a real token with a huge-key CSR: ERR_CSR_KEY_UNSUPPORTED; the token still enrols', async (t) => {
      const token = await f.token('430100', 2);
      const huge = await f.call(f.anonymous, 'POST', '/v1/enroll', { token, csrPem: hugeKeyCsr('430100') });
      t.equal(huge.status, 400);
      t.equal(huge.json.code, 'ERR_CSR_KEY_UNSUPPORTED');
      const ok = await f.call(f.anonymous, 'POST', '/v1/enroll', { token, csrPem: createNodeKeys('430100').csrPem });
      t.equal(ok.status, 200, String(ok.json.code ?? 'enrolled'));
    });

    t.test('1024-bit keys and two CNs are refused at enrolment', async (t) => {
      const token = await f.token('430700', 2);
      const weak = await f.call(f.anonymous, 'POST', '/v1/enroll', { token, csrPem: rsaCsr('430700', 1024) });
      t.equal(weak.status, 400);
      t.equal(weak.json.code, 'ERR_CSR_KEY_UNSUPPORTED');
      const two = await f.call(f.anonymous, 'POST', '/v1/enroll', { token, csrPem: multiCnCsr(['430700', '430100']) });
      t.equal(two.status, 400);
      t.equal(two.json.code, 'ERR_CSR_SUBJECT_INVALID');
    });

    t.test('the enrol body is small: 64 KiB is ERR_BODY_TOO_LARGE', async (t) => {
      const big = await f.call(f.anonymous, 'POST', '/v1/enroll', { token: fake, csrPem: 'A'.repeat(64 * 1024) });
      t.equal(big.status, 413);
      t.equal(big.json.code, 'ERR_BODY_TOO_LARGE');
    });
  });
}
