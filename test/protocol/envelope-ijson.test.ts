/**
 * I-JSON at envelope parse (RFC 7493): a member name given twice, in the header, in enc/sig or
 * anywhere in the decrypted payload, and an integer field written with a fraction or exponent
 * (`"seq": 7.0`, `1.2e1`), are refused with ERR_ENVELOPE_MALFORMED naming the field — even when
 * the signature verifies (JSON.parse keeps the last duplicate; another reader may keep the first).
 */
import t from 'tap';
import { certFromPem, jweEncrypt, jwsSignDetached, privateKeyFromPem } from '../../protocol/crypto.js';
import { encBinding, signingInput, type Envelope, type EnvelopeHeader } from '../../protocol/envelope.js';
import { CreditError } from '../../protocol/errors.js';
import { open, readEnvelope, verifyEnvelope } from '../../protocol/open.js';
import { seal } from '../../protocol/seal.js';
import { DUPLICATE_MESSAGE, INTEGER_SPELLING_MESSAGE, jsonTextProblems, scanJsonText } from '../../protocol/strict-json.js';
import { getSuite } from '../../protocol/suites.js';
import { makePki } from './envelope-fixtures.js';

const { hub, changsha, trust } = makePki();
const opts = { recipient: { nodeId: '430000', keyPem: hub.keyPem }, trust, freshness: false as const };

async function failure(p: Promise<unknown>): Promise<{ code: string; details: unknown }> {
  try {
    await p;
  } catch (e) {
    if (e instanceof CreditError) return { code: e.code, details: e.details };
    throw e;
  }
  return { code: 'resolved', details: undefined };
}

/** An envelope whose JWE carries `plaintext` exactly as given (seal() would canonicalise it). */
async function withPlaintext(type: EnvelopeHeader['type'], plaintext: string, seq = 3): Promise<string> {
  const sealed = await seal({ type, from: '430100', to: '430000', seq, payload: {}, sender: changsha, recipientCertPem: hub.certPem });
  const header = Object.fromEntries(Object.entries(sealed).filter(([k]) => k !== 'enc' && k !== 'sig')) as EnvelopeHeader;
  const suite = getSuite(header.suite);
  const enc = jweEncrypt(Buffer.from(plaintext), certFromPem(hub.certPem).publicKey, { alg: suite.jweAlg, enc: suite.jweEnc, cty: 'json', cf: encBinding(header) });
  const sig = await jwsSignDetached(signingInput(header, enc), privateKeyFromPem(changsha.keyPem), { alg: suite.jwsAlg });
  return JSON.stringify({ ...header, enc, sig } satisfies Envelope);
}

const env = await seal({ type: 'batch', from: '430100', to: '430000', seq: 12, payload: { records: [], withdrawals: [] }, sender: changsha, recipientCertPem: hub.certPem });
const wire = JSON.stringify(env);

t.test('control: the envelope as sealed opens', async (t) => {
  t.equal((await failure(open(wire, opts))).code, 'resolved');
});

t.test('a header member given twice is refused, even with the value the signature covers', async (t) => {
  const cases: [string, string, string][] = [
    ['"to" twice (first a different node)', wire.replace('"to":"430000"', '"to":"430700","to":"430000"'), 'to'],
    ['"seq" twice, same value', wire.replace('"seq":12', '"seq":12,"seq":12'), 'seq'],
    ['"seq" again, its name escaped', wire.replace('"seq":12', '"seq":12,"s\\u0065q":12'), 'seq'],
    ['enc.iv twice', wire.replace(`"iv":"${env.enc.iv}"`, `"iv":"${env.enc.iv}","iv":"${env.enc.iv}"`), 'enc.iv'],
    ['sig.signature twice', wire.replace(`"signature":"${env.sig.signature}"`, `"signature":"AAAA","signature":"${env.sig.signature}"`), 'sig.signature'],
  ];
  for (const [what, text, field] of cases) {
    JSON.parse(text); // still JSON: JSON.parse alone would take it
    for (const [name, p] of [['open', open(text, opts)], ['verifyEnvelope', verifyEnvelope(text, { trust })]] as const) {
      const f = await failure(p);
      t.equal(f.code, 'ERR_ENVELOPE_MALFORMED', `${what}: ${name}`);
      t.same(f.details, [{ field, message: DUPLICATE_MESSAGE }], `${what}: ${name} names the field`);
    }
  }
  t.throws(() => readEnvelope(Buffer.from(cases[0]![1])), { code: 'ERR_ENVELOPE_MALFORMED' }, 'bytes as well as text');
});

t.test('"seq": 12.0 and other spellings of an integer are refused where the schema says integer', async (t) => {
  for (const spelling of ['12.0', '1.2e1', '12E0', '120e-1', '12.000']) {
    const f = await failure(open(wire.replace('"seq":12', `"seq":${spelling}`), opts));
    t.equal(f.code, 'ERR_ENVELOPE_MALFORMED', `seq ${spelling}`);
    t.same(f.details, [{ field: 'seq', message: INTEGER_SPELLING_MESSAGE }], `seq ${spelling}: names the field`);
  }
  const frac = await failure(open(wire.replace('"seq":12', '"seq":12.5'), opts));
  t.equal(frac.code, 'ERR_ENVELOPE_MALFORMED', 'a real fraction is still refused by the schema');
  t.match(frac.details, [{ field: 'seq', message: /integer/ }]);
});

t.test('the decrypted payload: duplicate names at any depth, integer spellings where its schema says integer', async (t) => {
  const dupTop = await failure(open(await withPlaintext('batch', '{"records":[],"withdrawals":[],"records":[]}'), opts));
  t.equal(dupTop.code, 'ERR_ENVELOPE_MALFORMED');
  t.same(dupTop.details, [{ field: 'payload.records', message: DUPLICATE_MESSAGE }]);
  const deep = '{"records":[{"id":"a","fields":{"subjectName":"甲","content":"x","subjectName":"乙"}}],"withdrawals":[]}';
  const dupDeep = await failure(open(await withPlaintext('batch', deep), opts));
  t.equal(dupDeep.code, 'ERR_ENVELOPE_MALFORMED');
  t.same(dupDeep.details, [{ field: 'payload.records[0].fields.subjectName', message: DUPLICATE_MESSAGE }]);

  const checkpoint = (treeSize: string) => `{"checkpoint":{"treeSize":${treeSize},"rootHash":"${'a'.repeat(64)}","time":"2026-01-01T00:00:00.000Z","nodeId":"430100","signature":"x","signerFingerprint":"${'b'.repeat(64)}"},"signerCertPem":"x"}`;
  t.equal((await failure(open(await withPlaintext('checkpoint', checkpoint('5')), opts))).code, 'resolved', 'control: treeSize 5');
  const spelled = await failure(open(await withPlaintext('checkpoint', checkpoint('5.0')), opts));
  t.equal(spelled.code, 'ERR_ENVELOPE_MALFORMED');
  t.same(spelled.details, [{ field: 'payload.checkpoint.treeSize', message: INTEGER_SPELLING_MESSAGE }]);
  const receipt = await failure(open(await withPlaintext('receipt', '{"batchId":"x","seq":4.0,"accepted":[],"rejected":[],"withdrawn":[]}'), opts));
  t.equal(receipt.code, 'ERR_ENVELOPE_MALFORMED', 'a receipt seq written 4.0');
  t.same(receipt.details, [{ field: 'payload.seq', message: INTEGER_SPELLING_MESSAGE }]);

  const amount = await failure(open(await withPlaintext('batch', '{"records":[{"fields":{"fineAmount":5.0}}],"withdrawals":[]}'), opts));
  t.equal(amount.code, 'resolved', 'a number field the schema does not call integer may be written 5.0');
});

t.test('scanJsonText: one pass, paths of the findings', async (t) => {
  const schema = { type: 'object', properties: { a: { type: 'array', items: { type: 'object', properties: { b: { type: 'integer' } } } } } } as const;
  const f = scanJsonText(' { "a" : [ 1 , { "b" : 2.0 , "b" : 3 } ] , "c" : "x\\"," , "d" : { "b" : 4.0 } , "a" : null } ', schema);
  t.same(f.duplicates, [['a', 1, 'b'], ['a']]);
  t.same(f.integerSpellings, [['a', 1, 'b']], 'only where the schema says integer (not d.b)');
  t.same(jsonTextProblems(f, 'payload'), [
    { field: 'payload.a[1].b', message: DUPLICATE_MESSAGE },
    { field: 'payload.a', message: DUPLICATE_MESSAGE },
    { field: 'payload.a[1].b', message: INTEGER_SPELLING_MESSAGE },
  ]);
  t.same(scanJsonText('[1.0, {"x": 7.0}]').integerSpellings, [], 'without a schema no number is an integer field');
  const decoys = `{"free":[${Array(30).fill('1.0').join(',')}],"n":5.0}`;
  t.same(scanJsonText(decoys, { type: 'object', properties: { free: { type: 'array' }, n: { type: 'integer' } } }).integerSpellings, [['n']], 'spelled numbers elsewhere cannot crowd out an integer field');
  const many = '{' + Array.from({ length: 40 }, (_, i) => `"k${i}":1`).join(',') + ',"k39":2}';
  t.same(scanJsonText(many).duplicates, [['k39']], 'past 16 names the set takes over');
  const deep = '['.repeat(100_000) + ']'.repeat(100_000);
  t.same(scanJsonText(deep), { duplicates: [], integerSpellings: [] }, '100,000 levels deep: no stack overflow');
  t.same(scanJsonText('{"x":"\\\\","x":1}').duplicates, [['x']], 'a string ending in an escaped backslash');
});
