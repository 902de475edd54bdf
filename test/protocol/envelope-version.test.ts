/** Versions, negotiation, the suite registry, and the envelope JSON Schema (checked against Ajv). */
import t from 'tap';
import fc from 'fast-check';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { checkVersion, localCapabilities, negotiate, parseVersion, PROTOCOL_VERSION, SUPPORTED_VERSIONS } from '../../protocol/version.js';
import { DEFAULT_SUITE, describeSuite, getSuite, SUITES, usableSuites } from '../../protocol/suites.js';
import { assertEnvelope, ENVELOPE_HEADER_SCHEMA, ENVELOPE_SCHEMA, ENVELOPE_TYPES } from '../../protocol/envelope.js';
import { checkSchema, SUPPORTED_KEYWORDS } from '../../protocol/schema-check.js';
import { seal } from '../../protocol/seal.js';
import { makePki } from './envelope-fixtures.js';
import { codeOf } from '../helpers/code-of.js';


t.test('versions: MAJOR.MINOR; unknown majors refused with the supported list', async (t) => {
  t.equal(PROTOCOL_VERSION, '1.3', 'issue 15: batches carry versions (corrections); 1.2: signed seq refusals; 1.3: hub-log witness resets');
  t.same(parseVersion('1.12'), { major: 1, minor: 12 });
  for (const bad of ['1', '1.0.0', '01.0', '1.01', 'v1.0', '', 1.0, null]) t.equal(parseVersion(bad), null, String(bad));
  t.equal(codeOf(() => checkVersion('1.0')), 'ok');
  t.equal(codeOf(() => checkVersion('1.99')), 'ok', 'higher minor');
  t.throws(() => checkVersion('2.0'), { code: 'ERR_PROTOCOL_VERSION', details: { supported: [...SUPPORTED_VERSIONS], got: '2.0' } });
  t.equal(codeOf(() => checkVersion('2.3', ['1.0', '2.1'])), 'ok', 'a receiver that speaks major 2 accepts 2.3');
});

t.test('negotiate: highest common version, first preferred common usable suite', async (t) => {
  const rsa = DEFAULT_SUITE;
  const ec = 'CF1-ECDH-ES-A256KW-A256GCM-ES256';
  t.same(negotiate(localCapabilities(), localCapabilities()), { version: PROTOCOL_VERSION, suite: rsa });
  t.same(negotiate({ versions: ['1.0', '1.3', '2.1'], suites: [ec, rsa] }, { versions: ['1.5', '2.0'], suites: [rsa, ec] }), { version: '2.0', suite: ec }, 'highest common major, lower of the minors, my preference');
  t.same(negotiate({ versions: ['1.4'], suites: [rsa] }, { versions: ['1.2'], suites: [rsa] }).version, '1.2');
  t.same(negotiate({ versions: ['1.0'], suites: ['CF1-SM2KA-SM4GCM-SM3', rsa] }, { versions: ['1.0'], suites: ['CF1-SM2KA-SM4GCM-SM3', rsa] }).suite, rsa, 'a planned suite is skipped');
  t.throws(() => negotiate({ versions: ['1.0'], suites: [rsa] }, { versions: ['2.0'], suites: [rsa] }), { code: 'ERR_PROTOCOL_VERSION', details: { supported: ['1.0'], theirs: ['2.0'] } });
  t.throws(() => negotiate({ versions: ['1.0'], suites: [rsa] }, { versions: ['1.0'], suites: [ec] }), { code: 'ERR_UNKNOWN_SUITE' });
  t.throws(() => negotiate({ versions: ['1.0'], suites: ['CF1-SM2KA-SM4GCM-SM3'] }, { versions: ['1.0'], suites: ['CF1-SM2KA-SM4GCM-SM3'] }), { code: 'ERR_UNKNOWN_SUITE' }, 'only planned in common');
  fc.assert(
    fc.property(fc.shuffledSubarray(usableSuites(), { minLength: 1 }), fc.shuffledSubarray(usableSuites(), { minLength: 1 }), (a, b) => {
      const common = a.filter((s) => b.includes(s));
      const got = codeOf(() => negotiate({ versions: ['1.0'], suites: a }, { versions: ['1.0'], suites: b }));
      return common.length === 0 ? got === 'ERR_UNKNOWN_SUITE' : negotiate({ versions: ['1.0'], suites: a }, { versions: ['1.0'], suites: b }).suite === common[0];
    }),
  );
});

t.test('suite registry', async (t) => {
  t.same(usableSuites(), [DEFAULT_SUITE, 'CF1-ECDH-ES-A256KW-A256GCM-ES256', 'CF1-SM2-SM4GCM-SM3']);
  t.same(SUITES.map((s) => s.name), [DEFAULT_SUITE, 'CF1-ECDH-ES-A256KW-A256GCM-ES256', 'CF1-SM2-SM4GCM-SM3', 'CF1-SM2KA-SM4GCM-SM3']);
  t.match(getSuite(DEFAULT_SUITE), { jweAlg: 'RSA-OAEP-256', jweEnc: 'A256GCM', jwsAlg: 'PS256', digest: 'sha256' });
  t.match(getSuite('CF1-ECDH-ES-A256KW-A256GCM-ES256'), { jweAlg: 'ECDH-ES+A256KW', jwsAlg: 'ES256' });
  t.equal(describeSuite('CF1-SM2KA-SM4GCM-SM3')?.status, 'planned');
  t.throws(() => getSuite('CF1-SM2KA-SM4GCM-SM3'), { code: 'ERR_UNKNOWN_SUITE', details: { suite: 'CF1-SM2KA-SM4GCM-SM3' } });
  t.ok(Object.isFrozen(SUITES) && Object.isFrozen(SUITES[0]), 'frozen');
});

function keywordsOf(schema: unknown, out = new Set<string>()): Set<string> {
  if (schema && typeof schema === 'object' && !Array.isArray(schema)) {
    for (const [k, v] of Object.entries(schema)) {
      out.add(k);
      if (k === 'properties') for (const sub of Object.values(v as object)) keywordsOf(sub, out);
      if (k === 'items') keywordsOf(v, out);
    }
  }
  return out;
}

t.test('the schemas stay inside the subset schema-check understands', async (t) => {
  for (const s of [ENVELOPE_SCHEMA, ENVELOPE_HEADER_SCHEMA]) {
    t.same([...keywordsOf(s)].filter((k) => !SUPPORTED_KEYWORDS.has(k)), [], s.$id);
  }
  t.same(ENVELOPE_SCHEMA.properties.type.enum, ENVELOPE_TYPES);
});

t.test('schema-check agrees with Ajv (draft 2020-12) on real and mutated envelopes', async (t) => {
  const { hub, changsha } = makePki();
  const env = await seal({ type: 'batch', from: '430100', to: '430000', seq: 1, payload: { a: 1 }, sender: changsha, recipientCertPem: hub.certPem });
  const ajv = new Ajv2020({ allErrors: true, strict: false });
  const validate = ajv.compile(ENVELOPE_SCHEMA);
  t.equal(validate(env), true, 'Ajv accepts a sealed envelope');
  t.same(checkSchema(ENVELOPE_SCHEMA, env), []);
  const fields = Object.keys(env);
  const junk = fc.oneof(fc.constant(undefined), fc.jsonValue({ maxDepth: 1 }), fc.constant('4301000'), fc.constant(0), fc.constant(2.5), fc.constant([]));
  fc.assert(
    fc.property(fc.constantFrom(...fields), junk, (field, value) => {
      const m = { ...env } as Record<string, unknown>;
      if (value === undefined) delete m[field];
      else m[field] = value;
      return validate(m) === (checkSchema(ENVELOPE_SCHEMA, m).length === 0);
    }),
    { numRuns: 300 },
  );
  t.pass('300 mutations judged alike');
});

t.test('assertEnvelope lists every bad field in one ERR_ENVELOPE_MALFORMED', async (t) => {
  try {
    assertEnvelope({ v: '1.0', suite: '', type: 'gossip', from: 430100, to: '43000', id: 'x', seq: 1.5, ts: 'yesterday', x5c: ['***'], enc: {}, sig: { protected: 'e30', signature: 'AA', extra: 1 } });
    t.fail('should throw');
  } catch (e) {
    const err = e as { code: string; details: Array<{ field: string }>; message: string };
    t.equal(err.code, 'ERR_ENVELOPE_MALFORMED');
    t.same(
      err.details.map((d) => d.field).sort(),
      ['enc.ciphertext', 'enc.encrypted_key', 'enc.iv', 'enc.protected', 'enc.tag', 'from', 'id', 'seq', 'sig.extra', 'suite', 'to', 'ts', 'type', 'x5c[0]'],
    );
    t.match(err.message, /from must be a string/);
  }
});
