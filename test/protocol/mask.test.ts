/**
 * Masking personal data inside free text (issue 13 item 9): a natural person's name, mobile and
 * landline numbers, resident IDs written with spaces, dashes, a line break or full-width digits,
 * and old 15-digit IDs, in `content` / `remarks` of a masked record; and what must stay readable
 * (amounts, dates, decision numbers, USCCs, organisation names).
 */
import t from 'tap';
import { exampleRecord, validateRecord } from '../../protocol/catalog.js';
import { makeResidentId } from '../../protocol/identifiers.js';
import { maskRecord, maskText } from '../../protocol/mask.js';
import { maskNameIn, maskNumbersIn } from '../../protocol/mask-text.js';

const ID = makeResidentId({ division: '430102', birth: '1990-03-07', seq: 123 });
const digits = (s: string) => s.replace(/[^0-9X]/g, '');
const fullWidth = (s: string) => s.replace(/[0-9]/g, (d) => String.fromCharCode(0xff10 + Number(d)));

t.test('resident IDs however they are written', async (t) => {
  const spaced = `${ID.slice(0, 6)} ${ID.slice(6, 14)} ${ID.slice(14)}`;
  const dashed = ID.match(/.{1,4}/g)!.join('-');
  const cases: [string, string][] = [
    ['contiguous', ID],
    ['6-8-4 with spaces', spaced],
    ['groups of 4 with dashes', dashed],
    ['split over a line break', `${ID.slice(0, 10)}\n${ID.slice(10)}`],
    ['with an ideographic space', `${ID.slice(0, 6)}\u3000${ID.slice(6)}`],
    ['full-width digits', fullWidth(ID)],
  ];
  for (const [what, written] of cases) {
    const out = maskText(`当事人身份证号${written}，已核实。`);
    t.notOk(digits(out.replace(/[０-９]/g, (d) => String(d.charCodeAt(0) - 0xff10))).includes(ID.slice(4, 14)), `${what}: the middle digits are gone`);
    t.equal(out.split('*').length - 1, 10, `${what}: 10 digits starred`);
    t.ok(out.startsWith('当事人身份证号') && out.endsWith('，已核实。'), `${what}: the text around is kept`);
  }
  t.equal(maskNumbersIn(spaced), `${ID.slice(0, 4)}** ******** ${ID.slice(14)}`, 'separators kept, first 4 and last 4 digits shown');
  const old = '430102900307123';
  t.equal(maskNumbersIn(`旧证${old}`), `旧证4301*******7123`, 'an old 15-digit ID');
  t.equal(maskNumbersIn('旧证 430102 900307 123'), '旧证 4301** *****7 123', 'an old ID in groups');
});

t.test('mobile and landline numbers', async (t) => {
  t.equal(maskNumbersIn('电话13800138000'), '电话138****8000');
  t.equal(maskNumbersIn('手机 138 0013 8000。'), '手机 138 **** 8000。');
  t.equal(maskNumbersIn('手机138-0013-8000'), '手机138-****-8000');
  t.equal(maskNumbersIn('+86 138 0013 8000'), '+86 138 **** 8000');
  t.equal(maskNumbersIn('+8613800138000'), '+86138****8000');
  t.equal(maskNumbersIn(fullWidth('13800138000')), '１３８****８０００', 'full-width digits');
  t.equal(maskNumbersIn('座机0731-84567890'), '座机0731-****7890');
  t.equal(maskNumbersIn('（0731）8456 7890'), '（0731）**** 7890');
  t.equal(maskNumbersIn('010 12345678'), '010 ****5678');
  t.equal(maskNumbersIn('073184567890'), '0731****7890');
});

t.test('what is not personal data stays readable', async (t) => {
  for (const text of [
    '罚款人民币50000元，没收违法所得1200.50元',
    '2026-03-15至2027-03-14；2026-03-15 - 2027-03-14',
    '金额 2000 3000 5000 1000 10',
    '长市监处罚〔2026〕1001号',
    '统一社会信用代码91430100MA4L000001',
    '编号AB13800138000',
    '共 12345678901234567890 件',
  ]) t.equal(maskNumbersIn(text), text, text);
});

t.test("a natural person's name in free text", async (t) => {
  t.equal(maskNameIn('张三丰于2026年3月销售过期食品；张 三 丰已改正', '张三丰', '张**'), '张**于2026年3月销售过期食品；张**已改正');
  t.equal(maskNameIn('张某某', '张', '*'), '张某某', 'a one-character name is not searched for');
  t.equal(maskNameIn('a.b 和 ab', 'a.b', 'a**'), 'a** 和 ab', 'regular-expression characters in a name are literal');
});

t.test('maskRecord: content and remarks of a natural person’s record', async (t) => {
  const base = exampleRecord('CF');
  const input = {
    ...base,
    fields: {
      ...base.fields,
      subjectCategory: '自然人', subjectName: '张三丰', uscc: undefined, legalRep: undefined, idType: '身份证', idNumber: ID,
      content: `张三丰（身份证 ${ID.slice(0, 6)} ${ID.slice(6, 14)} ${ID.slice(14)}，电话 138 0013 8000）销售过期食品，罚款5000元。`,
      remarks: `联系人张 三 丰，座机0731-84567890，旧证430102900307123，${fullWidth(ID)}`,
    },
  };
  const v = validateRecord(input);
  t.ok(v.ok, 'a valid record');
  if (!v.ok) return;
  const m = maskRecord(v.record).fields as Record<string, string>;
  const shown = JSON.stringify(m);
  for (const secret of ['张三丰', '三丰', '13800138000', '0013', '84567890', '900307', ID.slice(4, 14)]) t.notOk(digits(shown).includes(secret) || shown.includes(secret), `${secret} is not shown`);
  t.notOk(shown.replace(/\s/g, '').includes('张三丰'), 'the name, spaced, is not shown');
  t.match(m.content, /罚款5000元/, 'the amount is kept');
  t.equal(m.decisionNo, v.record.fields.decisionNo, 'the decision number is kept');

  const org = validateRecord(exampleRecord('CF'));
  if (org.ok) {
    const text = `${org.record.fields.subjectName as string}法定代表人电话13800138000`;
    const om = maskRecord({ ...org.record, fields: { ...org.record.fields, content: text } }).fields as Record<string, string>;
    t.equal(om.content, `${org.record.fields.subjectName as string}法定代表人电话138****8000`, "an organisation's name stays, the phone number is masked");
  }
});
