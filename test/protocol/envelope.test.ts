import t from 'tap';
import { PROTOCOL_VERSION } from '../../protocol/version.js';
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { flattenedDecrypt } from 'jose';
import { canonicalize } from '../../protocol/canonical-json.js';
import { privateKeyFromPem, uuidv7, uuidv7Time } from '../../protocol/crypto.js';
import { envelopeDigest, ENVELOPE_SCHEMA, UUID_V7_PATTERN } from '../../protocol/envelope.js';
import { open, verifyEnvelope } from '../../protocol/open.js';
import { seal } from '../../protocol/seal.js';
import { caTrust } from '../../protocol/ca-trust.js';
import { codeOf, issueEc, makePki } from './envelope-fixtures.js';

const pki = makePki();
const { hub, changsha, trust } = pki;
const toHub = { recipient: { nodeId: '430000', keyPem: hub.keyPem }, trust };

t.test('round trip: random JSON payloads, ids and seqs come back unchanged', async (t) => {
  await fc.assert(
    fc.asyncProperty(
      fc.jsonValue({ stringUnit: 'binary', maxDepth: 4 }),
      fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
      fc.constantFrom('batch', 'receipt', 'distribution', 'query', 'query-answer', 'checkpoint' as const),
      async (payload, seq, type) => {
        const id = uuidv7();
        const env = await seal({ type, from: '430100', to: '430000', seq, id, payload, sender: changsha, recipientCertPem: hub.certPem });
        const out = await open(JSON.stringify(env), toHub);
        return (
          canonicalize(out.payload) === canonicalize(payload) &&
          out.header.id === id &&
          out.header.seq === seq &&
          out.header.type === type &&
          out.signer.nodeId === '430100'
        );
      },
    ),
    { numRuns: 40 },
  );
  t.pass('40 random envelopes');
});

t.test('seal writes the documented header; open returns header, payload and signer', async (t) => {
  const payload = { records: [{ name: '长沙市示例有限公司', amount: 1.5 }], n: null, ok: true };
  const ts = new Date(Date.now() - 1500);
  const env = await seal({ type: 'batch', from: '430100', to: '430000', seq: 7, ts, payload, sender: changsha, recipientCertPem: hub.certPem });
  t.equal(env.v, PROTOCOL_VERSION);
  t.equal(env.suite, 'CF1-RSA-OAEP-256-A256GCM-PS256');
  t.equal(env.ts, ts.toISOString());
  t.match(env.id, new RegExp(UUID_V7_PATTERN));
  t.same(Object.keys(env).sort(), ['enc', 'from', 'id', 'seq', 'sig', 'suite', 'to', 'ts', 'type', 'v', 'x5c']);
  t.same(Object.keys(env.enc).sort(), ['ciphertext', 'encrypted_key', 'iv', 'protected', 'tag']);
  t.same(JSON.parse(Buffer.from(env.sig.protected, 'base64url').toString()), { alg: 'PS256' });
  t.notMatch(JSON.stringify(env), /长沙市示例|amount/, 'the payload is not readable in the envelope');
  const out = await open(Buffer.from(JSON.stringify(env)), { ...toHub, now: ts });
  t.strictSame(out.payload, payload);
  t.equal(out.signer.nodeId, '430100');
  t.equal(BigInt('0x' + out.signer.serial), BigInt('0x' + changsha.serial), 'serial of the signing certificate');
  t.equal(out.digest, envelopeDigest(env));
  t.equal(out.header.from, '430100');
  t.equal((out.header as Record<string, unknown>).enc, undefined, 'header excludes enc/sig');
});

t.test('the JWE is standard: jose decrypts it, and its protected header binds id, type, from and to', async (t) => {
  const env = await seal({ type: 'query', from: '430100', to: '430000', seq: 1, payload: { q: 1 }, sender: changsha, recipientCertPem: hub.certPem });
  const d = await flattenedDecrypt(env.enc, privateKeyFromPem(hub.keyPem));
  t.same(JSON.parse(Buffer.from(d.plaintext).toString()), { q: 1 });
  t.same(d.protectedHeader, { alg: 'RSA-OAEP-256', enc: 'A256GCM', cty: 'json', cf: { id: env.id, type: 'query', from: '430100', to: '430000' } });
  const compact = [env.enc.protected, env.enc.encrypted_key, env.enc.iv, env.enc.ciphertext, env.enc.tag].join('.');
  t.equal(envelopeDigest(env), createHash('sha256').update(compact).digest('base64url'), 'digest = SHA-256 of the JWE compact serialisation');
});

t.test('verifyEnvelope checks sender and signature without the recipient key', async (t) => {
  const env = await seal({ type: 'receipt', from: '430000', to: '430100', seq: 3, payload: { accepted: 2 }, sender: hub, recipientCertPem: changsha.certPem });
  const v = await verifyEnvelope(JSON.stringify(env), { trust });
  t.equal(v.signer.nodeId, '430000');
  t.equal(v.header.to, '430100');
  t.equal(v.suite.name, 'CF1-RSA-OAEP-256-A256GCM-PS256');
  t.equal(await codeOf(open(env, toHub)), 'ERR_WRONG_RECIPIENT', 'the hub cannot open what it sent to 430100');
});

t.test('EC P-256 suite: CF1-ECDH-ES-A256KW-A256GCM-ES256', async (t) => {
  const ecHub = issueEc(pki.ca, '430000');
  const ecNode = issueEc(pki.ca, '430100');
  const env = await seal({ type: 'batch', from: '430100', to: '430000', seq: 1, payload: { a: [1, 2, 3] }, sender: ecNode, recipientCertPem: ecHub.certPem });
  t.equal(env.suite, 'CF1-ECDH-ES-A256KW-A256GCM-ES256', 'chosen from the key type');
  t.equal(JSON.parse(Buffer.from(env.sig.protected, 'base64url').toString()).alg, 'ES256');
  const out = await open(JSON.stringify(env), { recipient: { nodeId: '430000', keyPem: ecHub.keyPem }, trust });
  t.same(out.payload, { a: [1, 2, 3] });
  const d = await flattenedDecrypt(env.enc, privateKeyFromPem(ecHub.keyPem));
  t.equal(d.protectedHeader?.alg, 'ECDH-ES+A256KW', 'jose reads the EC JWE too');
  t.equal(
    await codeOf(seal({ type: 'batch', from: '430100', to: '430000', seq: 1, payload: 1, sender: ecNode, recipientCertPem: hub.certPem })),
    'ERR_SUITE_KEY_MISMATCH',
    'EC sender to RSA recipient: no suite fits',
  );
  t.equal(
    await codeOf(seal({ type: 'batch', from: '430100', to: '430000', seq: 1, payload: 1, suite: 'CF1-RSA-OAEP-256-A256GCM-PS256', sender: ecNode, recipientCertPem: ecHub.certPem })),
    'ERR_SUITE_KEY_MISMATCH',
    'an EC key with the RSA suite',
  );
  const rsaEnv = await seal({ type: 'batch', from: '430100', to: '430000', seq: 1, payload: 1, sender: changsha, recipientCertPem: hub.certPem });
  t.equal(await codeOf(open(rsaEnv, { recipient: { nodeId: '430000', keyPem: ecHub.keyPem }, trust })), 'ERR_DECRYPT_FAILED', 'an EC key cannot open an RSA envelope');
});

t.test('seal refuses what open would refuse', async (t) => {
  const base = { type: 'batch' as const, from: '430100', to: '430000', seq: 1, payload: {}, sender: changsha, recipientCertPem: hub.certPem };
  t.equal(await codeOf(seal({ ...base, from: '430700' })), 'ERR_SENDER_MISMATCH', 'certificate CN ≠ from');
  t.equal(await codeOf(seal({ ...base, to: '430700' })), 'ERR_WRONG_RECIPIENT', 'recipient certificate CN ≠ to');
  t.equal(await codeOf(seal({ ...base, suite: 'CF1-SM2KA-SM4GCM-SM3' })), 'ERR_UNKNOWN_SUITE', 'planned suite');
  t.equal(await codeOf(seal({ ...base, suite: 'ROT13' })), 'ERR_UNKNOWN_SUITE', 'unknown suite');
  t.equal(await codeOf(seal({ ...base, v: '2.0' })), 'ERR_PROTOCOL_VERSION');
  t.equal(await codeOf(seal({ ...base, sender: { keyPem: 'not a key', certPem: changsha.certPem } })), 'ERR_KEY_UNREADABLE');
  t.equal(await codeOf(seal({ ...base, recipientCertPem: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n' })), 'ERR_KEY_UNREADABLE');
  t.equal(await codeOf(seal({ ...base, sender: { keyPem: pki.changde.keyPem, certPem: changsha.certPem } })), 'ERR_SUITE_KEY_MISMATCH', 'key of another certificate');
  t.equal(await codeOf(seal({ ...base, payload: { x: NaN } })), 'ERR_CANONICAL_JSON');
  t.equal(await codeOf(seal({ ...base, extra: { seq: 5 } })), 'ERR_ENVELOPE_MALFORMED', 'extra may not shadow a standard field');
  try {
    await seal({ ...base, seq: 0, ts: new Date(NaN), id: 'nope', type: 'gossip' as never });
    t.fail('should throw');
  } catch (e) {
    const err = e as { code: string; details: Array<{ field: string }> };
    t.equal(err.code, 'ERR_ENVELOPE_MALFORMED');
    t.same(err.details.map((d) => d.field).sort(), ['id', 'seq', 'ts', 'type'], 'every bad field at once');
  }
});

t.test('a signer outside the trust policy is refused whatever the envelope says', async (t) => {
  const env = await seal({ type: 'batch', from: '430100', to: '430000', seq: 1, payload: {}, sender: changsha, recipientCertPem: hub.certPem });
  const other = caTrust({ caCertPems: [makePki().ca.certPem] });
  t.equal(await codeOf(verifyEnvelope(env, { trust: other })), 'ERR_CERT_UNTRUSTED');
});

t.test('uuidv7: version 7, variant 10, time-ordered, unique, carries its time', async (t) => {
  const ids = Array.from({ length: 5000 }, () => uuidv7());
  t.ok(ids.every((id) => new RegExp(UUID_V7_PATTERN).test(id)), 'all match the schema pattern');
  t.equal(new Set(ids).size, ids.length, 'unique');
  t.ok(ids.every((id, i) => i === 0 || ids[i - 1]! < id), 'strictly increasing as strings');
  const at = new Date('2026-04-01T00:00:00.000Z');
  t.equal(uuidv7Time(uuidv7(at)).toISOString(), at.toISOString());
  t.ok(Math.abs(uuidv7Time(uuidv7()).getTime() - Date.now()) < 60_000);
  t.equal(ENVELOPE_SCHEMA.properties.id.pattern, UUID_V7_PATTERN);
});
