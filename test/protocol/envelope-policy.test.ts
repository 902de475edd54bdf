/** Policy failures of open()/verifyEnvelope(): each has its own code. */
import t from 'tap';
import { SUPPORTED_VERSIONS } from '../../protocol/version.js';
import { issue, makeCa } from '../helpers/pki.js';
import { canonicalize } from '../../protocol/canonical-json.js';
import { certFromPem, jweEncrypt, jwsSignDetached, privateKeyFromPem } from '../../protocol/crypto.js';
import { encBinding, headerOf, signingInput, type Envelope } from '../../protocol/envelope.js';
import { initialFreshness, type FreshnessState } from '../../protocol/freshness.js';
import { open, verifyEnvelope } from '../../protocol/open.js';
import { seal, type SealInput } from '../../protocol/seal.js';
import { caTrust } from '../../protocol/ca-trust.js';
import { codeOf, forge, makePki, resign } from './envelope-fixtures.js';

const pki = makePki();
const { ca, hub, changsha, changde, trust } = pki;
const toHub = { recipient: { nodeId: '430000', keyPem: hub.keyPem }, trust };
const base: SealInput = { type: 'batch', from: '430100', to: '430000', seq: 1, payload: { n: 1 }, sender: changsha, recipientCertPem: hub.certPem };
const failure = (p: Promise<unknown>) => p.then(() => ({ code: 'resolved', details: undefined }), (e: unknown) => e as { code: string; details: unknown });

t.test('wrong recipient → ERR_WRONG_RECIPIENT', async (t) => {
  const env = await seal(base);
  t.match(await failure(open(env, { recipient: { nodeId: '430700', keyPem: changde.keyPem }, trust })), { code: 'ERR_WRONG_RECIPIENT', details: { to: '430000', recipient: '430700' } });
});

t.test('unknown or planned suite → ERR_UNKNOWN_SUITE', async (t) => {
  const env = await seal(base);
  t.match(await failure(open({ ...env, suite: 'ROT13' }, toHub)), { code: 'ERR_UNKNOWN_SUITE', details: { suite: 'ROT13', usable: ['CF1-RSA-OAEP-256-A256GCM-PS256', 'CF1-ECDH-ES-A256KW-A256GCM-ES256'] } });
  t.equal(await codeOf(open({ ...env, suite: 'CF1-SM2KA-SM4GCM-SM3' }, toHub)), 'ERR_UNKNOWN_SUITE', 'planned, not usable');
});

t.test('unknown major version → ERR_PROTOCOL_VERSION listing the versions spoken, before any other check', async (t) => {
  const env = await seal(base);
  t.match(await failure(open({ ...env, v: '2.0' }, toHub)), { code: 'ERR_PROTOCOL_VERSION', details: { supported: [...SUPPORTED_VERSIONS], got: '2.0' } });
  t.match(await failure(open({ v: '3.1', whatever: true }, toHub)), { code: 'ERR_PROTOCOL_VERSION', details: { supported: [...SUPPORTED_VERSIONS] } }, 'even when the rest is a different shape');
  t.equal(await codeOf(open({ ...env, v: '0.9' }, toHub)), 'ERR_PROTOCOL_VERSION');
  t.equal(await codeOf(open({ ...env, v: 'one' }, toHub)), 'ERR_ENVELOPE_MALFORMED', 'not MAJOR.MINOR at all');
});

t.test('a higher minor of a known major is accepted; its extra header fields are ignored but signed', async (t) => {
  const env = await seal({ ...base, v: '1.7', extra: { priority: 'high', hints: { compress: false } } });
  const out = await open(JSON.stringify(env), toHub);
  t.equal(out.header.v, '1.7');
  t.equal(out.header.priority, 'high', 'extra field handed back untouched');
  t.same(out.payload, { n: 1 });
  t.equal(await codeOf(open({ ...env, priority: 'low' }, toHub)), 'ERR_SIGNATURE_INVALID', 'changing it breaks the signature');
});

t.test('freshness through open(): replay, out of order, gap, stale, future', async (t) => {
  let state: FreshnessState = initialFreshness();
  const now = new Date();
  const e1 = await seal({ ...base, seq: 1, ts: now });
  const e2 = await seal({ ...base, seq: 2, ts: now });
  const e4 = await seal({ ...base, seq: 4, ts: now });
  const r1 = await open(e1, { ...toHub, now, freshness: { state } });
  state = r1.freshness!;
  t.equal(state.lastSeq, 1);
  t.equal(await codeOf(open(e1, { ...toHub, now, freshness: { state } })), 'ERR_REPLAY', 'the same envelope again');
  t.equal(await codeOf(open(e4, { ...toHub, now, freshness: { state } })), 'ERR_SEQUENCE_GAP', 'seq 4 after 1');
  const r2 = await open(e2, { ...toHub, now, freshness: { state: async (from) => (from === '430100' ? state : initialFreshness()) } });
  state = r2.freshness!;
  const late = await seal({ ...base, seq: 2, ts: now });
  t.equal(await codeOf(open(late, { ...toHub, now, freshness: { state } })), 'ERR_OUT_OF_ORDER', 'a new id with an old seq');
  t.equal((await open(e4, { ...toHub, now, freshness: { state, allowGaps: true } })).freshness!.lastSeq, 4, 'allowGaps accepts the gap');

  const old = await seal({ ...base, ts: new Date(now.getTime() - 6 * 60_000) });
  t.match(await failure(open(old, { ...toHub, now })), { code: 'ERR_STALE_TIMESTAMP', details: { direction: 'past', windowMs: 300_000 } }, 'default ±5 min');
  const ahead = await seal({ ...base, ts: new Date(now.getTime() + 6 * 60_000) });
  t.match(await failure(open(ahead, { ...toHub, now })), { code: 'ERR_STALE_TIMESTAMP', details: { direction: 'future' } });
  t.equal(await codeOf(open(old, { ...toHub, now, freshness: { windowMs: 10 * 60_000 } })), 'resolved', 'a wider window');
  t.equal(await codeOf(open(old, { ...toHub, now, freshness: false })), 'resolved', 'freshness: false');
});

t.test('signer certificate: other CA, expired, not yet valid, revoked', async (t) => {
  const stranger = issue(makeCa('Some Other CA'), '430100');
  const env = await seal({ ...base, sender: stranger });
  t.equal(await codeOf(open(env, toHub)), 'ERR_CERT_UNTRUSTED', 'issued by another CA');

  const day = 86400_000;
  const expired = issue(ca, '430100', { notBefore: new Date(Date.now() - 3 * day), notAfter: new Date(Date.now() - day) });
  const e2 = await seal({ ...base, sender: expired, ts: new Date() });
  t.equal(await codeOf(open(e2, toHub)), 'ERR_CERT_EXPIRED', 'expired');
  // A certificate that lived for 20 s right after the CA was made: expired now, valid when it signed.
  const caStart = certFromPem(ca.certPem).notBefore.getTime();
  const shortLived = issue(ca, '430100', { notBefore: new Date(caStart), notAfter: new Date(caStart + 20_000) });
  const e3 = await seal({ ...base, sender: shortLived, ts: new Date(caStart + 10_000) });
  t.equal(await codeOf(verifyEnvelope(e3, { trust })), 'ERR_CERT_EXPIRED', 'checked now: expired');
  t.equal((await verifyEnvelope(e3, { trust, now: new Date(e3.ts) })).signer.nodeId, '430100', 'an auditor checking at the envelope time accepts it');
  const future = issue(ca, '430100', { notBefore: new Date(Date.now() + day), notAfter: new Date(Date.now() + 2 * day) });
  t.equal(await codeOf(open(await seal({ ...base, sender: future }), toHub)), 'ERR_CERT_EXPIRED', 'not yet valid');

  const revokedTrust = caTrust({ caCertPems: [ca.certPem], isRevoked: (serial) => BigInt('0x' + serial) === BigInt('0x' + changsha.serial) });
  const e4 = await seal(base);
  t.equal(await codeOf(open(e4, { ...toHub, trust: revokedTrust })), 'ERR_CERT_REVOKED');
  t.equal(await codeOf(verifyEnvelope(e4, { trust: revokedTrust })), 'ERR_CERT_REVOKED', 'auditors see it too');
});

t.test('sender mismatch: validly signed by 430700 but claiming to be from 430100 → ERR_SENDER_MISMATCH', async (t) => {
  const honest = await seal({ ...base, from: '430700', sender: changde });
  const header = { ...headerOf(honest), from: '430100' };
  const lying = await forge({ header, payload: { n: 1 }, signerKeyPem: changde.keyPem, recipientCertPem: hub.certPem });
  t.match(await failure(open(lying, toHub)), { code: 'ERR_SENDER_MISMATCH', details: { from: '430100', signer: '430700' } });
  t.equal(await codeOf(verifyEnvelope(lying, { trust })), 'ERR_SENDER_MISMATCH');
});

t.test('oversized envelope → ERR_ENVELOPE_TOO_LARGE (string, bytes or parsed)', async (t) => {
  const env = await seal({ ...base, payload: { blob: 'x'.repeat(50_000) } });
  const text = JSON.stringify(env);
  const small = { ...toHub, maxBytes: 40_000 };
  t.match(await failure(open(text, small)), { code: 'ERR_ENVELOPE_TOO_LARGE', details: { bytes: Buffer.byteLength(text), maxBytes: 40_000 } });
  t.equal(await codeOf(open(Buffer.from(text), small)), 'ERR_ENVELOPE_TOO_LARGE');
  t.equal(await codeOf(open(env, small)), 'ERR_ENVELOPE_TOO_LARGE');
  t.equal(await codeOf(verifyEnvelope(text, { trust, maxBytes: 40_000 })), 'ERR_ENVELOPE_TOO_LARGE');
  t.equal(await codeOf(open(text, toHub)), 'resolved', 'fits the default limit');
});

t.test('decryption failures → ERR_DECRYPT_FAILED', async (t) => {
  const env = await seal(base);
  t.equal(await codeOf(open(env, { recipient: { nodeId: '430000', keyPem: changde.keyPem }, trust })), 'ERR_DECRYPT_FAILED', 'right address, wrong key');
  const misencrypted = await forge({ header: headerOf(env), payload: { n: 1 }, signerKeyPem: changsha.keyPem, recipientCertPem: changde.certPem });
  t.equal(await codeOf(open(misencrypted, toHub)), 'ERR_DECRYPT_FAILED', 'encrypted to another certificate');
  const messages = new Set([await failure(open(env, { recipient: { nodeId: '430000', keyPem: changde.keyPem }, trust })), await failure(open(misencrypted, toHub))].map((e) => String((e as unknown as Error).message).replace(/envelope \S+/, 'envelope X')));
  t.equal(messages.size, 1, 'key unwrap failures read the same whatever the cause (no oracle)');
});

t.test('malformed input → ERR_ENVELOPE_MALFORMED with every bad field listed', async (t) => {
  t.match(await failure(open('{not json', toHub)), { code: 'ERR_ENVELOPE_MALFORMED', details: [{ field: '$' }] });
  t.equal(await codeOf(open('[1,2]', toHub)), 'ERR_ENVELOPE_MALFORMED');
  t.equal(await codeOf(open(null, toHub)), 'ERR_ENVELOPE_MALFORMED');
  const env = await seal(base);
  const bad = { ...env, from: '4301', seq: -1, ts: '2026-02-30T00:00:00.000Z', x5c: [], enc: { ...env.enc, extra: 'x' } };
  const err = await failure(open(bad, toHub));
  t.equal(err.code, 'ERR_ENVELOPE_MALFORMED');
  t.same((err.details as Array<{ field: string }>).map((d) => d.field).sort(), ['enc.extra', 'from', 'seq', 'ts', 'x5c']);
  const h = headerOf(env);
  const enc = jweEncrypt(Buffer.from('not json'), certFromPem(hub.certPem).publicKey, { alg: 'RSA-OAEP-256', enc: 'A256GCM', cf: encBinding(h) });
  const sig = await jwsSignDetached(signingInput(h, enc), privateKeyFromPem(changsha.keyPem), { alg: 'PS256' });
  t.match(await failure(open({ ...h, enc, sig } as Envelope, toHub)), { code: 'ERR_ENVELOPE_MALFORMED', details: [{ field: 'payload' }] }, 'signed garbage plaintext');
  t.equal(canonicalize(JSON.parse('{"b":1,"a":2}')), '{"a":2,"b":1}');
  const renamed = await resign(env, { ...h, x5c: ['AAAA'] }, changsha.keyPem);
  t.equal(await codeOf(open(renamed, toHub)), 'ERR_SIGNATURE_INVALID', 'an unreadable certificate cannot verify anything');
});
