/**
 * Issue 14 item 1 at the node's API: new records are stamped 2027.1; during the migration a client
 * may still submit a 2026.1 record by saying so; an unknown version is refused (ERR_CATALOG_VERSION).
 */
import t from 'tap';
import { nodeFixture, record } from './app-fixture.js';

t.test('POST /v1/records with catalog versions', async (t) => {
  const f = await nodeFixture(t);
  const h = await f.auth('submitter', 'shared');
  const reader = await f.auth('officer', 'internal');
  const post = (payload: unknown) => f.app.inject({ method: 'POST', url: '/v1/records', headers: h, payload: payload as object });
  const get = async (id: string) => (await f.app.inject({ url: `/v1/records/${id}`, headers: reader })).json();

  const current = await post(record('CF', { decisionNo: 'V-1' }));
  t.equal(current.statusCode, 201);
  t.equal((await get(current.json().records[0].id)).catalogVersion, '2027.1', 'unstamped input is new: 2027.1');

  const oldFields: Record<string, unknown> = { ...record('CF', { decisionNo: 'V-2', category: '罚款' }).fields };
  for (const k of ['violationType', 'violationFacts', 'basis', 'penaltyValidTo']) delete oldFields[k];
  const old = await post({ type: 'CF', catalogVersion: '2026.1', fields: oldFields });
  t.equal(old.statusCode, 201, 'a 2026.1 record is accepted when stamped');
  const view = await get(old.json().records[0].id);
  t.equal(view.catalogVersion, '2026.1');
  t.equal(view.fields.category, '罚款', '2026.1 keeps its free-text 处罚类别');
  t.equal((await f.db('node_records').where({ id: view.id }).first()).catalog_version, '2026.1', 'stored with its stamp');

  const unknown = await post({ ...record('CF', { decisionNo: 'V-3' }), catalogVersion: '2099.1' });
  t.equal(unknown.statusCode, 422);
  t.match(unknown.json(), { code: 'ERR_RECORD_INVALID', details: [{ field: 'catalogVersion', code: 'ERR_CATALOG_VERSION' }] });

  const unstampedOld = await post({ type: 'CF', fields: { ...oldFields, decisionNo: 'V-4' } });
  t.equal(unstampedOld.statusCode, 422, 'an unstamped 2026.1 shape is checked as 2027.1');
  t.match(unstampedOld.json().details.map((d: { field: string }) => d.field).sort(), ['basis', 'penaltyValidTo', 'violationFacts', 'violationType']);
});
