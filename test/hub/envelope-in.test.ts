/** The hub's quick I-JSON check of opened payloads answers exactly as protocol's iJsonProblem. */
import t from 'tap';
import fc from 'fast-check';
import { iJsonProblem } from '../../protocol/canonical-json.js';
import { payloadIJsonProblem } from '../../hub/envelope-in.js';

t.test('payloadIJsonProblem = iJsonProblem on hostile and ordinary values', async (t) => {
  const nest = (n: number, leaf: unknown): unknown => (n === 0 ? leaf : n % 2 ? [nest(n - 1, leaf)] : { a: nest(n - 1, leaf) });
  const cases: unknown[] = [
    { records: [{ fields: { name: '长沙市某公司', n: 1.5 } }], withdrawals: [] },
    'x\ud800y',
    '\ud83d\ude00',
    { ['\udc00k']: 1 },
    { ['\ud83d\ude00']: 'pair in a key' },
    [1, Infinity],
    { a: -Infinity },
    NaN,
    JSON.parse('{"__proto__": {"x": "\\ud800"}}'),
    nest(63, 'ok'),
    nest(64, 'ok'),
    nest(65, 'ok'),
    nest(256, 'ok'),
    nest(257, 'ok'),
    nest(300, 1),
    nest(100, '\udfff'),
  ];
  for (const v of cases) t.equal(payloadIJsonProblem(v), iJsonProblem(v));
  t.not(payloadIJsonProblem(cases[1]), null, 'a lone surrogate is a problem');
  t.equal(payloadIJsonProblem(nest(200, 'ok')), null, 'deep but inside the limit is fine');
  t.not(payloadIJsonProblem(nest(300, 1)), null, 'deeper than canonical JSON writes is a problem');
  fc.assert(
    fc.property(fc.jsonValue({ stringUnit: 'binary', maxDepth: 4 }), fc.constantFrom(undefined, Infinity, -Infinity, '\ud800', 'a\udc00'), (v, bad) => {
      t.equal(payloadIJsonProblem(v), iJsonProblem(v));
      const spoiled = { v, deep: [{ x: bad }] };
      t.equal(payloadIJsonProblem(spoiled), iJsonProblem(spoiled));
      return true;
    }),
    { numRuns: 300 },
  );
});
