import t from 'tap';
import fc from 'fast-check';
import { canonicalize, canonicalizeCopied, canonicalizeReference } from '../../protocol/canonical-json.js';

function fromBits(hex: string): number {
  const view = new DataView(new ArrayBuffer(8));
  view.setBigUint64(0, BigInt('0x' + hex));
  return view.getFloat64(0);
}

t.test('RFC 8785 Appendix B: number serialisation table', async (t) => {
  const table: Array<[string, string]> = [
    ['0000000000000000', '0'],
    ['8000000000000000', '0'],
    ['0000000000000001', '5e-324'],
    ['8000000000000001', '-5e-324'],
    ['7fefffffffffffff', '1.7976931348623157e+308'],
    ['ffefffffffffffff', '-1.7976931348623157e+308'],
    ['4340000000000000', '9007199254740992'],
    ['c340000000000000', '-9007199254740992'],
    ['4430000000000000', '295147905179352830000'],
    ['44b52d02c7e14af5', '9.999999999999997e+22'],
    ['44b52d02c7e14af6', '1e+23'],
    ['44b52d02c7e14af7', '1.0000000000000001e+23'],
    ['444b1ae4d6e2ef4e', '999999999999999700000'],
    ['444b1ae4d6e2ef4f', '999999999999999900000'],
    ['444b1ae4d6e2ef50', '1e+21'],
    ['3eb0c6f7a0b5ed8c', '9.999999999999997e-7'],
    ['3eb0c6f7a0b5ed8d', '0.000001'],
    ['41b3de4355555553', '333333333.3333332'],
    ['41b3de4355555554', '333333333.33333325'],
    ['41b3de4355555555', '333333333.3333333'],
    ['41b3de4355555556', '333333333.3333334'],
    ['41b3de4355555557', '333333333.33333343'],
    ['becbf647612f3696', '-0.0000033333333333333333'],
    ['43143ff3c1cb0959', '1424953923781206.2'],
  ];
  for (const [bits, expected] of table) t.equal(canonicalize(fromBits(bits)), expected, `${bits} → ${expected}`);
  t.equal(canonicalize(1e-7), '1e-7');
  t.equal(canonicalize(-0), '0');
  t.equal(canonicalize(1e21), '1e+21');
  t.equal(canonicalize(1e20), '100000000000000000000');
  t.equal(canonicalize(333333333.33333329), '333333333.3333333');
});

t.test('NaN and Infinity (Appendix B: no JSON form) are refused', async (t) => {
  for (const bits of ['7fffffffffffffff', '7ff0000000000000', 'fff0000000000000']) {
    t.throws(() => canonicalize(fromBits(bits)), { code: 'ERR_CANONICAL_JSON' }, bits);
  }
});

t.test('RFC 8785 §3.2.2.2: string escaping', async (t) => {
  // The input is the RFC's JSON literal; JSON.parse gives the string value it denotes.
  const input = JSON.parse(String.raw`"\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/"`) as string;
  t.equal(canonicalize(input), String.raw`"€$\u000f\nA'B\"\\\\\"/"`);
});

t.test('RFC 8785 §3.2.3: property sorting by UTF-16 code units', async (t) => {
  const input = JSON.parse(String.raw`{
    "\u20ac": "Euro Sign",
    "\r": "Carriage Return",
    "\ufb33": "Hebrew Letter Dalet With Dagesh",
    "1": "One",
    "\ud83d\ude00": "Emoji: Grinning Face",
    "\u0080": "Control",
    "\u00f6": "Latin Small Letter O With Diaeresis"
  }`) as Record<string, string>;
  const values = Object.values(JSON.parse(canonicalize(input)) as Record<string, string>);
  // JSON.parse re-orders integer-like keys ("1") first, so read the order from the text instead.
  const order = [...canonicalize(input).matchAll(/:"([^"]+)"/g)].map((m) => m[1]);
  t.same(order, [
    'Carriage Return',
    'One',
    'Control',
    'Latin Small Letter O With Diaeresis',
    'Euro Sign',
    'Emoji: Grinning Face',
    'Hebrew Letter Dalet With Dagesh',
  ]);
  t.equal(values.length, 7);
});

t.test('RFC 8785 §3.2.4: the complete example, byte for byte', async (t) => {
  const input = JSON.parse(String.raw`{
    "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
    "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
    "literals": [null, true, false]
  }`);
  const out = canonicalize(input);
  t.equal(out, String.raw`{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}`);
  const hex = Buffer.from(out, 'utf8').toString('hex');
  t.equal(
    hex,
    '7b226c69746572616c73223a5b6e756c6c2c747275652c66616c73655d2c226e756d62657273223a5b3333333333333333' +
      '332e333333333333332c31652b33302c342e352c302e3030322c31652d32375d2c22737472696e67223a22e282ac245c75' +
      '303030665c6e4127425c225c5c5c5c5c222f227d',
    'UTF-8 bytes as printed in the RFC',
  );
});

t.test('values JSON cannot carry are refused with ERR_CANONICAL_JSON', async (t) => {
  t.throws(() => canonicalize(undefined), { code: 'ERR_CANONICAL_JSON' });
  t.throws(() => canonicalize(10n), { code: 'ERR_CANONICAL_JSON' });
  t.throws(() => canonicalize(() => 1), { code: 'ERR_CANONICAL_JSON' });
  t.throws(() => canonicalize({ a: 'x\ud800y' }), { code: 'ERR_CANONICAL_JSON' }, 'lone high surrogate');
  t.throws(() => canonicalize({ ['\udc00']: 1 }), { code: 'ERR_CANONICAL_JSON' }, 'lone low surrogate in a key');
  t.equal(canonicalize('\ud83d\ude00'), '"😀"', 'a surrogate pair is fine');
  let deep: unknown = 1;
  for (let i = 0; i < 300; i++) deep = [deep];
  t.throws(() => canonicalize(deep), { code: 'ERR_CANONICAL_JSON' }, 'nesting limit');
});

t.test('arrays: holes and undefined become null; objects drop undefined members', async (t) => {
  // eslint-disable-next-line no-sparse-arrays
  t.equal(canonicalize([, 1]), '[null,1]');
  t.equal(canonicalize([undefined, 2]), '[null,2]');
  t.equal(canonicalize({ b: undefined, a: 1 }), '{"a":1}');
  t.equal(canonicalize({ d: new Date(Date.UTC(2026, 0, 2)) }), '{"d":"2026-01-02T00:00:00.000Z"}');
});

t.test('property: canonical output parses back to the same value and is a fixed point', async (t) => {
  fc.assert(
    fc.property(fc.jsonValue(), (v) => {
      const c = canonicalize(v);
      const back = JSON.parse(c) as unknown;
      return canonicalize(back) === c && c === canonicalize(JSON.parse(JSON.stringify(v)));
    }),
    { numRuns: 300 },
  );
  t.pass('300 random JSON values');
});

t.test('property: key order of the input does not matter', async (t) => {
  fc.assert(
    fc.property(fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 2 })), (obj) => {
      const reversed = Object.fromEntries(Object.entries(obj).reverse());
      return canonicalize(obj) === canonicalize(reversed);
    }),
    { numRuns: 200 },
  );
  t.pass('200 random objects');
});

/** Slow, obviously-right reference: JSON.stringify with keys sorted by UTF-16 code units. */
function reference(v: unknown): string {
  if (Array.isArray(v)) return '[' + v.map(reference).join(',') + ']';
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return '{' + Object.keys(o).sort().map((k) => JSON.stringify(k) + ':' + reference(o[k])).join(',') + '}';
  }
  return Object.is(v, -0) ? '0' : JSON.stringify(v);
}

t.test('property: matches the reference over full-Unicode strings (escapes, non-BMP, controls)', async (t) => {
  fc.assert(
    fc.property(fc.jsonValue({ stringUnit: 'binary' }), (v) => canonicalize(v) === reference(v)),
    { numRuns: 300 },
  );
  fc.assert(
    fc.property(fc.string({ unit: 'binary' }), (s) => canonicalize(s) === JSON.stringify(s)),
    { numRuns: 500 },
  );
  t.pass('800 random values');
});

/** The same text, or the same error code, from the sorted-copy way (forced, and as canonicalize() chooses) and the reference writer. */
function sameAsReference(v: unknown): boolean {
  const run = (f: (x: unknown) => string): string => {
    try {
      return `ok:${f(v)}`;
    } catch (e) {
      return `err:${String((e as { code?: unknown }).code)}`;
    }
  };
  const ref = run(canonicalizeReference);
  return run(canonicalizeCopied) === ref && run(canonicalize) === ref && run((x) => canonicalize({ big: new Array(64).fill(0), x })) === run((x) => canonicalizeReference({ big: new Array(64).fill(0), x }));
}

t.test('the sorted-copy fast path equals the reference writer on every shape it hands on or refuses', async (t) => {
  class Point {
    constructor(
      readonly y: number,
      readonly x: number,
    ) {}
  }
  const proto = JSON.parse('{"__proto__": {"b": 1}, "a": 2}') as unknown; // an own member named __proto__
  const cases: [string, unknown][] = [
    ['index-like keys, which V8 lists first', { b: 1, 10: 'ten', 9: 'nine', a: { 2: 'x', 11: 'y', z: 0 } }],
    ['a key of 11 digits (not an index)', { '12345678901': 1, a: 2 }],
    ['an own __proto__ member', proto],
    ['a key named toJSON that is not a function', { toJSON: 1, a: 2 }],
    ['a toJSON returning itself', { a: 1, toJSON() { return this; } }],
    ['a toJSON returning an object with a toJSON', { toJSON: () => ({ b: 2, toJSON: () => ['x', { d: 1, c: 2 }] }) }],
    ['a Date inside an array', [new Date(Date.UTC(2026, 0, 2)), { at: new Date(0) }]],
    ['boxed primitives', { n: Object(5), s: Object('ab'), b: Object(true) }],
    ['a class instance (own members only)', new Point(2, 1)],
    ['-0 deep inside', { a: [-0, { b: -0 }] }],
    ['holes, undefined and functions', { a: [undefined, , () => 1], b: undefined, c: () => 2 }], // eslint-disable-line no-sparse-arrays
    ['a symbol member', { a: Symbol('s') }],
    ['a symbol in an array', [Symbol('s')]],
    ['a bigint member', { a: 1n }],
    ['NaN deep inside', { a: [{ b: Number.NaN }] }],
    ['Infinity as a member', { a: Infinity }],
    ['a lone surrogate in a key deep inside', { a: { ['x\udc00']: 1 } }],
    ['a lone surrogate in a string in an array', ['ok', 'x\ud800']],
    ['controls and quotes in keys', { '\u0000"\\': 1, '\u001f': 2 }],
    ['an empty key and a non-BMP key', { '': 1, '😀': 2, '\uffff': 3 }],
    ['undefined at the top', undefined],
    ['a function at the top', () => 1],
  ];
  let deep: unknown = { z: 1, a: 2 };
  for (let i = 0; i < 256; i++) deep = { k: deep };
  cases.push(['nesting at the limit', deep], ['nesting past the limit', { k: deep }]);
  for (const [what, v] of cases) t.ok(sameAsReference(v), what);
  t.equal(canonicalizeCopied({ b: 1, 10: 'ten', 9: 'nine' }), '{"10":"ten","9":"nine","b":1}', 'index-like keys sorted as strings (UTF-16), not as numbers');
  t.equal(canonicalizeCopied(proto), '{"__proto__":{"b":1},"a":2}', '__proto__ is a member like any other');
  const batch = { records: Array.from({ length: 100 }, (_, i) => ({ z: i, a: { y: [i, -0], b: 'é"\n' } })), withdrawals: [] };
  t.equal(canonicalize(batch), canonicalizeReference(batch), 'a batch-sized value (the copy way) as the reference writes it');
  fc.assert(
    fc.property(fc.anything({ withBoxedValues: true, withDate: true, withSparseArray: true, withNullPrototype: true, withObjectString: true, stringUnit: 'binary', key: fc.oneof(fc.string({ unit: 'binary' }), fc.nat().map(String), fc.constantFrom('__proto__', 'toJSON', '10', '9', '4294967295')) }), sameAsReference),
    { numRuns: 2000 },
  );
  t.pass('2,000 random values of any shape');
});

t.test('the copy way keeps out of JavaScript\'s own machinery (a hostile read of the first version)', async (t) => {
  const big = new Array(64).fill(0);
  // members named like Object.prototype's: assigning them to a copy would hit a frozen prototype or an inherited setter
  const names = JSON.parse('{"records":[' + big.join(',') + '],"x":{"constructor":1,"toString":2,"hasOwnProperty":3,"valueOf":4,"__proto__":5,"__defineGetter__":6}}') as unknown;
  t.equal(canonicalize(names), canonicalizeReference(names));
  const orig = Object.getOwnPropertyDescriptor(Object.prototype, 'constructor')!;
  try {
    Object.defineProperty(Object.prototype, 'constructor', { ...orig, writable: false }); // as where Object.prototype is frozen
    t.equal(canonicalize(names), canonicalizeReference(names), 'a read-only Object.prototype.constructor changes nothing');
  } finally {
    Object.defineProperty(Object.prototype, 'constructor', orig);
  }
  // an inherited toJSON function: JSON.stringify would call it on the copies, the reference writer never on arrays
  const arrays = { a: big, b: [1, [2]] };
  const ref = canonicalizeReference(arrays);
  try {
    Object.defineProperty(Array.prototype, 'toJSON', { value: () => 'ARRAY', configurable: true, writable: true });
    t.equal(canonicalize(arrays), canonicalizeReference(arrays), 'Array.prototype.toJSON: the same text');
    t.equal(canonicalize(arrays), ref);
  } finally {
    delete (Array.prototype as { toJSON?: unknown }).toJSON;
  }
  // side effects: a toJSON runs once, a top-level getter is read once, whatever way is taken
  let n = 0;
  const counted = { big, t: { toJSON: () => ++n }, z: { 0: 'index key: the reference writer' } };
  t.equal(canonicalize(counted), canonicalizeReference({ big, t: 2, z: { 0: 'index key: the reference writer' } }).replace('"t":2', '"t":1'));
  t.equal(n, 1, 'toJSON called once');
  let g = 0;
  const getter = { get a() { return ++g; }, big };
  t.match(canonicalize(getter), /^\{"a":1,/, 'a getter on the top object read once');
  const topToJSON = { get secret(): never { throw new Error('read'); }, toJSON: () => ({ ok: 1 }), big };
  t.equal(canonicalize(topToJSON), '{"ok":1}', "the top object's toJSON first, its members never read");
  t.equal(canonicalize(Buffer.alloc(3)), canonicalizeReference(Buffer.alloc(3)), 'a Buffer at the top (toJSON)');
});
