/**
 * The national-cryptography primitives against the standards' own worked examples: GB/T 32905 SM3,
 * GB/T 32907 SM4, GB/T 32918.5 (GM/T 0003.5) SM2 signature with fixed k and the encryption example,
 * RFC 8998 SM4-GCM (native where the runtime has it, and the composed GCM always). The composed
 * GCM's GHASH is also held to Node's native AES-GCM with the same code over AES.
 * SM4's 1,000,000-iteration example runs in full (about a second of one core: one native cipher
 * context, one update per block).
 */
import t from 'tap';
import { createCipheriv, randomBytes } from 'node:crypto';
import { sm4 as pureSm4 } from 'sm-crypto-v2';
import { Ghash } from '../../protocol/ghash.js';
import {
  hmacSm3, sm2CiphertextDer, sm2CiphertextRaw, sm2Decrypt, sm2Encrypt, sm2GenerateKeyPem, sm2KeyFromPem, sm2PointFromSpki, sm2Sign, sm2SignatureValues, sm2Spki, sm2Verify, sm3,
  SM4_GCM_NATIVE, sm4Ctr, sm4CtrStream, sm4Ecb, sm4GcmDecrypt, sm4GcmEncrypt, type GcmImpl,
} from '../../protocol/sm-crypto.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

t.test('GB/T 32905-2016 SM3: "abc" and the 512-bit example', async (t) => {
  t.equal(sm3('abc').toString('hex'), '66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0');
  t.equal(sm3('abcd'.repeat(16)).toString('hex'), 'debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732');
  t.equal(hmacSm3(Buffer.from('key'), 'abc').length, 32);
});

t.test('GB/T 32907-2016 SM4: one block, and the repeated-encryption example', async (t) => {
  const key = hex('0123456789abcdeffedcba9876543210');
  t.equal(sm4Ecb(key, key).toString('hex'), '681edf34d206965e86b3e94f536e4246');
  t.equal(sm4Ecb(key, hex('681edf34d206965e86b3e94f536e4246'), false).toString('hex'), '0123456789abcdeffedcba9876543210');
  const c = createCipheriv('sm4-ecb', key, null);
  c.setAutoPadding(false);
  let block: Buffer = key;
  for (let i = 0; i < 1_000_000; i++) block = c.update(block);
  t.equal(block.toString('hex'), '595298c7c6fd271f0402f804c33d3f66', '1,000,000 encryptions');
});

const GCM = {
  key: hex('0123456789ABCDEFFEDCBA9876543210'),
  iv: hex('00001234567800000000ABCD'),
  aad: hex('FEEDFACEDEADBEEFFEEDFACEDEADBEEFABADDAD2'),
  pt: hex('AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBBCCCCCCCCCCCCCCCCDDDDDDDDDDDDDDDDEEEEEEEEEEEEEEEEFFFFFFFFFFFFFFFFEEEEEEEEEEEEEEEEAAAAAAAAAAAAAAAA'),
  ct: '17f399f08c67d5ee19d0dc9969c4bb7d5fd46fd3756489069157b282bb200735d82710ca5c22f0ccfa7cbf93d496ac15a56834cbcf98c397b4024a2691233b8d',
  tag: '83de3541e4c2b58177e065a9bf7b62ec',
};

for (const impl of (SM4_GCM_NATIVE ? ['composed', 'native'] : ['composed']) as GcmImpl[]) {
  t.test(`RFC 8998 A.1 SM4-GCM (${impl})`, async (t) => {
    const s = sm4GcmEncrypt(GCM.key, GCM.iv, GCM.pt, GCM.aad, impl);
    t.equal(s.ciphertext.toString('hex'), GCM.ct);
    t.equal(s.tag.toString('hex'), GCM.tag);
    t.same(sm4GcmDecrypt(GCM.key, GCM.iv, s.ciphertext, s.tag, GCM.aad, impl), GCM.pt);
    for (const flip of [0, 63]) {
      const bad = Buffer.from(s.ciphertext);
      bad[flip]! ^= 1;
      t.throws(() => sm4GcmDecrypt(GCM.key, GCM.iv, bad, s.tag, GCM.aad, impl), `ciphertext byte ${flip} flipped`);
    }
    t.throws(() => sm4GcmDecrypt(GCM.key, GCM.iv, s.ciphertext, s.tag, Buffer.concat([GCM.aad, Buffer.from('x')]), impl), 'AAD changed');
  });
}

t.test('the composed SM4-GCM agrees with the pure-TS SM4-GCM on odd lengths', async (t) => {
  for (const len of [0, 1, 15, 16, 17, 33, 1000]) {
    const key = randomBytes(16);
    const iv = randomBytes(12);
    const aad = randomBytes(len % 23);
    const pt = randomBytes(len);
    const ours = sm4GcmEncrypt(key, iv, pt, aad, 'composed');
    if (len > 0) {
      const theirs = pureSm4.encrypt(pt, key, { mode: 'gcm', iv, associatedData: aad, output: 'array', outputTag: true, padding: 'none' });
      t.equal(Buffer.from(theirs.output).toString('hex'), ours.ciphertext.toString('hex'), `ciphertext, ${len} bytes`);
      t.equal(Buffer.from(theirs.tag!).toString('hex'), ours.tag.toString('hex'), `tag, ${len} bytes`);
    }
    t.same(sm4GcmDecrypt(key, iv, ours.ciphertext, ours.tag, aad, 'composed'), pt);
  }
});

t.test('GHASH agrees with native AES-128-GCM (the same GHASH over AES)', async (t) => {
  for (const len of [0, 5, 16, 40, 257]) {
    const key = randomBytes(16);
    const iv = randomBytes(12);
    const aad = randomBytes((len * 7) % 37);
    const c = createCipheriv('aes-128-gcm', key, iv);
    c.setAAD(aad);
    const ct = Buffer.concat([c.update(randomBytes(len)), c.final()]);
    const ecb = (b: Buffer) => createCipheriv('aes-128-ecb', key, null).setAutoPadding(false).update(b);
    const s = new Ghash(ecb(Buffer.alloc(16))).update(aad).pad().update(ct).digest(aad.length, ct.length);
    const ek = ecb(Buffer.concat([iv, Buffer.from([0, 0, 0, 1])]));
    for (let i = 0; i < 16; i++) s[i]! ^= ek[i]!;
    t.equal(s.toString('hex'), c.getAuthTag().toString('hex'), `${len} bytes`);
  }
});

// GB/T 32918.5-2017 (GM/T 0003.5-2012) worked examples on the recommended curve.
const ANNEX = {
  d: '3945208f7b2144b13f36e38ac6d39f95889393692860b51a42fb81ef4df7c5b8',
  pub: '0409f9df311e5421a150dd7d161e4bc5c672179fad1833fc076bb08ff356f35020ccea490ce26775a52dc6ea718cc1aa600aed05fbf35e084a6632f6072da9ad13',
  k: '59276e27d506861a16680f3ad9c02dccef3cc1fa3cdbe4ce6d54b80deac1bc21',
  r: 'f5a03b0648d2c4630eeac513e1bb81a15944da3827d5b74143ac7eaceee720b3',
  s: 'b1b6aa29df212fd8763182bc0d421ca1bb9038fd1f7f42d4840b69c485bbc1aa',
  ct: '307c022004ebfc718e8d1798620432268e77feb6415e2ede0e073c0f4f640ecd2e149a73022100e858f9d81e5430a57b36daab8f950a3c64e6ee6a63094d99283aff767e124df0042059983c18f809e262923c53aec295d30383b54e39d609d160afcb1908d0bd8766041321886ca989ca9c7d58087307ca93092d651efa',
};
const annexKey = { d: ANNEX.d, publicKey: ANNEX.pub };

t.test('GB/T 32918.5 signature example: fixed k gives the published r, s; it verifies; tampering fails', async (t) => {
  const msg = Buffer.from('message digest');
  const sig = sm2Sign(annexKey, msg, { fixedK: ANNEX.k });
  t.same(sm2SignatureValues(sig), { r: BigInt(`0x${ANNEX.r}`), s: BigInt(`0x${ANNEX.s}`) });
  t.equal(sm2Verify(ANNEX.pub, msg, sig), true);
  t.equal(sm2Verify(ANNEX.pub, Buffer.from('message digesT'), sig), false, 'other message');
  t.equal(sm2Verify(ANNEX.pub, msg, sig, 'ALICE123@YAHOO.COM'), false, 'other user ID');
  t.equal(sm2Verify(ANNEX.pub, msg, Buffer.concat([sig, Buffer.from([0])])), false, 'trailing byte');
  const n = 0xfffffffeffffffffffffffffffffffff7203df6b21c6052b53bbf40939d54123n;
  const { seq, uint } = await import('../../protocol/der.js');
  t.equal(sm2Verify(ANNEX.pub, msg, seq(uint(BigInt(`0x${ANNEX.r}`)), uint(BigInt(`0x${ANNEX.s}`) + n))), false, 's + n is refused (range check)');
});

t.test('GB/T 32918.5 encryption example: the published C1C3C2 decrypts to "encryption standard"', async (t) => {
  t.equal(sm2Decrypt(annexKey, hex(ANNEX.ct)).toString(), 'encryption standard');
  t.equal(sm2CiphertextDer(sm2CiphertextRaw(hex(ANNEX.ct))).toString('hex'), ANNEX.ct, 'raw ↔ ASN.1 round trip');
  const bad = hex(ANNEX.ct);
  bad[bad.length - 1]! ^= 1;
  t.throws(() => sm2Decrypt(annexKey, bad), 'C2 flipped: C3 check fails');
  const offCurve = hex(ANNEX.ct);
  offCurve[10]! ^= 1;
  t.throws(() => sm2Decrypt(annexKey, offCurve), /not a point on the curve/);
});

t.test('generated SM2 keys: PEM round trip, SPKI, sign/verify, encrypt/decrypt', async (t) => {
  const { privateKeyPem, publicKey } = sm2GenerateKeyPem();
  const key = sm2KeyFromPem(privateKeyPem);
  t.equal(key.publicKey, publicKey);
  t.equal(sm2PointFromSpki(sm2Spki(publicKey)), publicKey);
  const sig = sm2Sign(key, Buffer.from('x'));
  t.equal(sm2Verify(publicKey, Buffer.from('x'), sig), true);
  t.equal(sm2Decrypt(key, sm2Encrypt(publicKey, Buffer.from('secret'))).toString(), 'secret');
});

t.test('SM4-CTR as a stream: the same bytes as sm4Ctr over the whole, whatever the chunks; the same both ways', async (t) => {
  const key = randomBytes(16);
  const iv = Buffer.alloc(16, 0xff); // the counter wraps past 2^128 - 1 in the first block
  const data = randomBytes(10_000);
  const enc = sm4CtrStream(key, iv);
  const out: Buffer[] = [];
  enc.on('data', (c: Buffer) => out.push(c));
  for (let i = 0; i < data.length; i += 333) enc.write(data.subarray(i, i + 333));
  enc.end();
  await new Promise((r) => enc.on('end', r));
  const whole = Buffer.concat(out);
  t.same(whole, sm4Ctr(key, iv, data));
  const dec = sm4CtrStream(key, iv);
  t.same(Buffer.concat([dec.update(whole), dec.final()]), data);
  t.throws(() => sm4CtrStream(randomBytes(15), iv), /16 bytes/);
  t.throws(() => sm4CtrStream(key, randomBytes(12)), /16 bytes/);
});
