/**
 * SM2 CRLs used by the running code: trustFromCa reads an SM2-with-SM3 CRL (standard ID
 * 1234567812345678, or the empty ID `credit ca sm2-crl --openssl` signs with), and a revoked SM2
 * node certificate is then refused, for the certificate and for its envelopes.
 */
import t from 'tap';
import { parseCrl } from '../../certs/crl.js';
import { buildSm2Crl, createSm2Ca, issueSm2NodeIdentity } from '../../certs/sm2-x509.js';
import { trustFromCa } from '../../certs/trust.js';
import { open } from '../../protocol/open.js';
import { seal } from '../../protocol/seal.js';

const ca = createSm2Ca({ cn: 'Hunan Provincial Public Credit SM2 CA' });
const hub = issueSm2NodeIdentity(ca.issuer, '430000');
const revokedNode = issueSm2NodeIdentity(ca.issuer, '430100');
const fine = issueSm2NodeIdentity(ca.issuer, '430700');
const entries = [{ serialHex: revokedNode.serialHex, revokedAt: new Date(Date.now() - 60_000) }];

for (const [label, userId] of [['standard ID 1234567812345678', undefined], ['empty ID (--openssl)', '']] as const) {
  t.test(`an SM2 CRL signed with the ${label} revokes through trustFromCa`, async (t) => {
    const crlPem = buildSm2Crl(ca.issuer, entries, { number: 1n, ...(userId === undefined ? {} : { userId }) });
    const crl = await parseCrl(crlPem, { caCertPem: ca.certPem });
    t.ok(crl.revoked.has(revokedNode.serialHex), 'the revoked serial is read');
    const trust = await trustFromCa({ caCertPem: ca.certPem, crlPem });
    t.throws(() => trust.verifySigner(revokedNode.certPem, new Date()), { code: 'ERR_CERT_REVOKED' });
    t.equal(trust.verifySigner(fine.certPem, new Date()).nodeId, '430700', 'a certificate not on the CRL is trusted');
    const env = await seal({ type: 'batch', from: '430100', to: '430000', seq: 1, payload: {}, sender: revokedNode, recipientCertPem: hub.certPem });
    await t.rejects(open(env, { recipient: { nodeId: '430000', keyPem: hub.keyPem }, trust }), { code: 'ERR_CERT_REVOKED' }, 'its envelopes are refused');
  });
}

t.test('an SM2 CRL not signed by this CA, or with another ID, is ERR_CRL_INVALID', async (t) => {
  const impostor = createSm2Ca({ cn: 'Hunan Provincial Public Credit SM2 CA' }); // same name, other key
  const forged = buildSm2Crl(impostor.issuer, [], { number: 2n });
  await t.rejects(trustFromCa({ caCertPem: ca.certPem, crlPem: forged }), { code: 'ERR_CRL_INVALID' });
  const otherId = buildSm2Crl(ca.issuer, entries, { number: 3n, userId: 'ALICE123@YAHOO.COM' });
  await t.rejects(trustFromCa({ caCertPem: ca.certPem, crlPem: otherId }), { code: 'ERR_CRL_INVALID' });
  const otherName = createSm2Ca({ cn: 'Another SM2 CA' });
  const misnamed = buildSm2Crl({ cn: 'Another SM2 CA', key: ca.issuer.key }, [], { number: 4n });
  await t.rejects(trustFromCa({ caCertPem: ca.certPem, crlPem: misnamed }), { code: 'ERR_CRL_INVALID' }, 'issuer name is not the CA subject');
  await t.rejects(trustFromCa({ caCertPem: otherName.certPem, crlPem: buildSm2Crl(ca.issuer, [], { number: 5n }) }), { code: 'ERR_CRL_INVALID' });
  const bytes = Buffer.from(buildSm2Crl(ca.issuer, entries, { number: 6n }).replace(/-----[^-]+-----|\s/g, ''), 'base64');
  bytes[0] = 0x31;
  const retagged = `-----BEGIN X509 CRL-----\n${bytes.toString('base64')}\n-----END X509 CRL-----\n`;
  await t.rejects(trustFromCa({ caCertPem: ca.certPem, crlPem: retagged }), { code: 'ERR_CRL_INVALID' }, 'outer tag 0x31');
});

t.test('an SM2 CRL past its nextUpdate fails closed (ERR_CRL_STALE)', async (t) => {
  const crlPem = buildSm2Crl(ca.issuer, [], { number: 7n, now: new Date(Date.now() - 10 * 86_400_000), nextUpdateDays: 7 });
  const trust = await trustFromCa({ caCertPem: ca.certPem, crlPem });
  t.throws(() => trust.verifySigner(fine.certPem, new Date()), { code: 'ERR_CRL_STALE' });
});
