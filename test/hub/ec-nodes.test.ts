/**
 * EC P-256 nodes at the hub (issue 23): the hub holds an EC identity beside its RSA one (one for
 * every hub process on the store), enrols EC nodes, opens their envelopes under
 * CF1-ECDH-ES-A256KW-A256GCM-ES256 and answers them under it — receipts, the distribution feed,
 * query answers — while RSA nodes keep the RSA suite; records cross between the two both ways.
 * A hub whose policy admits no EC suite refuses an EC node and an EC envelope (ERR_SUITE_REFUSED).
 */
import t from 'tap';
import { enrol } from '../../certs/issue.js';
import { createNodeKeys } from '../../certs/node-keys.js';
import { tlsClientOptions } from '../../certs/tls.js';
import { certFromDerB64, certFromPem } from '../../protocol/crypto.js';
import type { DistributionPayload, QueryAnswerPayload, ReceiptPayload } from '../../protocol/exchange.js';
import { seal } from '../../protocol/seal.js';
import { Agent } from 'undici';
import { nodesStore } from '../../hub/nodes-store.js';
import { hubFixture, wire, type HubFixture, type TestNode } from './fixture.js';
import { initSm2CaDir } from '../../certs/sm2-ca-dir.js';
import { createSm2Csr } from '../../certs/sm2-x509.js';
import { sm2GenerateKeyPem } from '../../protocol/sm-crypto.js';

const EC = 'CF1-ECDH-ES-A256KW-A256GCM-ES256';
const RSA = 'CF1-RSA-OAEP-256-A256GCM-PS256';

async function push(f: HubFixture, node: TestNode, payload: unknown): Promise<{ suite: string; receipt: ReceiptPayload; signerKind: string }> {
  const res = await f.call(node.agent, 'POST', '/v1/batches', await f.sealFrom(node, 'batch', payload));
  if (res.status !== 200) throw new Error(`batch refused: ${JSON.stringify(res.json)}`);
  const opened = await f.openAs<ReceiptPayload>(node, res.json);
  return { suite: opened.header.suite, receipt: opened.payload, signerKind: certFromDerB64(opened.header.x5c[0]!).keyKind };
}

t.test('a mixed federation: an RSA node and an EC node exchange records through one hub, both ways', async (t) => {
  const f = await hubFixture(t);
  const ctx = f.hub.app.hubCtx;
  t.ok(ctx.identity.ec, 'the hub holds an EC identity');
  const hubEc = certFromPem(ctx.identity.ec!.certPem);
  t.equal(hubEc.keyKind, 'ec-p256');
  t.equal(hubEc.cn, '430000');
  t.ok(hubEc.issuedBy(certFromPem(f.caCertPem)), 'issued by the provincial (RSA) root');
  t.equal((await ctx.ca.certs.findIssued(hubEc.serial))?.status, 'active', 'in the register like the RSA one');

  const rsaNode = await f.enrol('430100', 3);
  const ecNode = await f.enrol('430700', 3, { algorithm: 'p256' });
  t.equal(certFromPem(ecNode.certPem).keyKind, 'ec-p256', 'the EC node got an EC certificate');
  t.equal(ecNode.hubCertPem, ctx.identity.ec!.certPem, 'the enrolment answer names the hub certificate of the node\'s key type');
  t.equal(rsaNode.hubCertPem, ctx.identity.certPem, 'an RSA node is answered as before');

  const fromRsa = wire('XK');
  const fromEc = wire('XK', { fields: { decisionNo: '常市监食许〔2026〕23号' } });
  const a = await push(f, rsaNode, { records: [fromRsa], withdrawals: [] });
  t.same([a.suite, a.signerKind], [RSA, 'rsa'], 'the RSA node\'s receipt: RSA suite, the hub\'s RSA key');
  t.same(a.receipt.accepted, [fromRsa.id]);
  const b = await push(f, ecNode, { records: [fromEc], withdrawals: [] });
  t.same([b.suite, b.signerKind], [EC, 'ec-p256'], 'the EC node\'s receipt: EC suite, signed by the hub\'s EC key');
  t.same(b.receipt.accepted, [fromEc.id]);

  const feed = async (node: TestNode) => {
    const res = await f.call(node.agent, 'GET', '/v1/distributions?after=0');
    t.equal(res.status, 200, JSON.stringify(res.json));
    const opened = await f.openAs<DistributionPayload>(node, res.json);
    return { suite: opened.header.suite, ids: opened.payload.items.map((i) => (i.kind === 'record' ? i.record.id : i.id)) };
  };
  t.same(await feed(ecNode), { suite: EC, ids: [fromRsa.id] }, 'the RSA node\'s record reaches the EC node, sealed EC');
  t.same(await feed(rsaNode), { suite: RSA, ids: [fromEc.id] }, 'the EC node\'s record reaches the RSA node, sealed RSA');

  const env = await f.sealFrom(ecNode, 'query', { subject: String(fromRsa.fields.uscc), actor: 'user:alice', clearance: 'public' });
  t.equal(env.suite, EC);
  const q = await f.call(ecNode.agent, 'POST', '/v1/queries', env);
  t.equal(q.status, 200, JSON.stringify(q.json));
  t.equal(q.json.suite, EC, 'the query answer is sealed EC');
  const answer = await f.openAs<QueryAnswerPayload>(ecNode, q.json);
  t.same(answer.payload.records.map((r) => r.id).sort(), [fromRsa.id, fromEc.id].sort(), 'both records of the subject (one from each node) answer the EC node\'s query');

  const info = await f.call(f.anonymous, 'GET', '/v1/protocol');
  t.equal(info.json.suiteCerts[EC], ctx.identity.ec!.certPem, 'GET /v1/protocol names the hub certificate per suite');
  t.equal(info.json.suiteCerts[RSA], ctx.identity.certPem);
  t.equal(info.json.hubCertPem, ctx.identity.certPem, 'hubCertPem stays the RSA one (older nodes)');

  const wrongKey = await seal({ type: 'batch', from: '430700', to: '430000', seq: ecNode.seq, payload: { records: [], withdrawals: [] }, sender: { keyPem: ecNode.keyPem, certPem: ecNode.certPem }, recipientCertPem: ctx.identity.ec!.certPem, suite: RSA }).catch((e: { code?: string }) => e.code);
  t.equal(wrongKey, 'ERR_SUITE_KEY_MISMATCH', 'an EC node cannot seal RSA');
});

t.test('a hub whose policy admits no EC suite: an EC enrolment and an EC envelope are ERR_SUITE_REFUSED', async (t) => {
  const f = await hubFixture(t, { config: { suites: ['RSA'] } });
  const ctx = f.hub.app.hubCtx;
  const tok = await f.token('430700', 3);
  const refused = await f.call(f.anonymous, 'POST', '/v1/enroll', { token: tok, csrPem: createNodeKeys('430700', 'p256').csrPem });
  t.equal(refused.status, 400);
  t.equal(refused.json.code, 'ERR_SUITE_REFUSED');
  t.match(refused.json.message, /--algorithm rsa/);
  // the token was not spent: the same node enrols with RSA
  const rsa = await f.call(f.anonymous, 'POST', '/v1/enroll', { token: tok, csrPem: createNodeKeys('430700', 'rsa').csrPem });
  t.equal(rsa.status, 200, JSON.stringify(rsa.json));

  // an EC node certified by the operator outside /v1/enroll (the CA issues EC whatever the policy) still cannot exchange
  const keys = createNodeKeys('430181', 'p256');
  const c = await enrol(ctx.ca, { token: await f.token('430181', 2), csrPem: keys.csrPem });
  await nodesStore.enrolled(ctx.db, { nodeId: '430181', grade: 2, now: new Date().toISOString() });
  const agent = new Agent({ connect: tlsClientOptions({ caCertPem: f.caCertPem, certPem: c.certPem, keyPem: keys.keyPem, expectNodeId: '430000' }) });
  t.teardown(() => agent.close());
  const env = await seal({ type: 'batch', from: '430181', to: '430000', seq: 1, payload: { records: [], withdrawals: [] }, sender: { keyPem: keys.keyPem, certPem: c.certPem }, recipientCertPem: ctx.identity.ec!.certPem });
  t.equal(env.suite, EC);
  const r = await f.call(agent, 'POST', '/v1/batches', env);
  t.equal(r.status, 400);
  t.equal(r.json.code, 'ERR_SUITE_REFUSED');
  t.same(r.json.details, { suite: EC, allowed: ['RSA'] });
  const info = await f.call(f.anonymous, 'GET', '/v1/protocol');
  t.same(info.json.suites, [RSA]);
  t.same(Object.keys(info.json.suiteCerts), [RSA], 'no EC certificate is offered');
});

t.test('the suite policy for every key type, at enrolment and at renewal: an RSA key at an EC-only hub, an EC key renewing at an RSA-only hub', async (t) => {
  const ecOnly = await hubFixture(t, { config: { suites: ['EC'] } });
  const tok = await ecOnly.token('430700', 3);
  const refused = await ecOnly.call(ecOnly.anonymous, 'POST', '/v1/enroll', { token: tok, csrPem: createNodeKeys('430700', 'rsa').csrPem });
  t.equal(refused.status, 400);
  t.equal(refused.json.code, 'ERR_SUITE_REFUSED', 'an RSA node could enrol at an EC-only hub but never exchange');
  t.match(refused.json.message, /EC P-256/);
  const ec = await ecOnly.call(ecOnly.anonymous, 'POST', '/v1/enroll', { token: tok, csrPem: createNodeKeys('430700', 'p256').csrPem });
  t.equal(ec.status, 200, 'the token was not spent: the same node enrols with an EC key');

  const rsaOnly = await hubFixture(t, { config: { suites: ['RSA'] } });
  const node = await rsaOnly.enrol('430100', 3);
  const renew = await rsaOnly.call(node.agent, 'POST', '/v1/renew', { csrPem: createNodeKeys('430100', 'p256').csrPem });
  t.equal(renew.status, 400);
  t.equal(renew.json.code, 'ERR_SUITE_REFUSED', 'a renewal to a key the policy cannot seal for is refused before the renewal window is even looked at');
  t.same(renew.json.details, { keyType: 'ec-p256', allowed: ['RSA'] }, 'the refusal names what the policy admits (a renewing node reads it: node/exchange/renewal.ts)');
  const rsaRenew = await rsaOnly.call(node.agent, 'POST', '/v1/renew', { csrPem: createNodeKeys('430100', 'rsa').csrPem });
  t.equal(rsaRenew.json.code, 'ERR_RENEWAL_TOO_EARLY', 'an RSA renewal goes on to the usual checks');
});

t.test('an SM2 request exempts a key from the policy only where the policy admits SM: RSA + SM2 at an EC-only hub with an SM2 root is ERR_SUITE_REFUSED', async (t) => {
  const f = await hubFixture(t, { config: { suites: ['EC'] }, prepare: (c) => void initSm2CaDir(c.caDir, { cn: 'Test SM2 root (EC-only hub)' }) });
  const tok = await f.token('430700', 3);
  const sm2 = sm2GenerateKeyPem();
  const r = await f.call(f.anonymous, 'POST', '/v1/enroll', { token: tok, csrPem: createNodeKeys('430700', 'rsa').csrPem, sm2CsrPem: createSm2Csr('430700', sm2.privateKeyPem) });
  t.equal(r.status, 400);
  t.equal(r.json.code, 'ERR_SUITE_REFUSED', 'neither RSA nor SM is admitted: the node could never exchange');
  const ec = await f.call(f.anonymous, 'POST', '/v1/enroll', { token: tok, csrPem: createNodeKeys('430700', 'p256').csrPem });
  t.equal(ec.status, 200, 'the token was not spent');
});
