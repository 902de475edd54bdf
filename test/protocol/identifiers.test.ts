import t from 'tap';
import fc from 'fast-check';
import {
  assertNodeId, assertResidentId, assertUscc, checkIdentifier, isNodeId, isValidResidentId, isValidUscc, makeResidentId,
  makeUscc, normalizeIdentifier, orgCodeCheckChar, randomResidentId, randomUscc, residentIdCheckChar, residentIdProblem,
  residentIdWarnings, seededRng, USCC_CHARSET, usccCheckChar, usccProblem,
} from '../../protocol/identifiers.js';
import { maskIdentifier, maskName, maskResidentIdsIn } from '../../protocol/mask.js';

const TODAY = '2026-05-01';

// Published codes. Each passes both the mod-31 check and the embedded GB 11714 check with this
// implementation (verified by hand first); codes that did not (e.g. 914300001837604307) were dropped.
const REAL_USCC = [
  '91350100M000100Y43', // the example in GB 32100-2015
  '914403001922038216', // 华为技术有限公司 (all digits: a USCC can look like a resident ID)
  '9144030071526726XG', // 腾讯科技（深圳）有限公司 (organization-code check character X)
  '91110000802100433B',
  '91440300708461136T',
  '91110108551385082Q',
  '91330100716105852F',
];
const STANDARD_RESIDENT_ID = '11010519491231002X'; // the example in GB 11643-1999

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
}

/** Replaces character i (0-based) of s. */
function put(s: string, i: number, c: string): string {
  return s.slice(0, i) + c + s.slice(i + 1);
}

t.test('published USCCs are valid', async (t) => {
  for (const c of REAL_USCC) {
    t.equal(usccProblem(c), null, c);
    t.same(checkIdentifier(c, TODAY), { input: c, valid: true, kind: 'uscc' }, `${c} is a uscc`);
  }
});

t.test('invalid USCC variants are refused with ERR_INVALID_USCC', async (t) => {
  const good = '91350100M000100Y43';
  const cases: [string, string, RegExp][] = [
    ['wrong check character', put(good, 17, '4'), /check character/],
    ['one body character changed', put(good, 10, '1'), /check character/],
    ['letter I', put(good, 9, 'I'), /not allowed/],
    ['letter O', put(good, 9, 'O'), /not allowed/],
    ['letter S', put(good, 9, 'S'), /not allowed/],
    ['letter V', put(good, 9, 'V'), /not allowed/],
    ['letter Z', put(good, 9, 'Z'), /not allowed/],
    ['17 characters', good.slice(0, 17), /18 characters/],
    ['19 characters', good + '0', /18 characters/],
    ['lower case', good.toLowerCase(), /upper case/],
    ['undefined authority B', makeBody('B1350100M000100Y4'), /registration authority/],
    ['category 0', makeBody('90350100M000100Y4'), /category/],
    ['letter in division code', makeBody('9135010AM000100Y4'), /division/],
    ['organization code check wrong, overall check consistent', makeBody('91350100M000100Y5'), /organization code/],
  ];
  for (const [name, input, why] of cases) {
    t.match(usccProblem(input), why, name);
    t.equal(isValidUscc(input), false, `${name}: not valid`);
    t.equal(code(() => assertUscc(input)), 'ERR_INVALID_USCC', `${name}: assertUscc code`);
  }
  t.equal(checkIdentifier(good.toLowerCase()).code, 'ERR_INVALID_USCC', 'lower case reported as invalid uscc');
  t.equal(checkIdentifier(good.toLowerCase()).kind, 'uscc');
  t.equal(usccProblem(42), 'not a string');
});

/** 17 characters + the mod-31 check computed, so only the rule under test is broken. */
function makeBody(body17: string): string {
  return body17 + usccCheckChar(body17);
}

t.test('lower case is refused, and normalizeIdentifier is the explicit way to accept it', async (t) => {
  t.equal(isValidUscc('91350100m000100y43'), false);
  t.equal(isValidUscc(normalizeIdentifier(' 91350100m000100y43 ')), true);
  t.match(residentIdProblem('11010519491231002x', TODAY), /upper-case X/);
  t.equal(isValidResidentId(normalizeIdentifier('11010519491231002x'), TODAY), true);
});

t.test('the resident ID standard example and date rules', async (t) => {
  t.equal(residentIdProblem(STANDARD_RESIDENT_ID, TODAY), null);
  t.same(checkIdentifier(STANDARD_RESIDENT_ID, TODAY), { input: STANDARD_RESIDENT_ID, valid: true, kind: 'resident-id' });
  const withDate = (ymd: string) => {
    const body = '110105' + ymd + '002';
    return body + residentIdCheckChar(body);
  };
  t.equal(isValidResidentId(withDate('20000229'), TODAY), true, '2000-02-29 exists (400-year leap)');
  t.equal(isValidResidentId(withDate('20040229'), TODAY), true, '2004-02-29 exists');
  t.match(residentIdProblem(withDate('19000229'), TODAY), /calendar date/, '1900 is not a leap year');
  t.match(residentIdProblem(withDate('19490230'), TODAY), /calendar date/);
  t.match(residentIdProblem(withDate('19491301'), TODAY), /calendar date/);
  t.equal(residentIdProblem(withDate('18991231'), TODAY), null, 'before 1900 is valid (issue 14 item 8)');
  t.equal(residentIdWarnings(withDate('18991231'), TODAY).length, 1, '… with an age warning');
  t.equal(isValidResidentId(withDate('20260501'), TODAY), true, 'born today');
  t.match(residentIdProblem(withDate('20260502'), TODAY), /future/);
  t.match(residentIdProblem(put(STANDARD_RESIDENT_ID, 17, '3'), TODAY), /check character/);
  t.match(residentIdProblem('1101051949123100', TODAY), /18 characters/);
  t.match(residentIdProblem('11010519491231A02X', TODAY), /17 digits/);
  t.equal(code(() => assertResidentId(put(STANDARD_RESIDENT_ID, 3, '2'), TODAY)), 'ERR_INVALID_RESIDENT_ID');
  t.equal(assertResidentId(STANDARD_RESIDENT_ID, TODAY), STANDARD_RESIDENT_ID);
});

t.test('checkIdentifier decides the kind by shape', async (t) => {
  t.same(checkIdentifier('914403001922038216', TODAY), { input: '914403001922038216', valid: true, kind: 'uscc' }, 'all-digit USCC');
  t.same(checkIdentifier('11010519491231002Y', TODAY), { input: '11010519491231002Y', valid: false, kind: 'uscc', code: 'ERR_INVALID_USCC' }, 'letter Y at the end: uscc shape');
  t.same(checkIdentifier('110105194912310021', TODAY), { input: '110105194912310021', valid: false, kind: 'resident-id', code: 'ERR_INVALID_RESIDENT_ID' }, 'birth-date shape');
  t.same(checkIdentifier('914403001922038217', TODAY), { input: '914403001922038217', valid: false, kind: 'uscc', code: 'ERR_INVALID_USCC' }, 'digits without a date: uscc');
  for (const s of ['110105491231002', '', 'hello', '91350100M000100Y4-', '91350100M000100Y433']) {
    t.same(checkIdentifier(s, TODAY), { input: s, valid: false, kind: 'unknown', code: 'ERR_UNKNOWN_IDENTIFIER' }, `unknown: ${JSON.stringify(s)}`);
  }
});

t.test('node ids are 6-digit division codes with a province prefix', async (t) => {
  for (const id of ['430100', '430000', '430181', '431081', '110000', '820000']) t.equal(assertNodeId(id), id, id);
  for (const id of ['990000', '100000', '43010', '4301000', 'abcdef', '', 430100]) {
    t.equal(isNodeId(id), false, `not a node id: ${JSON.stringify(id)}`);
    t.equal(code(() => assertNodeId(id)), 'ERR_INVALID_NODE_ID', `ERR_INVALID_NODE_ID for ${JSON.stringify(id)}`);
  }
});

t.test('generators', async (t) => {
  t.equal(makeUscc('91350100M000100Y4'), '91350100M000100Y43', 'makeUscc(17) reproduces the standard example');
  t.equal(makeUscc('91350100M000100Y'), '91350100M000100Y43', 'makeUscc(16) also computes the organization check');
  t.equal(orgCodeCheckChar('71526726'), 'X', 'check value 10 is X');
  t.equal(code(() => makeUscc('91350100M000100Y5')), 'ERR_INVALID_USCC', 'a bad organization code cannot be completed');
  t.equal(code(() => makeUscc('9135010')), 'ERR_INVALID_USCC', 'too short');
  t.equal(code(() => makeUscc('91350100I000100Y')), 'ERR_INVALID_USCC', 'I is not in the character set');
  t.equal(makeResidentId({ division: '110105', birth: '1949-12-31', seq: 2 }), STANDARD_RESIDENT_ID);
  t.equal(code(() => makeResidentId({ birth: '1990-02-30' })), 'ERR_INVALID_RESIDENT_ID');
  t.equal(code(() => makeResidentId({ seq: 1000 })), 'ERR_INVALID_RESIDENT_ID');
  const a = seededRng(7);
  const b = seededRng(7);
  const seqA = [randomUscc(a), randomUscc(a), randomResidentId(a)];
  t.same([randomUscc(b), randomUscc(b), randomResidentId(b)], seqA, 'same seed, same sequence');
  t.not(randomUscc(seededRng(8)), seqA[0], 'another seed, another code');
  t.equal(isValidUscc(seqA[0]), true);
  t.equal(isValidResidentId(seqA[2]), true);
  t.match(randomUscc(seededRng(1), { authority: '5', category: '3', division: '430700' }), /^53430700/);
});

const chars = (alphabet: string, n: number) => fc.array(fc.constantFrom(...alphabet), { minLength: n, maxLength: n }).map((a) => a.join(''));
const usccBody16 = fc.tuple(fc.constantFrom(...'123456789ANY'), fc.constantFrom(...'123456789'), chars('0123456789', 6), chars(USCC_CHARSET, 8)).map((p) => p.join(''));

t.test('property: makeUscc always yields a valid code; any single-character change is invalid', async (t) => {
  t.doesNotThrow(() =>
    fc.assert(
      fc.property(usccBody16, fc.nat(17), fc.constantFrom(...USCC_CHARSET), (body, i, c) => {
        const u = makeUscc(body);
        if (!isValidUscc(u) || !checkIdentifier(u, TODAY).valid) return false;
        return c === u[i] || !isValidUscc(put(u, i, c));
      }),
      { numRuns: 2000 },
    ),
  );
});

t.test('property: makeResidentId is valid; any single-digit change is invalid', async (t) => {
  const birth = fc.date({ min: new Date('1900-01-01T00:00:00Z'), max: new Date('2026-04-30T00:00:00Z'), noInvalidDate: true }).map((d) => d.toISOString().slice(0, 10));
  t.doesNotThrow(() =>
    fc.assert(
      fc.property(chars('0123456789', 6), birth, fc.integer({ min: 0, max: 999 }), fc.nat(17), fc.constantFrom(...'0123456789X'), (division, b, seq, i, c) => {
        const id = makeResidentId({ division, birth: b, seq, today: TODAY });
        if (!isValidResidentId(id, TODAY)) return false;
        if (c === id[i] || (c === 'X' && i < 17)) return true;
        return !isValidResidentId(put(id, i, c), TODAY);
      }),
      { numRuns: 2000 },
    ),
  );
});

t.test('masking', async (t) => {
  t.equal(maskIdentifier('43010219900101123X'), '4301**********123X', 'resident ID: first 4 and last 4');
  t.equal(maskIdentifier(STANDARD_RESIDENT_ID), '1101**********002X');
  t.equal(maskIdentifier('91350100M000100Y43'), '91350100M000100Y43', 'a legal person USCC is not personal data');
  t.equal(maskIdentifier('914403001922038216'), '914403001922038216', 'all-digit USCC left');
  t.equal(maskIdentifier('E12345678'), 'E*******8', 'passport number');
  t.equal(maskIdentifier('430102900101123'), '4301*******1123', '15-digit first-generation ID');
  t.equal(maskIdentifier('AB12'), '****');
  t.equal(maskName('张三'), '张*');
  t.equal(maskName('张三丰'), '张**');
  t.equal(maskName('欧阳娜娜'), '欧***');
  t.equal(maskName('李'), '*');
  t.equal(maskName(''), '');
  t.equal(maskResidentIdsIn(`当事人身份证号${STANDARD_RESIDENT_ID}，企业代码914403001922038216`), '当事人身份证号1101**********002X，企业代码914403001922038216');
  t.equal(maskResidentIdsIn('编号A11010519491231002X'), '编号A11010519491231002X', 'not matched inside a longer code');
});

t.test('GB 11643 own example (born 1880) is valid; an implausible age is a warning, not a failure (issue 14 item 8)', async (t) => {
  const GB_EXAMPLE = '440524188001010014'; // the example in GB 11643-1999 itself
  t.equal(residentIdCheckChar(GB_EXAMPLE.slice(0, 17)), '4', 'check digit by MOD 11-2');
  t.equal(residentIdProblem(GB_EXAMPLE, TODAY), null, 'valid by check digit and date');
  t.equal(isValidResidentId(GB_EXAMPLE, TODAY), true);
  t.equal(assertResidentId(GB_EXAMPLE, TODAY), GB_EXAMPLE);
  t.same(checkIdentifier(GB_EXAMPLE, TODAY), { input: GB_EXAMPLE, valid: true, kind: 'resident-id', warnings: ['出生日期 1880-01-01 距今已超过 120 年，请核对证件号码 (date of birth 1880-01-01 is more than 120 years ago)'] });
  t.same(residentIdWarnings(GB_EXAMPLE, TODAY), ['出生日期 1880-01-01 距今已超过 120 年，请核对证件号码 (date of birth 1880-01-01 is more than 120 years ago)']);
  t.same(residentIdWarnings(STANDARD_RESIDENT_ID, TODAY), [], 'born 1949: no warning');
  t.same(residentIdWarnings(makeResidentId({ birth: '1906-05-01', today: TODAY }), TODAY), [], 'exactly 120 years: no warning');
  t.same(residentIdWarnings(makeResidentId({ birth: '1906-04-30', today: TODAY }), TODAY).length, 1, '120 years and a day: warning');
  t.equal(checkIdentifier(STANDARD_RESIDENT_ID, TODAY).warnings, undefined, 'no warnings key when there is nothing to say');
  t.match(residentIdProblem('440524288001010014', TODAY), /future/, 'a birth date after today is still invalid');
});
