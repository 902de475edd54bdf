/**
 * The CF1-SM2-SM4GCM-SM3 test vector in docs/protocol.md, recomputed step by step from its inputs
 * (a third party's implementation must produce the same bytes): protected header, SM4-GCM
 * ciphertext and tag, SM2 decryption of encrypted_key, SM3 digest, signing input, and the SM2
 * signature with the standard's fixed k; then the code's own JWS verifier accepts it.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { canonicalize } from '../../protocol/canonical-json.js';
import { envelopeDigest, headerOf, signingInput, type Envelope } from '../../protocol/envelope.js';
import { sm2Decrypt, sm2Sign, sm2Verify, sm3, sm4GcmDecrypt, sm4GcmEncrypt } from '../../protocol/sm-crypto.js';

const doc = readFileSync(new URL('../../docs/protocol.md', import.meta.url), 'utf8');
const m = /<!-- sm-suite-vector -->\n```json\n([\s\S]*?)\n```/.exec(doc);
const v = JSON.parse(m![1]!) as {
  recipientAndSignerKey: { d: string; publicKey: string; userId: string };
  signatureK: string; cek: string; iv: string; protectedHeader: string; plaintext: string; envelope: Envelope; digest: string; signingInput: string;
};
const env = v.envelope;
const key = { d: v.recipientAndSignerKey.d, publicKey: v.recipientAndSignerKey.publicKey };
const b = (s: string) => Buffer.from(s, 'base64url');

t.test('JWE: protected header, SM2-wrapped content key, SM4-GCM ciphertext and tag', async (t) => {
  t.equal(b(env.enc.protected).toString('utf8'), v.protectedHeader);
  t.same(JSON.parse(v.protectedHeader), { alg: 'SGD_SM2_3', enc: 'SGD_SM4_GCM', cty: 'json', cf: { id: env.id, type: env.type, from: env.from, to: env.to } });
  t.equal(sm2Decrypt(key, b(env.enc.encrypted_key)).toString('hex'), v.cek, 'encrypted_key decrypts to cek');
  t.equal(b(env.enc.iv).toString('hex'), v.iv);
  const sealed = sm4GcmEncrypt(Buffer.from(v.cek, 'hex'), Buffer.from(v.iv, 'hex'), Buffer.from(v.plaintext), Buffer.from(env.enc.protected, 'ascii'), 'composed');
  t.equal(sealed.ciphertext.toString('base64url'), env.enc.ciphertext);
  t.equal(sealed.tag.toString('base64url'), env.enc.tag);
  t.equal(sm4GcmDecrypt(Buffer.from(v.cek, 'hex'), b(env.enc.iv), b(env.enc.ciphertext), b(env.enc.tag), Buffer.from(env.enc.protected, 'ascii')).toString(), v.plaintext);
});

t.test('digest, signing input and the SM2 signature (fixed k) are byte for byte the documented ones', async (t) => {
  const compact = [env.enc.protected, env.enc.encrypted_key, env.enc.iv, env.enc.ciphertext, env.enc.tag].join('.');
  t.equal(sm3(compact).toString('base64url'), v.digest);
  t.equal(envelopeDigest(env), v.digest);
  t.equal(canonicalize({ header: headerOf(env), digest: v.digest }), v.signingInput);
  t.equal(signingInput(headerOf(env), env.enc).toString('utf8'), v.signingInput);
  t.equal(b(env.sig.protected).toString('utf8'), '{"alg":"SGD_SM3_SM2"}');
  const bytes = Buffer.from(`${env.sig.protected}.${Buffer.from(v.signingInput).toString('base64url')}`, 'ascii');
  t.equal(sm2Sign(key, bytes, { fixedK: v.signatureK, userId: v.recipientAndSignerKey.userId }).toString('base64url'), env.sig.signature);
  t.equal(sm2Verify(key.publicKey, bytes, b(env.sig.signature)), true);
});
