/** The node's write paths end to end (create, import, duplicate, withdraw, expiry) on SQLite and PostgreSQL. */
import t from 'tap';
import { engines } from '../helpers/db.js';
import { nodeFixture, record } from './app-fixture.js';

for (const engine of await engines()) {
  t.test(`city node on ${engine.name}`, async (t) => {
    const f = await nodeFixture(t, { engine, now: '2026-05-01T02:00:00.000Z' });
    const admin = await f.auth('officer', 'internal');
    const created = await f.app.inject({ method: 'POST', url: '/v1/records', headers: admin, payload: [record('CF', { decisionNo: 'P-1', severity: 'minor', decisionDate: '2026-04-20' }), record('XK', { decisionNo: 'P-2' })] });
    t.equal(created.statusCode, 201);
    const [cf] = created.json().records.map((r: { id: string }) => r.id) as [string];
    const nd = [record('CF', { decisionNo: 'P-1', severity: 'minor', decisionDate: '2026-04-20' }), record('CF', { decisionNo: 'P-3' }), { type: 'CF', fields: {} }].map((r) => JSON.stringify(r)).join('\n');
    const imported = await f.app.inject({ method: 'POST', url: '/v1/records/import', headers: { ...admin, 'content-type': 'application/x-ndjson' }, payload: nd });
    t.match(imported.json(), { lines: 3, accepted: 1, duplicates: 1, rejected: 1 });
    const o = await f.app.inject({ method: 'POST', url: `/v1/records/${cf}/objections`, headers: admin, payload: { grounds: '核实中' } });
    t.equal(o.statusCode, 201);
    t.equal((await f.app.inject({ url: `/v1/records/${cf}`, headers: admin })).json().disputed, true);
    f.setNow('2026-08-01T02:00:00.000Z');
    t.equal(await f.app.nodeCtx.job.runNow(), 1, 'the minor record expired');
    const after = (await f.app.inject({ url: `/v1/records/${cf}`, headers: admin })).json();
    t.match(after, { status: 'withdrawn', withdrawnReason: 'expired', disputed: false });
    t.equal((await f.db('node_objections').where({ record_id: cf }).first()).status, 'closed', 'its objection closed with the withdrawal');
    t.equal((await f.db('node_records')).length, 3, 'nothing deleted');
  });
}
