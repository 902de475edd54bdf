/**
 * ECDH-ES+A256KW honours `apu` / `apv` (RFC 7518 §4.6.2, issue 23): the Concat KDF against the
 * RFC's Appendix C vector, and JWEs exchanged both ways with jose, the reference implementation.
 */
import { createPublicKey, createPrivateKey, diffieHellman, generateKeyPairSync } from 'node:crypto';
import t from 'tap';
import { FlattenedEncrypt, flattenedDecrypt } from 'jose';
import { concatKdf, jweDecrypt, jweEncrypt, type FlattenedJwe } from '../../protocol/crypto.js';

const ALGS = { alg: 'ECDH-ES+A256KW', enc: 'A256GCM' };
const recipient = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });

t.test('Concat KDF: RFC 7518 Appendix C (ECDH-ES, A128GCM, apu "Alice", apv "Bob")', async (t) => {
  // the appendix's keys: Alice's ephemeral private key and Bob's public key
  const alice = createPrivateKey({ format: 'jwk', key: { kty: 'EC', crv: 'P-256', x: 'gI0GAILBdu7T53akrFmMyGcsF3n5dO7MmwNBHKW5SV0', y: 'SLW_xSffzlPWrHEVI30DHM_4egVwt3NQqeUD7nMFpps', d: '0_NxaRPUMQoAJt50Gz8YiTr8gRTwyEaCumd-MToTmIo' } });
  const bob = createPublicKey({ format: 'jwk', key: { kty: 'EC', crv: 'P-256', x: 'weNJy2HscCSM6AEDTDg04biOvhFhyyWvOHQfeF_PxMQ', y: 'e8lnCO-AlStT-NJVX-crhB7QRYhiix03illJOVAOyck' } });
  const z = diffieHellman({ privateKey: alice, publicKey: bob });
  t.same([...z], [158, 86, 217, 29, 129, 113, 53, 211, 114, 131, 66, 131, 191, 132, 38, 156, 251, 49, 110, 163, 218, 128, 106, 72, 246, 218, 167, 121, 140, 254, 144, 196], 'Z as the appendix prints it');
  const key = concatKdf(z, 'A128GCM', Buffer.from('Alice'), Buffer.from('Bob'), 128);
  t.equal(key.toString('base64url'), 'VqqN6vgjbSBcIijNcacQGg', 'the derived key of Appendix C');
  t.not(concatKdf(z, 'A128GCM', Buffer.alloc(0), Buffer.alloc(0), 128).toString('base64url'), 'VqqN6vgjbSBcIijNcacQGg', 'empty apu/apv give another key');
});

t.test('a JWE made by jose with apu/apv opens with our code', async (t) => {
  const plaintext = Buffer.from('{"records":["长沙"]}');
  const jwe = await new FlattenedEncrypt(plaintext)
    .setProtectedHeader(ALGS)
    .setKeyManagementParameters({ apu: Buffer.from('430100'), apv: Buffer.from('430000') })
    .encrypt(recipient.publicKey);
  const header = JSON.parse(Buffer.from(jwe.protected!, 'base64url').toString()) as Record<string, unknown>;
  t.equal(header.apu, Buffer.from('430100').toString('base64url'), 'jose put apu in the protected header');
  t.equal(header.apv, Buffer.from('430000').toString('base64url'));
  const out = jweDecrypt(jwe as FlattenedJwe, recipient.privateKey, ALGS);
  t.equal(Buffer.from(out).toString(), plaintext.toString());
});

t.test('a JWE we make with apu/apv opens with jose', async (t) => {
  const jwe = jweEncrypt(Buffer.from('hello'), recipient.publicKey, { ...ALGS, apu: Buffer.from('Alice').toString('base64url'), apv: Buffer.from('Bob').toString('base64url') });
  const d = await flattenedDecrypt(jwe, recipient.privateKey);
  t.equal(Buffer.from(d.plaintext).toString(), 'hello');
  t.equal(d.protectedHeader?.apu, 'QWxpY2U');
  t.equal(d.protectedHeader?.apv, 'Qm9i');
  const plain = jweEncrypt(Buffer.from('no party info'), recipient.publicKey, ALGS);
  t.equal(Buffer.from((await flattenedDecrypt(plain, recipient.privateKey)).plaintext).toString(), 'no party info', 'without apu/apv (our envelopes) too');
});

/** The JWE with its protected header rewritten by `edit` (everything else untouched). */
function withHeader(jwe: FlattenedJwe, edit: (h: Record<string, unknown>) => void): FlattenedJwe {
  const h = JSON.parse(Buffer.from(jwe.protected, 'base64url').toString()) as Record<string, unknown>;
  edit(h);
  return { ...jwe, protected: Buffer.from(JSON.stringify(h)).toString('base64url') };
}

t.test('a tampered or malformed apu/apv does not open', async (t) => {
  const jwe = (await new FlattenedEncrypt(Buffer.from('x'))
    .setProtectedHeader(ALGS)
    .setKeyManagementParameters({ apu: Buffer.from('430100'), apv: Buffer.from('430000') })
    .encrypt(recipient.publicKey)) as FlattenedJwe;
  t.throws(() => jweDecrypt(withHeader(jwe, (h) => (h.apu = Buffer.from('430700').toString('base64url'))), recipient.privateKey, ALGS), 'another apu');
  t.throws(() => jweDecrypt(withHeader(jwe, (h) => delete h.apv), recipient.privateKey, ALGS), 'apv dropped');
  t.throws(() => jweDecrypt(withHeader(jwe, (h) => (h.apu = 430100)), recipient.privateKey, ALGS), /apu is not a base64url string/, 'apu not a string');
  t.throws(() => jweDecrypt(withHeader(jwe, (h) => (h.apv = 'NDMw+DAw')), recipient.privateKey, ALGS), /apv is not a base64url string/, 'apv in base64, not base64url');
  t.throws(() => jweEncrypt(Buffer.from('x'), recipient.publicKey, { ...ALGS, apu: 'not base64url!' }), /apu is not a base64url string/, 'we do not make one either');
  await t.rejects(flattenedDecrypt(withHeader(jwe, (h) => (h.apu = Buffer.from('430700').toString('base64url'))), recipient.privateKey), 'jose refuses the tampered one too');
});
