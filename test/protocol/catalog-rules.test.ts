/** Rule sets by decision date and the derivation of a missing severity (issue 14 item 2). */
import t from 'tap';
import { exampleRecord, validateRecord } from '../../protocol/catalog.js';
import { defaultSeverity, ruleSetFor, severityFromWindow } from '../../protocol/catalog-rules.js';

const cf = (fields: Record<string, unknown>) => {
  const base = exampleRecord('CF');
  const f: Record<string, unknown> = { ...base.fields, ...fields };
  for (const k of Object.keys(f)) if (f[k] === undefined) delete f[k];
  return { type: 'CF', fields: f };
};

t.test('the rule in force on the decision date', async (t) => {
  t.equal(ruleSetFor('2026-04-01').id, 'order-36-2025');
  t.equal(ruleSetFor('2026-03-31').id, 'ndrc-order-58-2023');
  t.equal(ruleSetFor('2023-05-01').id, 'ndrc-order-58-2023');
  t.equal(ruleSetFor('2023-04-30').id, 'ndrc-2019-527');
  t.equal(ruleSetFor('not a date').id, 'order-36-2025');
});

t.test('severity from the stated window: the least severe band that holds it', async (t) => {
  t.equal(severityFromWindow('2026-04-15', '2026-07-15'), 'minor', '3 months: minor (its maximum)');
  t.equal(severityFromWindow('2026-04-15', '2027-04-15'), 'ordinary', '12 months: ordinary');
  t.equal(severityFromWindow('2026-04-15', '2029-04-15'), 'serious', '36 months: serious');
  t.equal(severityFromWindow('2026-04-15', '2029-04-16'), null, 'past every band');
  t.equal(severityFromWindow('2025-04-15', '2026-04-15'), 'ordinary', 'Order No. 58: 12 months, ordinary');
  t.equal(ruleSetFor('2025-04-15').bands.minor.published, false, 'minor records are not published');
  t.equal(severityFromWindow('2026-04-15', '2026-07-15', ['serious']), null, 'only the allowed severities');
});

t.test('province defaults: type + category before type, the most severe of several categories', async (t) => {
  const d = { CF: 'ordinary', 'CF/警告': 'minor', 'CF/吊销许可证件': 'serious' } as const;
  t.equal(defaultSeverity('CF', '罚款', d), 'ordinary');
  t.equal(defaultSeverity('CF', '警告', d), 'minor');
  t.equal(defaultSeverity('CF', '警告、吊销许可证件', d), 'serious');
  t.equal(defaultSeverity('XK', '普通', d), null);
  t.equal(defaultSeverity('CF', '罚款', undefined), null);
});

t.test('validateRecord derives a missing severity and marks it', async (t) => {
  const fromWindow = validateRecord(cf({ severity: undefined, decisionDate: '2026-04-15', disclosureEnd: '2029-04-15' }));
  t.ok(fromWindow.ok);
  if (fromWindow.ok) {
    t.equal(fromWindow.record.fields.severity, 'serious');
    t.equal(fromWindow.record.severityDerived, 'disclosureEnd');
  }
  const fromDefault = validateRecord(cf({ severity: undefined }), { severityDefaults: { CF: 'ordinary' } });
  t.ok(fromDefault.ok);
  if (fromDefault.ok) t.same([fromDefault.record.fields.severity, fromDefault.record.severityDerived], ['ordinary', 'default']);
  const given = validateRecord(cf({}));
  t.ok(given.ok && given.record.severityDerived === undefined, 'a given severity is not marked');
  const none = validateRecord(cf({ severity: undefined }));
  t.match(none, { ok: false, errors: [{ field: 'severity', code: 'ERR_FIELD_REQUIRED' }] });
  const outside = validateRecord(cf({ severity: undefined, disclosureEnd: '2030-01-01' }));
  t.match(outside, { ok: false, errors: [{ field: 'disclosureEnd', code: 'ERR_DISCLOSURE_PERIOD' }] });
});
