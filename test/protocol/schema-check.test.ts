/**
 * The Ajv-backed checkSchema reports exactly the problems (field and message) the hand-written
 * checker it replaced reported (scripts/bench/schema-hand-written.ts); Ajv's order may differ, so both are sorted.
 */
import t from 'tap';
import fc from 'fast-check';
import { checkSchema, type FieldProblem, type JsonSchema } from '../../protocol/schema-check.js';
import { interpretSchema as reference } from '../../scripts/bench/schema-hand-written.js';
import { BATCH_SCHEMA, CHECKPOINT_SCHEMA, ENROLL_SCHEMA, QUERY_SCHEMA, RENEW_SCHEMA, WIRE_RECORD_SCHEMA } from '../../protocol/exchange.js';
import { ENVELOPE_HEADER_SCHEMA, ENVELOPE_SCHEMA } from '../../protocol/envelope.js';

const order = (a: FieldProblem, b: FieldProblem) => (a.field < b.field ? -1 : a.field > b.field ? 1 : a.message < b.message ? -1 : a.message > b.message ? 1 : 0);
const sorted = (ps: FieldProblem[]) => [...ps].sort(order);
const compiled = (s: JsonSchema, v: unknown, path = '$'): FieldProblem[] => sorted(checkSchema(s, v, path));
const interpretSchema = (s: JsonSchema, v: unknown, path = '$'): FieldProblem[] => sorted(reference(s, v, path));

const TYPES = ['string', 'integer', 'number', 'object', 'array', 'boolean', 'null'] as const;
const KEYS = ['a', 'b', 'id', '__proto__', 'x.y'];
/** Property names a schema declares: no "__proto__" (Ajv does not read a property schema of that name; no wire schema has one). Values still carry it. */
const PROPERTY_KEYS = KEYS.filter((k) => k !== '__proto__');

/** Random schemas of the subset, a few levels deep. */
const schemaArb: fc.Arbitrary<JsonSchema> = fc.letrec<{ s: JsonSchema; sub: JsonSchema }>((tie) => ({
  sub: fc.oneof({ depthSize: 'small' }, fc.constant({}), tie('s')),
  s: fc.record(
    {
      type: fc.constantFrom(...TYPES),
      enum: fc.array(fc.oneof(fc.string({ maxLength: 3 }), fc.integer({ min: -2, max: 2 }), fc.constant(null)), { minLength: 1, maxLength: 3 }),
      const: fc.oneof(fc.string({ maxLength: 2 }), fc.integer({ min: 0, max: 2 }), fc.boolean()),
      pattern: fc.constantFrom('^[a-z]*$', '^[0-9]+$', 'b', '^[^\\u0000\\ud800-\\udfff]*$'),
      minLength: fc.nat(3),
      maxLength: fc.nat(5),
      minimum: fc.integer({ min: -3, max: 3 }),
      maximum: fc.integer({ min: -3, max: 3 }),
      required: fc.uniqueArray(fc.constantFrom(...KEYS), { maxLength: 3 }),
      properties: fc.dictionary(fc.constantFrom(...PROPERTY_KEYS), tie('sub'), { maxKeys: 3 }),
      additionalProperties: fc.boolean(),
      items: tie('sub'),
      minItems: fc.nat(2),
      maxItems: fc.nat(3),
    },
    { requiredKeys: [] },
  ) as fc.Arbitrary<JsonSchema>,
})).s;

const valueArb = fc.letrec<{ v: unknown }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small' },
    fc.string({ maxLength: 6 }),
    fc.constantFrom('', 'abc', '123', '\u0000', '\ud800', 'b'),
    fc.integer({ min: -4, max: 4 }),
    fc.double({ noNaN: true, noDefaultInfinity: true, min: -4, max: 4 }),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('v'), { maxLength: 4 }),
    fc.dictionary(fc.constantFrom(...KEYS, 'c'), tie('v'), { maxKeys: 4 }),
  ),
})).v;

t.test('random schemas and values: Ajv-backed = reference', async (t) => {
  fc.assert(
    fc.property(schemaArb, valueArb, (s, v) => {
      t.same(compiled(s, v), interpretSchema(s, v));
      return true;
    }),
    { numRuns: 2000 },
  );
  t.pass('2,000 schema/value pairs judged alike');
});

t.test('wire schemas on valid and mutated payloads: Ajv-backed = reference', async (t) => {
  const now = '2026-01-02T03:04:05.000Z';
  const id = '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b';
  const record = { id, type: 'XK', classification: 'public', fields: { uscc: '91430100MA4L0XXXXX', name: '某公司' }, createdAt: now, updatedAt: now };
  const samples: [JsonSchema, unknown][] = [
    [BATCH_SCHEMA, { records: [record, { ...record, id: 'nope', classification: 'secret', extra: 1 }, 7], withdrawals: [{ id, reason: 'repair', at: now }, { id, reason: 'whim' }] }],
    [WIRE_RECORD_SCHEMA, record],
    [QUERY_SCHEMA, { subject: '91430100MA4L0XXXXX', actor: 'user:alice', clearance: 'shared', purpose: '行政审批' }],
    [CHECKPOINT_SCHEMA, { checkpoint: { treeSize: 0, rootHash: 'ab', time: now, nodeId: '430100', signature: '', signerFingerprint: 'x' }, signerCertPem: 'pem', proof: { from: 1, fromRoot: 'zz', proof: ['a'] } }],
    [ENROLL_SCHEMA, { token: '', csrPem: 'x', more: true }],
    [RENEW_SCHEMA, {}],
    [ENVELOPE_HEADER_SCHEMA, { v: '1.0', type: 'batch', seq: 1.5 }],
    [ENVELOPE_SCHEMA, { v: '1.0', enc: {}, sig: { protected: 'e30' } }],
  ];
  for (const [s, v] of samples) {
    t.same(compiled(s, v), interpretSchema(s, v));
    t.same(compiled(s, v, 'payload'), interpretSchema(s, v, 'payload'), 'with a path prefix');
  }
  t.ok(interpretSchema(BATCH_SCHEMA, samples[0]![1]).length >= 5, 'the mutated batch has problems to compare');
  const paths = ['records', 'withdrawals', 'records[0]', 'records[0].fields', 'records[0].id', 'withdrawals[0].reason'];
  fc.assert(
    fc.property(fc.constantFrom(...paths), valueArb, (path, junk) => {
      const batch = structuredClone({ records: [record, record], withdrawals: [{ id, reason: 'repair', at: now }] }) as Record<string, unknown>;
      const parts = path.split(/[.[\]]+/).filter(Boolean);
      let at = batch as Record<string, unknown>;
      for (const p of parts.slice(0, -1)) at = at[p] as Record<string, unknown>;
      at[parts.at(-1)!] = junk;
      t.same(compiled(BATCH_SCHEMA, batch), interpretSchema(BATCH_SCHEMA, batch));
      return true;
    }),
    { numRuns: 500 },
  );
});

t.test('checkSchema compiles a schema on first use and answers alike after', async (t) => {
  const s: JsonSchema = { type: 'object', required: ['a'], properties: { a: { type: 'string', minLength: 2 } }, additionalProperties: false };
  const bad = { a: 'x', b: 1 };
  const want = [{ field: 'a', message: 'must be at least 2 characters' }, { field: 'b', message: 'is not allowed here' }];
  t.same(sorted(checkSchema(s, bad)), want, 'first use');
  t.same(sorted(checkSchema(s, bad)), want, 'second use');
  t.same(checkSchema(s, { a: 'xy' }), []);
  const out: FieldProblem[] = [{ field: 'earlier', message: 'kept' }];
  t.equal(checkSchema(s, 5, 'payload', out), out, 'appends to the list it is given');
  t.same(out, [{ field: 'earlier', message: 'kept' }, { field: 'payload', message: 'must be an object, got integer' }]);
  const sparse: unknown[] = [1];
  sparse[2] = 'x';
  const items: JsonSchema = { type: 'array', items: { type: 'integer' } };
  t.same(compiled(items, sparse), interpretSchema(items, sparse), 'holes are skipped as forEach skips them');
  t.same(compiled(items, sparse), [{ field: '[2]', message: 'must be an integer, got string' }]);
});
