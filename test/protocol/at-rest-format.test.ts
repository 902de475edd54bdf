/**
 * The sealed-value format of docs/at-rest.md (issue 21 item 5), pure, no store: the document's
 * worked example, what a changed, cut or moved value gives, fresh IVs, and the openssl CLI reading a
 * value. In test/protocol so that it also runs on Node 24, whose at-rest path is sm-keyed.ts's kept
 * contexts rather than the native calls of Node 20 and 22.
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { atRestWays, blindIndex, keyCheckValue, keyringOf as ringOf, openText, sealText, type AtRestKey } from '../../protocol/at-rest.js';
import { hmacSm3, sm4Ctr } from '../../protocol/sm-crypto.js';
import { codeOf } from '../helpers/code-of.js';

const KEY: AtRestKey = { id: 'k1', enc: Buffer.alloc(16, 0x11), mac: Buffer.alloc(32, 0x22), index: Buffer.alloc(32, 0x33) };

t.test('the sealed-value format: docs/at-rest.md worked example, and what a changed value gives', async (t) => {
  const doc = readFileSync(new URL('../../docs/at-rest.md', import.meta.url), 'utf8');
  const iv = Buffer.alloc(16, 0x44);
  const sealed = sealText(KEY, 'node_records/0190a1b2-0000-7000-8000-000000000001', '{"subject":"430102198506011231"}', iv);
  t.ok(doc.includes(sealed), `the document shows the sealed value ${sealed}`);
  t.ok(doc.includes(blindIndex(KEY, '430102198506011231')), 'the document shows the blind index');
  t.ok(doc.includes(`key check value of k1:             ${keyCheckValue(KEY)}`), 'the document shows the key check value');
  const ring = ringOf([KEY], 'k1');
  t.equal(openText(ring, 'node_records/0190a1b2-0000-7000-8000-000000000001', sealed), '{"subject":"430102198506011231"}');

  const parts = sealed.split('.');
  const flip = (s: string) => (s[0] === 'A' ? 'B' : 'A') + s.slice(1);
  t.equal(codeOf(() => openText(ring, 'node_records/0190a1b2-0000-7000-8000-000000000001', [parts[0], parts[1], parts[2], flip(parts[3]!), parts[4]].join('.'))), 'ERR_STORE_CIPHERTEXT_INVALID', 'a changed ciphertext');
  t.equal(codeOf(() => openText(ring, 'node_records/0190a1b2-0000-7000-8000-000000000001', [parts[0], parts[1], flip(parts[2]!), parts[3], parts[4]].join('.'))), 'ERR_STORE_CIPHERTEXT_INVALID', 'a changed IV');
  t.equal(codeOf(() => openText(ring, 'node_records/0190a1b2-0000-7000-8000-000000000001', [parts[0], parts[1], parts[2], parts[3], flip(parts[4]!)].join('.'))), 'ERR_STORE_CIPHERTEXT_INVALID', 'a changed tag');
  t.equal(codeOf(() => openText(ring, 'node_records/0190a1b2-0000-7000-8000-000000000001', sealed.slice(0, -5))), 'ERR_STORE_CIPHERTEXT_INVALID', 'a cut value');
  t.equal(codeOf(() => openText(ring, 'node_records/0190a1b2-0000-7000-8000-000000000002', sealed)), 'ERR_STORE_CIPHERTEXT_INVALID', 'a value moved to another row');
  t.equal(codeOf(() => openText(ring, 'x', 'CFE1.k1.AAAA')), 'ERR_STORE_CIPHERTEXT_INVALID', 'malformed');
  t.equal(codeOf(() => openText(ring, 'x', sealed.replace('CFE1.k1.', 'CFE1.k9.'))), 'ERR_DATA_KEY_WRONG', 'a key the key file lacks');
  const other = ringOf([{ ...KEY, mac: Buffer.alloc(32, 0x55) }], 'k1');
  t.equal(codeOf(() => openText(other, 'node_records/0190a1b2-0000-7000-8000-000000000001', sealed)), 'ERR_STORE_CIPHERTEXT_INVALID', 'another key under the same id');
});

t.test('every sealing draws a fresh IV (the IVs are cut from a pool of random bytes: across its refills too)', async (t) => {
  const ring = ringOf([KEY], 'k1');
  const ivs = new Set<string>();
  let opened = 0;
  for (let i = 0; i < 600; i++) {
    const sealed = sealText(KEY, 'node_records/x', 'same text');
    ivs.add(sealed.split('.')[2]!);
    if (openText(ring, 'node_records/x', sealed) === 'same text') opened++;
  }
  t.equal(ivs.size, 600, '600 sealings of one text, 600 different IVs');
  t.equal(opened, 600, 'each opens');
});

t.test('SM4-CTR against GB/T 32907 and the openssl CLI (not our own output only)', async (t) => {
  const k = Buffer.from('0123456789abcdeffedcba9876543210', 'hex');
  // CTR over a zero block with the counter block P gives SM4(K, P): the standard's ciphertext
  t.equal(sm4Ctr(k, k, Buffer.alloc(16)).toString('hex'), '681edf34d206965e86b3e94f536e4246');
  const sealed = sealText(KEY, 'node_records/x', '{"subject":"430102198506011231"}', Buffer.alloc(16, 0x44));
  const ct = Buffer.from(sealed.split('.')[3]!, 'base64url');
  const clear = execFileSync('openssl', ['enc', '-d', '-sm4-ctr', '-K', '11'.repeat(16), '-iv', '44'.repeat(16)], { input: ct });
  t.equal(clear.toString('utf8'), '{"subject":"430102198506011231"}', 'openssl enc -d -sm4-ctr decrypts it');
  const mac = execFileSync('openssl', ['dgst', '-sm3', '-mac', 'HMAC', '-macopt', `hexkey:${'22'.repeat(32)}`, '-binary'], { input: Buffer.concat([Buffer.from('CFE1\0k1\0node_records/x\0', 'latin1'), Buffer.alloc(16, 0x44), ct]) });
  t.equal(mac.toString('base64url'), sealed.split('.')[4], 'openssl dgst -sm3 -mac HMAC gives the tag');
});

t.test('this runtime seals the way sm-keyed.ts chooses for it: kept contexts on Node ≥ 24, native calls before', async (t) => {
  const way = Number(process.versions.node.split('.')[0]) >= 24 ? 'composed' : 'native';
  t.same(atRestWays({ ...KEY }), { ctr: way, tag: way, index: way }, `Node ${process.versions.node}`);
});

t.test('a key is fixed when its keyring is made: its buffers changed afterwards change nothing, the key check value included', async (t) => {
  const key: AtRestKey = { id: 'k1', enc: Buffer.alloc(16, 0x11), mac: Buffer.alloc(32, 0x22), index: Buffer.alloc(32, 0x33) };
  const ring = ringOf([key], 'k1');
  key.enc.fill(0);
  key.mac.fill(0);
  key.index.fill(0);
  const kcv = hmacSm3(Buffer.alloc(32, 0x22), Buffer.from('CFKCV1\u0000k1')).subarray(0, 8).toString('hex');
  t.equal(keyCheckValue(key), kcv, 'the key check value is that of the key as it was');
  t.equal(kcv, '82b2b539ae98ee21', "docs/at-rest.md's value");
  const sealed = sealText(ring.current, 'node_records/x', 'secret');
  t.equal(openText(ringOf([{ ...KEY }], 'k1'), 'node_records/x', sealed), 'secret', 'sealed under the key as it was: a keyring of the original bytes opens it');
  t.equal(blindIndex(key, '430102198506011231'), blindIndex({ ...KEY }, '430102198506011231'), 'the blind index too');
});
