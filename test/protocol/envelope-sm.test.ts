/**
 * Suite CF1-SM2-SM4GCM-SM3 end to end through seal() and open(): SM2 certificates from an SM2 CA,
 * the GM/T identifiers in the headers, the SM3 ciphertext digest, and the refusals (tampering,
 * relabelling, wrong keys) with the same codes as the RSA/EC suites.
 */
import t from 'tap';
import { createSm2Ca, issueSm2NodeIdentity } from '../../certs/sm2-x509.js';
import { caTrust } from '../../protocol/ca-trust.js';
import { envelopeDigest } from '../../protocol/envelope.js';
import { open, verifyEnvelope } from '../../protocol/open.js';
import { seal } from '../../protocol/seal.js';
import { sm3 } from '../../protocol/sm-crypto.js';
import { SM_SUITE, getSuite } from '../../protocol/suites.js';
import { codeOf, makePki } from './envelope-fixtures.js';

const ca = createSm2Ca({ cn: 'Test SM2 CA' });
const hub = issueSm2NodeIdentity(ca.issuer, '430000');
const changsha = issueSm2NodeIdentity(ca.issuer, '430100');
const trust = caTrust({ caCertPems: [ca.certPem] });
const toHub = { recipient: { nodeId: '430000', keyPem: hub.keyPem }, trust };
const payload = { records: [{ 当事人名称: '张三', 证件号码: '430102199003071234' }], n: 1 };
const base = { type: 'batch' as const, from: '430100', to: '430000', seq: 1, payload, sender: changsha, recipientCertPem: hub.certPem };
const json = (b64: string) => JSON.parse(Buffer.from(b64, 'base64url').toString('utf8')) as Record<string, unknown>;

t.test('SM2 keys pick the SM suite; headers carry the GM/T identifiers; open returns the payload', async (t) => {
  const env = await seal(base);
  t.equal(env.suite, SM_SUITE);
  t.match(getSuite(SM_SUITE), { keyType: 'sm2', jweAlg: 'SGD_SM2_3', jweEnc: 'SGD_SM4_GCM', jwsAlg: 'SGD_SM3_SM2', digest: 'sm3' });
  t.match(json(env.enc.protected), { alg: 'SGD_SM2_3', enc: 'SGD_SM4_GCM', cty: 'json', cf: { id: env.id, type: 'batch', from: '430100', to: '430000' } });
  t.same(json(env.sig.protected), { alg: 'SGD_SM3_SM2' });
  t.equal(Buffer.from(env.enc.iv, 'base64url').length, 12);
  t.equal(Buffer.from(env.enc.tag, 'base64url').length, 16);
  t.equal(Buffer.from(env.enc.encrypted_key, 'base64url')[0], 0x30, 'encrypted_key is the ASN.1 C1C3C2 SEQUENCE');
  const compact = [env.enc.protected, env.enc.encrypted_key, env.enc.iv, env.enc.ciphertext, env.enc.tag].join('.');
  t.equal(envelopeDigest(env), sm3(compact).toString('base64url'), 'digest = SM3 of the JWE compact serialisation');
  t.notMatch(JSON.stringify(env), /张三|430102199003071234/);
  const out = await open(JSON.stringify(env), toHub);
  t.strictSame(out.payload, payload);
  t.equal(out.signer.nodeId, '430100');
  t.equal(out.suite.name, SM_SUITE);
  t.equal(out.digest, envelopeDigest(env));
  const v = await verifyEnvelope(env, { trust });
  t.equal(v.header.id, env.id, 'verifiable without the recipient key');
});

t.test('tampering and relabelling are refused with the usual codes', async (t) => {
  const env = await seal(base);
  const ct = Buffer.from(env.enc.ciphertext, 'base64url');
  ct[0]! ^= 1;
  t.equal(await codeOf(open({ ...env, enc: { ...env.enc, ciphertext: ct.toString('base64url') } }, toHub)), 'ERR_SIGNATURE_INVALID', 'ciphertext changed');
  const sig = Buffer.from(env.sig.signature, 'base64url');
  sig[10]! ^= 1;
  t.equal(await codeOf(open({ ...env, sig: { ...env.sig, signature: sig.toString('base64url') } }, toHub)), 'ERR_SIGNATURE_INVALID', 'signature changed');
  t.equal(await codeOf(open({ ...env, suite: 'CF1-RSA-OAEP-256-A256GCM-PS256' }, toHub)), 'ERR_SIGNATURE_INVALID', 'relabelled as RSA');
  t.equal(await codeOf(open({ ...env, seq: 2 }, toHub)), 'ERR_SIGNATURE_INVALID', 'header changed');
  const other = issueSm2NodeIdentity(ca.issuer, '430000');
  t.equal(await codeOf(open(env, { ...toHub, recipient: { nodeId: '430000', keyPem: other.keyPem } })), 'ERR_DECRYPT_FAILED', 'another SM2 key');
  const foreign = createSm2Ca({ cn: 'Test SM2 CA' });
  t.equal(await codeOf(open(env, { ...toHub, trust: caTrust({ caCertPems: [foreign.certPem] }) })), 'ERR_CERT_UNTRUSTED', 'a CA with the same name and another key');
});

t.test('keys and suites must match', async (t) => {
  const rsa = makePki();
  t.equal(await codeOf(seal({ ...base, suite: SM_SUITE, sender: rsa.changsha })), 'ERR_SUITE_KEY_MISMATCH', 'RSA sender, SM suite');
  t.equal(await codeOf(seal({ ...base, recipientCertPem: rsa.hub.certPem })), 'ERR_SUITE_KEY_MISMATCH', 'SM2 sender, RSA recipient');
  t.equal(await codeOf(seal({ ...base, suite: 'CF1-RSA-OAEP-256-A256GCM-PS256' })), 'ERR_SUITE_KEY_MISMATCH', 'SM2 keys, RSA suite');
  const rsaEnv = await seal({ ...base, sender: rsa.changsha, recipientCertPem: rsa.hub.certPem });
  t.equal(await codeOf(open({ ...rsaEnv, suite: SM_SUITE }, { ...toHub, trust: rsa.trust })), 'ERR_SIGNATURE_INVALID', 'RSA envelope relabelled SM');
});

t.test('suite policy ["SM"]: nothing else is sealed, opened, advertised or negotiated (no downgrade)', async (t) => {
  const { localCapabilities, negotiate } = await import('../../protocol/version.js');
  const { suiteAllowed } = await import('../../protocol/suites.js');
  const rsa = makePki();
  const rsaEnv = await seal({ ...base, sender: rsa.changsha, recipientCertPem: rsa.hub.certPem });
  const refused = { code: 'ERR_SUITE_REFUSED', details: { suite: 'CF1-RSA-OAEP-256-A256GCM-PS256', allowed: ['SM'] } };
  await t.rejects(open(rsaEnv, { recipient: { nodeId: '430000', keyPem: rsa.hub.keyPem }, trust: rsa.trust, suites: ['SM'] }), refused, 'open refuses before any crypto');
  await t.rejects(verifyEnvelope(rsaEnv, { trust: rsa.trust, suites: ['SM'] }), refused);
  await t.rejects(seal({ ...base, sender: rsa.changsha, recipientCertPem: rsa.hub.certPem, suites: ['SM'] }), refused, 'seal refuses too');
  const sm = await seal({ ...base, suites: ['SM'] });
  t.equal((await open(sm, { ...toHub, suites: ['SM'] })).suite.name, SM_SUITE);
  t.same(localCapabilities(['SM']).suites, [SM_SUITE]);
  t.equal(suiteAllowed(SM_SUITE, [SM_SUITE]), true, 'a suite name works as well as a family');
  t.equal(suiteAllowed('CF1-ECDH-ES-A256KW-A256GCM-ES256', ['SM', 'RSA']), false);
  const everything = localCapabilities();
  t.same(negotiate(localCapabilities(['SM']), everything).suite, SM_SUITE, 'an SM-only side negotiates SM with a side that offers everything');
  t.throws(() => negotiate(localCapabilities(['SM']), { versions: ['1.0'], suites: ['CF1-RSA-OAEP-256-A256GCM-PS256'] }), { code: 'ERR_UNKNOWN_SUITE' }, 'a peer that stripped SM from its list gets no fallback');
});

t.test('a third party with the openssl CLI checks the signature and unwraps the content key', async (t) => {
  const { mkdtemp, rm, writeFile, readFile } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { spawnSync } = await import('node:child_process');
  const { signingInput, headerOf } = await import('../../protocol/envelope.js');
  const { sm4GcmDecrypt } = await import('../../protocol/sm-crypto.js');
  const dir = await mkdtemp(join(tmpdir(), 'sm-env-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const f = (n: string) => join(dir, n);
  const ossl = (...args: string[]) => spawnSync('openssl', args, { encoding: 'utf8' });
  const env = await seal(base);
  const der = Buffer.from(env.x5c[0]!, 'base64');
  await writeFile(f('signer.pem'), `-----BEGIN CERTIFICATE-----\n${der.toString('base64').match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`);
  t.equal(ossl('x509', '-in', f('signer.pem'), '-pubkey', '-noout', '-out', f('signer.pub')).status, 0);
  await writeFile(f('data'), `${env.sig.protected}.${signingInput(headerOf(env), env.enc).toString('base64url')}`);
  await writeFile(f('sig'), Buffer.from(env.sig.signature, 'base64url'));
  const v = ossl('pkeyutl', '-verify', '-pubin', '-inkey', f('signer.pub'), '-rawin', '-digest', 'sm3', '-pkeyopt', 'distid:1234567812345678', '-in', f('data'), '-sigfile', f('sig'));
  t.equal(v.status, 0, `${v.stdout}${v.stderr}`);
  await writeFile(f('hub.key'), hub.keyPem);
  await writeFile(f('ek'), Buffer.from(env.enc.encrypted_key, 'base64url'));
  const d = ossl('pkeyutl', '-decrypt', '-inkey', f('hub.key'), '-in', f('ek'), '-out', f('cek'));
  t.equal(d.status, 0, d.stderr);
  const cek = await readFile(f('cek'));
  t.equal(cek.length, 16);
  const b = (s: string) => Buffer.from(s, 'base64url');
  const pt = sm4GcmDecrypt(cek, b(env.enc.iv), b(env.enc.ciphertext), b(env.enc.tag), Buffer.from(env.enc.protected, 'ascii'));
  t.same(JSON.parse(pt.toString('utf8')), payload, 'the key openssl unwrapped decrypts the payload');
});

t.test('the digest comes from the suite, not from how the JWE header is spelled', async (t) => {
  const { canonicalize } = await import('../../protocol/canonical-json.js');
  const { certFromPem, jwsSignDetached, privateKeyFromPem, sha256Joined } = await import('../../protocol/crypto.js');
  const { encBinding, headerOf, signingInput } = await import('../../protocol/envelope.js');
  const { sm2Encrypt, sm4GcmEncrypt, randomBytes } = await import('../../protocol/sm-crypto.js');
  const { sm2PointOf } = await import('../../protocol/sm-jose.js');
  const env = await seal(base);
  // The sender re-encodes the JWE protected header with a leading space (valid JSON, base64url no longer starts with "eyJ").
  const protectedB64 = Buffer.from(` ${JSON.stringify({ alg: 'SGD_SM2_3', enc: 'SGD_SM4_GCM', cty: 'json', cf: encBinding(env) })}`).toString('base64url');
  t.notOk(protectedB64.startsWith('eyJ'));
  const cek = randomBytes(16);
  const iv = randomBytes(12);
  const { ciphertext, tag } = sm4GcmEncrypt(cek, iv, Buffer.from(canonicalize(payload)), Buffer.from(protectedB64, 'ascii'));
  const point = sm2PointOf(certFromPem(hub.certPem).publicKey)!;
  const enc = { protected: protectedB64, encrypted_key: sm2Encrypt(point, cek).toString('base64url'), iv: iv.toString('base64url'), ciphertext: ciphertext.toString('base64url'), tag: tag.toString('base64url') };
  const header = headerOf(env);
  const key = privateKeyFromPem(changsha.keyPem);
  const compact = [enc.protected, enc.encrypted_key, enc.iv, enc.ciphertext, enc.tag];
  const overSha256 = Buffer.from(canonicalize({ header, digest: sha256Joined(compact, '.', 'sha256').toString('base64url') }));
  const downgraded = { ...header, enc, sig: await jwsSignDetached(overSha256, key, { alg: 'SGD_SM3_SM2' }) };
  t.equal(await codeOf(open(downgraded, toHub)), 'ERR_SIGNATURE_INVALID', 'signed over a SHA-256 digest: refused');
  const overSm3 = { ...header, enc, sig: await jwsSignDetached(signingInput(header, enc, 'sm3'), key, { alg: 'SGD_SM3_SM2' }) };
  const out = await open(overSm3, toHub);
  t.strictSame(out.payload, payload);
  t.equal(out.digest, sm3(compact.join('.')).toString('base64url'), 'digested with SM3 whatever the spelling');
  t.equal(signingInput(header, enc).toString(), signingInput(header, enc, 'sm3').toString(), 'the default is the header suite\'s digest');
});
