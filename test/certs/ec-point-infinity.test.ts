/**
 * An EC P-256 key whose point is the point at infinity (BIT STRING 00): node:crypto accepts it, and
 * on Node 20 reading its `asymmetricKeyDetails` aborts the whole process (a C++ assertion, not an
 * exception). A hostile CSR (pre-auth at POST /v1/enroll when `suites` is set), an envelope signer,
 * a credit report's certificate (POST /v1/reports/verify, no authentication) could carry one
 * (hostile review of the EC branch, C1/C2). Each reader now takes the curve from the SPKI bytes;
 * before, this file's process died with SIGABRT.
 */
import t from 'tap';
import { createPublicKey } from 'node:crypto';
import { oid, time, tlv, uint } from '../../protocol/der.js';
import { certFromPem, ecCurveOf, keyKind } from '../../protocol/crypto.js';
import { publicKeyDetails } from '../../certs/pki-crypto.js';
import { keyPolicyProblem, parseCsr } from '../../certs/csr.js';
import { generateEcKeyPair } from '../../certs/pki-crypto.js';
import { engines } from '../helpers/db.js';
import { hubFixture } from '../hub/fixture.js';

const cat = (...parts: Buffer[]) => Buffer.concat(parts);
const seq = (...parts: Buffer[]) => tlv(0x30, cat(...parts));
const pem = (label: string, der: Buffer) => `-----BEGIN ${label}-----\n${der.toString('base64').match(/.{1,64}/g)!.join('\n')}\n-----END ${label}-----\n`;
const P256 = seq(oid('1.2.840.10045.2.1'), oid('1.2.840.10045.3.1.7'));
const INFINITY_SPKI = seq(P256, tlv(0x03, Buffer.from([0x00, 0x00])));
const name = (cn: string) => seq(tlv(0x31, seq(oid('2.5.4.3'), tlv(0x0c, Buffer.from(cn)))));
const ECDSA_SHA256 = seq(oid('1.2.840.10045.4.3.2'));
const junkSig = tlv(0x03, cat(Buffer.from([0]), seq(uint(1n), uint(1n))));

const infinityCsr = (cn: string) => pem('CERTIFICATE REQUEST', seq(seq(uint(0n), name(cn), INFINITY_SPKI, tlv(0xa0, Buffer.alloc(0))), ECDSA_SHA256, junkSig));
const infinityCert = () =>
  pem('CERTIFICATE', seq(seq(tlv(0xa0, uint(2n)), uint(0x42n), ECDSA_SHA256, name('Someone'), seq(time(new Date(Date.now() - 60_000)), time(new Date(Date.now() + 86_400_000))), name('430100'), INFINITY_SPKI), ECDSA_SHA256, junkSig));

t.test('the readers of a public key survive the point at infinity', async (t) => {
  const key = createPublicKey({ key: INFINITY_SPKI, format: 'der', type: 'spki' });
  t.equal(key.asymmetricKeyType, 'ec', 'node:crypto takes it for an EC key');
  t.equal(ecCurveOf(key), undefined, 'no curve: it cannot even be written out');
  t.equal(keyKind(key), 'other');
  t.match(publicKeyDetails(INFINITY_SPKI), { type: /^EC \(unnamed/ });
  t.match(keyPolicyProblem(INFINITY_SPKI), /EC/, 'the CA refuses it');
  await t.rejects(parseCsr(infinityCsr('430100')), { code: 'ERR_CSR_KEY_UNSUPPORTED' });
  const cert = (() => {
    try {
      return certFromPem(infinityCert());
    } catch (e) {
      return e as Error;
    }
  })();
  t.ok(cert instanceof Error || cert.keyKind === 'other', 'a certificate carrying it is read (or refused) without aborting');

  // the encodings RFC 5480 does not allow are not P-256 keys either: compressed (02/03) and hybrid (06/07) points
  const good = createPublicKey(generateEcKeyPair().publicKeyPem);
  t.equal(ecCurveOf(good), 'prime256v1');
  t.equal(keyKind(good), 'ec-p256');
  const jwk = good.export({ format: 'jwk' });
  const x = Buffer.from(jwk.x!, 'base64url');
  const y = Buffer.from(jwk.y!, 'base64url');
  for (const [what, point] of [['compressed', cat(Buffer.from([2 + (y[31]! & 1)]), x)], ['hybrid', cat(Buffer.from([6 + (y[31]! & 1)]), x, y)]] as const) {
    const spki = seq(P256, tlv(0x03, cat(Buffer.from([0]), point)));
    const k = (() => {
      try {
        return createPublicKey({ key: spki, format: 'der', type: 'spki' });
      } catch {
        return undefined;
      }
    })();
    if (k) t.not(keyKind(k), 'ec-p256', `a ${what} point is not taken as it came (keyKind ${keyKind(k)})`);
    t.not(keyPolicyProblem(spki), null, `the CA does not certify a ${what} point as sent`);
  }
});

for (const engine of await engines()) {
  t.test(`${engine.name}: POST /v1/enroll with such a CSR, at a hub with a suite policy, does not bring it down`, async (t) => {
    const f = await hubFixture(t, { engine, config: { suites: ['RSA'] } });
    const anon = await f.call(f.anonymous, 'POST', '/v1/enroll', { token: 'x'.repeat(43), csrPem: infinityCsr('430100') });
    t.equal(anon.status, 401, 'without a live token the CSR is not even read');
    t.equal(anon.json.code, 'ERR_TOKEN_INVALID');
    const token = await f.token('430100', 2);
    const withToken = await f.call(f.anonymous, 'POST', '/v1/enroll', { token, csrPem: infinityCsr('430100') });
    t.equal(withToken.status, 400);
    t.equal(withToken.json.code, 'ERR_CSR_KEY_UNSUPPORTED');
    const alive = await f.call(f.anonymous, 'GET', '/healthz');
    t.equal(alive.status, 200, 'the hub is still up');
  });
}
