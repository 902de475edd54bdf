/**
 * Issue 15 at one node, on both engines: corrections are versions (API, import, withdraw +
 * re-submit), decision dates in the future are refused, records already past their window are
 * stored expired, Order No. 36 classes for minor records and minors' records.
 */
import t from 'tap';
import { makeResidentId } from '../../protocol/identifiers.js';
import { policyFloor, wasMinorOn } from '../../protocol/publication-policy.js';
import { engines } from '../helpers/db.js';
import { nodeFixture, record } from './app-fixture.js';

t.test('publication policy: minors by birth date on the decision date', async (t) => {
  const id = makeResidentId({ division: '430102', birth: '2008-06-01', seq: 3 });
  t.equal(wasMinorOn(id, '2026-05-31'), true, 'one day before the 18th birthday');
  t.equal(wasMinorOn(id, '2026-06-01'), false, 'on the 18th birthday');
  t.same(policyFloor({ ...record('CF', { severity: 'minor' }), classification: 'public' }), { classification: 'internal', reason: 'minor-severity' });
  t.equal(policyFloor({ ...record('CF'), classification: 'public' }), null);
});

for (const engine of await engines()) {
  t.test(`${engine.name}: versions, not duplicates`, async (t) => {
    const f = await nodeFixture(t, { engine, now: '2026-11-28T08:00:00.000Z' });
    const submitter = await f.auth('submitter', 'internal');
    const officer = await f.auth('officer', 'internal');

    const first = await f.app.inject({ method: 'POST', url: '/v1/records', headers: submitter, payload: record('CF', { decisionNo: 'V-1' }) });
    const id = first.json().records[0].id;

    await t.test('withdraw for correction, re-submit: the same record, version 2, active', async (t) => {
      const w = await f.app.inject({ method: 'POST', url: `/v1/records/${id}/withdraw`, headers: officer, payload: { reason: 'correction' } });
      t.equal(w.statusCode, 200);
      const again = await f.app.inject({ method: 'POST', url: '/v1/records', headers: submitter, payload: record('CF', { decisionNo: 'V-1', fineAmount: 0.2 }) });
      t.match(again.json(), { accepted: 0, duplicates: 0, versions: 1, records: [{ id, outcome: 'version', version: 2, status: 'active' }] });
      const got = await f.app.inject({ method: 'GET', url: `/v1/records/${id}`, headers: await f.auth('query', 'shared') });
      t.match(got.json(), { status: 'active', version: 2, fields: { fineAmount: 0.2 } }, 'the current version is served');
      t.ok(f.events.some((e) => e.action === 'record.version' && e.object === id && e.reason === 'correction v2 reinstated'), 'the version is audited');
    });

    await t.test('an import line with a known key and other content is a version; the same content a duplicate', async (t) => {
      const lines = [record('CF', { decisionNo: 'V-1', fineAmount: 0.25 }), record('CF', { decisionNo: 'V-1', fineAmount: 0.25 })].map((r) => JSON.stringify(r));
      const res = await f.app.inject({ method: 'POST', url: '/v1/records/import?type=CF', headers: { ...submitter, 'content-type': 'application/x-ndjson' }, payload: lines.join('\n') });
      t.equal(res.statusCode, 200, res.body);
      t.match(res.json(), { accepted: 0, versions: 1, duplicates: 1, rejected: 0 });
      const v = await f.app.inject({ method: 'GET', url: `/v1/records/${id}/versions`, headers: officer });
      t.match(v.json(), { current: 3, versions: [{ version: 1, reason: 'created' }, { version: 2 }, { version: 3, reason: 'correction', changedBy: 'user:submitter-internal' }] });
    });

    await t.test('a decision date in the future is refused (ERR_DECISION_DATE_FUTURE)', async (t) => {
      const res = await f.app.inject({ method: 'POST', url: '/v1/records', headers: submitter, payload: record('CF', { decisionNo: 'V-2', decisionDate: '2026-11-29' }) });
      t.equal(res.statusCode, 422);
      t.match(res.json(), { code: 'ERR_RECORD_INVALID', details: [{ index: 0, field: 'decisionDate', code: 'ERR_DECISION_DATE_FUTURE' }] });
    });

    await t.test('a record whose window already ended is stored expired and never shown active', async (t) => {
      const res = await f.app.inject({ method: 'POST', url: '/v1/records', headers: submitter, payload: record('CF', { decisionNo: 'V-3', severity: 'ordinary', decisionDate: '2025-10-01', disclosureEnd: '2026-01-01' }) });
      t.equal(res.statusCode, 201);
      t.match(res.json().records[0], { outcome: 'created', status: 'withdrawn' });
      const got = await f.app.inject({ method: 'GET', url: `/v1/records/${res.json().records[0].id}`, headers: officer });
      t.match(got.json(), { status: 'withdrawn', withdrawnReason: 'expired' });
    });

    await t.test('correction by id keeps the natural key', async (t) => {
      const res = await f.app.inject({ method: 'POST', url: `/v1/records/${id}/corrections`, headers: submitter, payload: { fields: { ...record('CF').fields, decisionNo: 'V-other' } } });
      t.equal(res.statusCode, 422);
      t.equal(res.json().code, 'ERR_RECORD_INVALID');
    });
  });
}
