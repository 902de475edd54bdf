/**
 * SM2 interoperability with the openssl CLI (OpenSSL 3), both ways: a signature made here verifies
 * with `openssl pkeyutl -verify -rawin -digest sm3 -pkeyopt distid:1234567812345678` and one made
 * there verifies here; a message encrypted there (`pkeyutl -encrypt`, GM/T 0009 ASN.1 C1C3C2)
 * decrypts here and one encrypted here decrypts there.
 */
import t from 'tap';
import type { Test } from 'tap';
import { readFile, writeFile } from 'node:fs/promises';
import { sm2Decrypt, sm2Encrypt, sm2GenerateKeyPem, sm2KeyFromPem, sm2Sign, sm2Spki, sm2Verify, SM2_DEFAULT_ID } from '../../protocol/sm-crypto.js';
import { openssl, tempDir, writeAll } from '../certs/support.js';

const pemOf = (label: string, der: Buffer) => `-----BEGIN ${label}-----\n${der.toString('base64').match(/.{1,64}/g)!.join('\n')}\n-----END ${label}-----\n`;
const { privateKeyPem, publicKey } = sm2GenerateKeyPem();
const key = sm2KeyFromPem(privateKeyPem);
const message = Buffer.from('{"header":{"id":"0190f0e0-0000-7000-8000-000000000000"},"digest":"…"}');

async function files(t: Test) {
  const dir = await tempDir(t, 'sm2-');
  return writeAll(dir, { 'key.pem': privateKeyPem, 'pub.pem': pemOf('PUBLIC KEY', sm2Spki(publicKey)), 'msg': message.toString('utf8') });
}

t.test('signed here, verified by openssl pkeyutl with distid 1234567812345678', async (t) => {
  const p = await files(t);
  const sigPath = `${p['msg']!}.sig`;
  await writeFile(sigPath, sm2Sign(key, message));
  const args = ['pkeyutl', '-verify', '-pubin', '-inkey', p['pub.pem']!, '-rawin', '-digest', 'sm3', '-in', p['msg']!, '-sigfile', sigPath];
  const ok = openssl([...args, '-pkeyopt', `distid:${SM2_DEFAULT_ID}`]);
  t.equal(ok.status, 0, ok.out);
  t.match(ok.out, /Signature Verified Successfully/);
  const wrongId = openssl([...args, '-pkeyopt', 'distid:ALICE123@YAHOO.COM']);
  t.not(wrongId.status, 0, 'another user ID does not verify');
});

t.test('signed by openssl pkeyutl, verified here', async (t) => {
  const p = await files(t);
  const out = `${p['msg']!}.osig`;
  const r = openssl(['pkeyutl', '-sign', '-inkey', p['key.pem']!, '-rawin', '-digest', 'sm3', '-in', p['msg']!, '-out', out, '-pkeyopt', `distid:${SM2_DEFAULT_ID}`]);
  t.equal(r.status, 0, r.out);
  const sig = await readFile(out);
  t.equal(sm2Verify(publicKey, message, sig), true);
  t.equal(sm2Verify(publicKey, Buffer.concat([message, Buffer.from(' ')]), sig), false);
});

t.test('encrypted by openssl pkeyutl, decrypted here; encrypted here, decrypted by openssl', async (t) => {
  const p = await files(t);
  const ct = `${p['msg']!}.ct`;
  const e = openssl(['pkeyutl', '-encrypt', '-pubin', '-inkey', p['pub.pem']!, '-in', p['msg']!, '-out', ct]);
  t.equal(e.status, 0, e.out);
  t.equal(sm2Decrypt(key, await readFile(ct)).toString('utf8'), message.toString('utf8'));
  const ours = `${p['msg']!}.ours`;
  await writeFile(ours, sm2Encrypt(publicKey, message));
  const d = openssl(['pkeyutl', '-decrypt', '-inkey', p['key.pem']!, '-in', ours]);
  t.equal(d.status, 0, d.out);
  t.equal(d.out, message.toString('utf8'));
});
