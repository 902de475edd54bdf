/**
 * Enrolment and the client check over real mutual TLS, on both engines: a token enrols once
 * (reuse → ERR_TOKEN_USED), renewal over mTLS, routes without a client certificate, revocation
 * effective on the next request of the SAME kept-alive connection, the CRL and protocol info.
 */
import t from 'tap';
import { createNodeKeys } from '../../certs/node-keys.js';
import { issueCertificate } from '../../certs/issue.js';
import { certInfo } from '../../certs/pki-crypto.js';
import { parseCrl } from '../../certs/crl.js';
import { Agent } from 'undici';
import { tlsClientOptions } from '../../certs/tls.js';
import { revokeNode } from '../../hub/enrolment-service.js';
import { nodesStore } from '../../hub/nodes-store.js';
import { engines } from '../helpers/db.js';
import { hubFixture } from './fixture.js';
import { SUPPORTED_VERSIONS } from '../../protocol/version.js';

const DAY = 86_400_000;

for (const engine of await engines()) {
  t.test(`enrolment and client checks (${engine.name})`, async (t) => {
    const f = await hubFixture(t, { engine });
    const ctx = f.hub.app.hubCtx;

    t.test('protocol info, health and the CRL need no client certificate', async (t) => {
      const info = await f.call(f.anonymous, 'GET', '/v1/protocol');
      t.equal(info.status, 200);
      t.equal(info.json.hubNodeId, '430000');
      t.same(info.json.versions, [...SUPPORTED_VERSIONS]);
      t.equal(info.json.caCertPem, f.caCertPem);
      t.equal(certInfo(info.json.hubCertPem).cn, '430000');
      t.equal((await f.call(f.anonymous, 'GET', '/healthz')).json.status, 'ok');
      t.equal((await f.call(f.anonymous, 'GET', '/readyz')).json.status, 'ready');
      const crl = await f.call(f.anonymous, 'GET', '/v1/crl');
      t.equal(crl.status, 200);
      t.equal((await parseCrl(crl.json as string, { caCertPem: f.caCertPem })).revoked.size, 0, 'a CRL signed by the CA, nobody revoked yet');
    });

    t.test('a token enrols its node once; the second use is ERR_TOKEN_USED', async (t) => {
      const token = await f.token('430100', 3, { name: '长沙市' });
      const first = createNodeKeys('430100');
      const ok = await f.call(f.anonymous, 'POST', '/v1/enroll', { token, csrPem: first.csrPem });
      t.equal(ok.status, 200, String(ok.json.code ?? 'enrolled'));
      t.equal(ok.json.nodeId, '430100');
      t.equal(ok.json.grade, 3);
      t.equal(certInfo(ok.json.certPem).cn, '430100');
      t.equal(ok.json.hubCertPem, f.hubCertPem);
      const again = await f.call(f.anonymous, 'POST', '/v1/enroll', { token, csrPem: createNodeKeys('430100').csrPem });
      t.equal(again.status, 409);
      t.equal(again.json.code, 'ERR_TOKEN_USED');
      const node = await nodesStore.get(ctx.db, '430100');
      t.equal(node?.status, 'active');
      t.equal(node?.name, '长沙市');
      t.equal(node?.grade, 3);
    });

    t.test('enrolment refusals keep their certs codes', async (t) => {
      const bad = await f.call(f.anonymous, 'POST', '/v1/enroll', { token: 'cf1_' + 'A'.repeat(43), csrPem: createNodeKeys('430200').csrPem });
      t.equal(bad.status, 401);
      t.equal(bad.json.code, 'ERR_TOKEN_INVALID');
      const tok = await f.token('430200', 2);
      const other = await f.call(f.anonymous, 'POST', '/v1/enroll', { token: tok, csrPem: createNodeKeys('430300').csrPem });
      t.equal(other.status, 403);
      t.equal(other.json.code, 'ERR_TOKEN_NODE_MISMATCH');
      const csr = await f.call(f.anonymous, 'POST', '/v1/enroll', { token: tok, csrPem: '-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n' });
      t.equal(csr.status, 400);
      t.equal(csr.json.code, 'ERR_CSR_INVALID');
      const schema = await f.call(f.anonymous, 'POST', '/v1/enroll', { token: tok });
      t.equal(schema.status, 400);
      t.equal(schema.json.code, 'ERR_REQUEST_INVALID');
    });

    t.test('mutual-TLS routes without a client certificate: 401 ERR_CLIENT_CERT_REQUIRED', async (t) => {
      for (const [method, path] of [['GET', '/v1/distributions'], ['POST', '/v1/batches'], ['POST', '/v1/renew'], ['GET', '/v1/checkpoints/latest']] as const) {
        const r = await f.call(f.anonymous, method, path, method === 'POST' ? {} : undefined);
        t.equal(r.status, 401, path);
        t.equal(r.json.code, 'ERR_CLIENT_CERT_REQUIRED', path);
      }
    });

    t.test('renewal over mutual TLS gives a new certificate for a new key', async (t) => {
      const enrolled = await f.enrol('430700', 2);
      // a certificate inside its renewal window (less than half its life left): 300 of 360 days gone
      const keys = createNodeKeys('430700');
      const aged = await issueCertificate(ctx.ca, keys.csrPem, { notBefore: new Date(Date.now() - 300 * DAY), notAfter: new Date(Date.now() + 60 * DAY), grade: 2 });
      const node = { ...enrolled, serial: aged.serial, agent: new Agent({ connect: tlsClientOptions({ caCertPem: f.caCertPem, certPem: aged.certPem, keyPem: keys.keyPem, expectNodeId: '430000' }) }) };
      t.teardown(() => node.agent.close());
      const next = createNodeKeys('430700');
      const r = await f.call(node.agent, 'POST', '/v1/renew', { csrPem: next.csrPem });
      t.equal(r.status, 200, String(r.json.code ?? 'renewed'));
      t.equal(r.json.nodeId, '430700');
      t.equal(r.json.grade, 2);
      t.not(r.json.serial, node.serial);
      const other = await f.call(node.agent, 'POST', '/v1/renew', { csrPem: createNodeKeys('430100').csrPem });
      t.equal(other.status, 403);
      t.equal(other.json.code, 'ERR_RENEWAL_DENIED', 'a CSR for another node id');
      const renewed = new Agent({ connect: tlsClientOptions({ caCertPem: f.caCertPem, certPem: r.json.certPem, keyPem: next.keyPem, expectNodeId: '430000' }) });
      t.teardown(() => renewed.close());
      t.equal((await f.call(renewed, 'GET', '/v1/checkpoints/latest')).status, 200, 'the new certificate is let in');
    });

    t.test('revocation takes effect on the next request of the same keep-alive connection', async (t) => {
      const node = await f.enrol('431081', 1);
      let handshakes = 0;
      const count = () => void handshakes++;
      f.hub.app.server.on('secureConnection', count);
      t.teardown(() => void f.hub.app.server.off('secureConnection', count));
      const before = await f.call(node.agent, 'GET', '/v1/distributions?after=0');
      t.equal(before.status, 200);
      const serials = await revokeNode(ctx.db, ctx.ca, { nodeId: '431081', reason: 'keyCompromise' });
      t.same(serials, [node.serial]);
      const after = await f.call(node.agent, 'GET', '/v1/distributions?after=0');
      t.equal(after.status, 403);
      t.equal(after.json.code, 'ERR_CERT_REVOKED');
      t.equal(handshakes, 1, 'one TLS connection carried both requests');
      f.shiftClock(61_000);
      t.teardown(() => f.shiftClock(0));
      const crl = await parseCrl((await f.call(f.anonymous, 'GET', '/v1/crl')).json as string, { caCertPem: f.caCertPem });
      t.ok(crl.revoked.has(node.serial), 'the next CRL (after the 60 s cache) lists the serial');
      t.equal((await nodesStore.get(ctx.db, '431081'))?.status, 'revoked');
    });
  });
}
