/**
 * Issue 13 item 13: a caller learns nothing about a record above their clearance — not its id,
 * not its status, not its class. Clearance is checked first, on every path that names a stored
 * record (duplicate POST, import duplicate, GET by id, objection, withdraw, repair, resolve); the
 * answer is always the same bare denial: 403 ERR_CLASSIFICATION_DENIED whose details carry only
 * the caller's own clearance. The denial is audited with the record's id and class.
 */
import t from 'tap';
import { nodeFixture, record } from './app-fixture.js';

const SECRET = record('CF', { decisionNo: '湘内〔2026〕1号' }, 'internal');
const DENIAL = (clearance: string) => ({ code: 'ERR_CLASSIFICATION_DENIED', message: `clearance ${clearance} does not cover this record`, details: { clearance } });

t.test('nothing about an internal record reaches a shared-clearance caller', async (t) => {
  const f = await nodeFixture(t);
  const admin = await f.auth('officer', 'internal');
  const created = await f.app.inject({ method: 'POST', url: '/v1/records', headers: admin, payload: SECRET });
  const id = created.json().records[0].id as string;
  const objection = (await f.app.inject({ method: 'POST', url: `/v1/records/${id}/objections`, headers: admin, payload: { grounds: '异议' } })).json().id as string;
  const reveals = (body: string) => body.includes(id) || body.includes('internal') || body.includes('withdrawn') || body.includes('correction');

  // Same record, submitted again at a lower class by a submitter cleared for shared.
  const submitter = await f.auth('submitter', 'shared');
  const lower = { ...SECRET, classification: undefined };
  const dup = await f.app.inject({ method: 'POST', url: '/v1/records', headers: submitter, payload: lower });
  t.equal(dup.statusCode, 403, 'a duplicate of a record above clearance is a denial');
  t.same(dup.json(), DENIAL('shared'));
  t.notOk(reveals(dup.body), 'no id, no class');
  t.equal((await f.db('node_records')).length, 1, 'nothing stored');
  t.ok(f.events.some((e) => e.action === 'access.denied' && e.object === id && e.class === 'internal' && e.reason === 'ERR_CLASSIFICATION_DENIED'), 'audited with the id and class');

  // The same through an import: the line is refused like any line above clearance, not counted a duplicate.
  const imp = await f.app.inject({ method: 'POST', url: '/v1/records/import?type=CF', headers: { ...submitter, 'content-type': 'application/x-ndjson' }, payload: JSON.stringify(lower) + '\n' + JSON.stringify(record('CF', { decisionNo: '湘〔2026〕2号' })) + '\n' });
  t.equal(imp.statusCode, 200);
  t.match(imp.json(), { lines: 2, accepted: 1, duplicates: 0, rejected: 1, rejectedLines: [{ line: 1, errors: [{ field: 'classification', code: 'ERR_CLASSIFICATION_DENIED' }] }] });
  t.notOk(reveals(imp.body), 'the report names nothing of the stored record');

  // Reads and changes, while active and after withdrawal: the same answer both times.
  const officer = await f.auth('officer', 'shared');
  const calls = {
    get: () => f.app.inject({ method: 'GET', url: `/v1/records/${id}`, headers: officer }),
    getAsQuery: async () => f.app.inject({ method: 'GET', url: `/v1/records/${id}`, headers: await f.auth('query', 'shared') }),
    object: () => f.app.inject({ method: 'POST', url: `/v1/records/${id}/objections`, headers: officer, payload: { grounds: '异议' } }),
    withdraw: () => f.app.inject({ method: 'POST', url: `/v1/records/${id}/withdraw`, headers: officer, payload: { reason: 'correction' } }),
    repair: () => f.app.inject({ method: 'POST', url: `/v1/records/${id}/withdraw`, headers: officer, payload: { reason: 'repair' } }),
    resolve: () => f.app.inject({ method: 'POST', url: `/v1/objections/${objection}/resolve`, headers: officer, payload: { outcome: 'rejected' } }),
  };
  const answers = async () => {
    const out: Record<string, unknown> = {};
    for (const [name, call] of Object.entries(calls)) {
      const res = await call();
      out[name] = [res.statusCode, res.json()];
      t.notOk(reveals(res.body), `${name}: reveals nothing`);
    }
    return out;
  };
  const active = await answers();
  for (const [name, answer] of Object.entries(active)) t.same(answer, [403, DENIAL('shared')], `${name} on the active record`);
  t.equal((await f.app.inject({ method: 'POST', url: `/v1/records/${id}/withdraw`, headers: admin, payload: { reason: 'correction' } })).statusCode, 200);
  t.same(await answers(), active, 'withdrawn: exactly the same answers (the status does not show)');
});
