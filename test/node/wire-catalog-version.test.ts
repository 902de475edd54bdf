/**
 * Issue 14 item 1, the node's side of a catalog migration: a received record keeps the catalog
 * version it names (or, unstamped, the one it fits), and goes back on the wire with it.
 */
import t from 'tap';
import { exampleRecord } from '../../protocol/catalog.js';
import type { WireRecord } from '../../protocol/exchange.js';
import { fromWire, toWire } from '../../node/exchange/wire.js';

const TODAY = '2026-06-01';
const at = '2026-05-01T08:00:00.000Z';
const base = { id: '01900000-0000-7000-8000-000000000001', type: 'CF', classification: 'public' as const, createdAt: at, updatedAt: at };
const old: Record<string, unknown> = { ...exampleRecord('CF').fields, category: '罚款' };
for (const k of ['violationType', 'violationFacts', 'basis', 'penaltyValidTo']) delete old[k];

t.test('received records keep their catalog version', async (t) => {
  const cases: [string, WireRecord, string][] = [
    ['stamped 2026.1', { ...base, catalogVersion: '2026.1', fields: old }, '2026.1'],
    ['stamped 2027.1', { ...base, catalogVersion: '2027.1', fields: exampleRecord('CF').fields }, '2027.1'],
    ['unstamped, 2026.1 shape', { ...base, fields: old }, '2026.1'],
    ['unstamped, 2027.1 shape', { ...base, fields: exampleRecord('CF').fields }, '2027.1'],
  ];
  for (const [name, w, version] of cases) {
    const r = fromWire(w, '430700', TODAY);
    t.ok(r.ok, `${name}: stored`);
    if (r.ok) {
      t.equal(r.record.catalogVersion, version, `${name}: as ${version}`);
      t.equal(toWire(r.record).catalogVersion, version, `${name}: sent on as ${version}`);
    }
  }
  const wrong = fromWire({ ...base, catalogVersion: '2027.1', fields: old }, '430700', TODAY);
  t.match(wrong, { ok: false, code: 'ERR_FIELD_REQUIRED' }, 'a 2026.1 shape stamped 2027.1 is checked as 2027.1');
  t.match(fromWire({ ...base, catalogVersion: '2031.1', fields: old }, '430700', TODAY), { ok: false, code: 'ERR_CATALOG_VERSION' });
});
