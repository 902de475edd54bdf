/**
 * protocol/sm-keyed.ts: HMAC-SM3 from pre-keyed SM3 states and SM4-CTR from a kept SM4-ECB
 * context give exactly the bytes of node:crypto's createHmac('sm3') and createCipheriv('sm4-ctr')
 * — every key length HMAC treats differently, counters that carry across 32-, 64- and 128-bit
 * boundaries, lengths around the block and the 64 KiB chunk, IVs that are views into larger
 * buffers, one kept context used for many values in a row — and the openssl CLI agrees.
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { createCipheriv, createHmac, randomBytes } from 'node:crypto';
import { callSetupCostly, keyedHmacSm3, keyedSm4Ctr, CALL_SETUP_COSTLY, type KeyedImpl } from '../../protocol/sm-keyed.js';

const IMPLS: KeyedImpl[] = ['auto', 'native', 'composed'];
const nativeHmac = (key: Uint8Array, parts: readonly (string | Uint8Array)[]) => {
  const h = createHmac('sm3', key);
  for (const p of parts) h.update(p);
  return h.digest();
};
const nativeCtr = (key: Uint8Array, iv: Uint8Array, data: Uint8Array) => {
  const c = createCipheriv('sm4-ctr', key, iv);
  return Buffer.concat([c.update(data), c.final()]);
};

t.test('the rule: Node 24 and later, whatever their OpenSSL (Node 22.23 bundles the same 3.5.8 and is faster with native calls)', async (t) => {
  t.equal(callSetupCostly('20.20.2'), false, 'Node 20 (OpenSSL 3.0)');
  t.equal(callSetupCostly('22.23.3'), false, 'Node 22 (OpenSSL 3.5.8)');
  t.equal(callSetupCostly('24.0.0'), true, 'Node 24.0');
  t.equal(callSetupCostly('24.21.0'), true, 'Node 24.21 (OpenSSL 3.5.8)');
  t.equal(callSetupCostly('26.1.0'), true, 'later majors');
});

t.test('auto takes the kept contexts on Node ≥ 24 only, and each function says which way it computes', async (t) => {
  const major = Number(process.versions.node.split('.')[0]);
  t.equal(CALL_SETUP_COSTLY, major >= 24, `Node ${process.versions.node} (OpenSSL ${process.versions.openssl})`);
  const way = major >= 24 ? 'composed' : 'native';
  t.equal(keyedHmacSm3(randomBytes(32)).way, way, 'HMAC-SM3, auto');
  t.equal(keyedSm4Ctr(randomBytes(16)).way, way, 'SM4-CTR, auto');
  t.equal(keyedHmacSm3(randomBytes(32), 'composed').way, 'composed');
  t.equal(keyedSm4Ctr(randomBytes(16), 'composed').way, 'composed');
  t.equal(keyedHmacSm3(randomBytes(32), 'native').way, 'native');
  t.equal(keyedSm4Ctr(randomBytes(16), 'native').way, 'native');
});

for (const impl of IMPLS) {
  t.test(`HMAC-SM3 (${impl}) equals createHmac for every key length and split of the message`, async (t) => {
    let checked = 0;
    for (const len of [0, 1, 16, 32, 63, 64, 65, 100, 200]) {
      const key = randomBytes(len);
      const mac = keyedHmacSm3(key, impl);
      for (const parts of [[], [''], ['abc'], [randomBytes(837)], ['CFE1\u0000k1\u0000node_records/信用\u0000', randomBytes(16), randomBytes(300)], [randomBytes(64), randomBytes(1)], ['CFBI1\u000091430100MA4L0000X1']] as (string | Buffer)[][]) {
        t.same(mac(parts), nativeHmac(key, parts), `key ${len} bytes, ${parts.length} part(s)`);
        checked++;
      }
    }
    t.equal(checked, 63);
  });

  t.test(`HMAC-SM3 (${impl}): the key is copied, later changes to the caller's buffer do not matter`, async (t) => {
    const key = Buffer.alloc(32, 0x22);
    const mac = keyedHmacSm3(key, impl);
    const before = mac(['abc']);
    key.fill(0x99);
    t.same(mac(['abc']), before);
    t.same(before, nativeHmac(Buffer.alloc(32, 0x22), ['abc']));
  });

  t.test(`SM4-CTR (${impl}) equals createCipheriv('sm4-ctr'): carries, lengths, views, reuse`, async (t) => {
    const key = randomBytes(16);
    const ctr = keyedSm4Ctr(key, impl);
    const ivs = ['ffffffffffffffffffffffffffffffff', 'fffffffffffffffffffffffffffffff0', '00000000ffffffffffffffffffffffff', '0000000000000000fffffffffffffffe', '000000000000000000000000fffffffc', '00000000000000000000000000000000'].map((h) => Buffer.from(h, 'hex'));
    for (let i = 0; i < 20; i++) ivs.push(randomBytes(16));
    const lengths = [0, 1, 15, 16, 17, 837, 4096 * 16 - 1, 4096 * 16, 4096 * 16 + 17, 3 * 4096 * 16 + 5];
    let checked = 0;
    for (const iv of ivs) {
      for (const n of lengths) {
        const data = randomBytes(n);
        t.ok(ctr(iv, data).equals(nativeCtr(key, iv, data)), `iv ${iv.toString('hex')}, ${n} bytes`) && checked++;
      }
    }
    t.equal(checked, ivs.length * lengths.length);
    // an IV that is a view at an odd offset into a larger buffer (at-rest IVs are cut from a pool)
    const pool = randomBytes(64);
    const view = new Uint8Array(pool.buffer, pool.byteOffset + 7, 16);
    const data = randomBytes(100);
    t.ok(ctr(view, data).equals(nativeCtr(key, view, data)), 'an IV that is a view into a larger buffer');
    // decryption is the same operation
    const ct = ctr(ivs[0]!, data);
    t.ok(ctr(ivs[0]!, ct).equals(data), 'applied twice gives the plaintext back');
  });

  t.test(`SM4-CTR (${impl}) refuses wrong key and counter sizes`, async (t) => {
    t.throws(() => keyedSm4Ctr(Buffer.alloc(15), impl), /16 bytes/);
    const ctr = keyedSm4Ctr(Buffer.alloc(16), impl);
    t.throws(() => ctr(Buffer.alloc(12), Buffer.alloc(1)), /16 bytes/);
    // a string is refused on both ways (the composed XOR would read it as zeros and give the keystream)
    t.throws(() => ctr(Buffer.alloc(16), 'hello' as unknown as Uint8Array), TypeError);
    t.throws(() => ctr('0123456789abcdef' as unknown as Uint8Array, Buffer.alloc(1)), TypeError);
    // the refusal leaves the kept context as it was
    const iv = randomBytes(16);
    const data = randomBytes(50);
    t.ok(ctr(iv, data).equals(nativeCtr(Buffer.alloc(16), iv, data)));
  });
}

t.test('SM4-CTR (composed) against GB/T 32907 and the openssl CLI; HMAC-SM3 (composed) against openssl dgst', async (t) => {
  const k = Buffer.from('0123456789abcdeffedcba9876543210', 'hex');
  t.equal(keyedSm4Ctr(k, 'composed')(k, Buffer.alloc(16)).toString('hex'), '681edf34d206965e86b3e94f536e4246', 'one block from counter K is SM4(K, K)');
  const iv = Buffer.from('ffffffffffffffffffffffffffffff00', 'hex');
  const clear = Buffer.from('统一社会信用代码 91430100MA4L0000X1 '.repeat(40));
  const ct = keyedSm4Ctr(k, 'composed')(iv, clear);
  t.same(execFileSync('openssl', ['enc', '-d', '-sm4-ctr', '-K', k.toString('hex'), '-iv', iv.toString('hex')], { input: ct }), clear, 'openssl enc -d -sm4-ctr (the counter carries past 2^128)');
  const key = randomBytes(80);
  const msg = randomBytes(500);
  const ours = keyedHmacSm3(key, 'composed')([msg]);
  const theirs = execFileSync('openssl', ['dgst', '-sm3', '-mac', 'HMAC', '-macopt', `hexkey:${key.toString('hex')}`, '-binary'], { input: msg });
  t.same(ours, theirs, 'openssl dgst -sm3 -mac HMAC with an 80-byte key (hashed first)');
});
