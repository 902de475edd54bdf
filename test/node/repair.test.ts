/** Objections (异议), withdrawals with each reason, repair timing and the disclosure job, on a moved clock. */
import t from 'tap';
import { nodeFixture, record } from './app-fixture.js';

t.test('objections and withdrawals', async (t) => {
  const f = await nodeFixture(t, { now: '2026-05-01T02:00:00.000Z' });
  const admin = await f.auth('officer', 'internal');
  const officer = await f.auth('officer', 'shared');
  // four-eyes (issue 15): the officer who files an objection may not decide it
  const second = { authorization: `Bearer ${await f.token('officer', 'shared', { user: 'officer-2' })}` };
  const create = async (fields: Record<string, unknown>, type = 'CF') => (await f.app.inject({ method: 'POST', url: '/v1/records', headers: admin, payload: record(type, fields) })).json().records[0].id as string;
  const withdraw = (id: string, reason: string, headers = officer) => f.app.inject({ method: 'POST', url: `/v1/records/${id}/withdraw`, headers, payload: { reason, note: 'case 7' } });
  const get = async (id: string) => (await f.app.inject({ method: 'GET', url: `/v1/records/${id}`, headers: admin })).json();

  await t.test('an objection flags the record disputed; upholding it withdraws the record', async (t) => {
    const id = await create({ decisionNo: 'O-1' });
    const res = await f.app.inject({ method: 'POST', url: `/v1/records/${id}/objections`, headers: officer, payload: { grounds: '当事人名称登记错误' } });
    t.equal(res.statusCode, 201);
    const objection = res.json();
    t.match(objection, { recordId: id, status: 'open', grounds: '当事人名称登记错误', filedBy: 'user:officer-shared', resolvedAt: null });
    t.equal((await get(id)).disputed, true);
    t.ok(f.events.some((e) => e.action === 'record.object' && e.object === id));
    const up = await f.app.inject({ method: 'POST', url: `/v1/objections/${objection.id}/resolve`, headers: second, payload: { outcome: 'upheld', note: 'verified' } });
    t.equal(up.statusCode, 200);
    t.match(up.json(), { status: 'upheld', resolvedBy: 'user:officer-2' });
    const after = await get(id);
    t.match(after, { status: 'withdrawn', withdrawnReason: 'objection-upheld', disputed: false });
    const again = await f.app.inject({ method: 'POST', url: `/v1/objections/${objection.id}/resolve`, headers: second, payload: { outcome: 'rejected' } });
    t.equal(again.statusCode, 409);
    t.equal(again.json().code, 'ERR_OBJECTION_CLOSED');
  });

  await t.test('a rejected objection clears the flag and keeps the record', async (t) => {
    const id = await create({ decisionNo: 'O-2' });
    const o = (await f.app.inject({ method: 'POST', url: `/v1/records/${id}/objections`, headers: officer, payload: { grounds: 'not me' } })).json();
    const res = await f.app.inject({ method: 'POST', url: `/v1/objections/${o.id}/resolve`, headers: second, payload: { outcome: 'rejected' } });
    t.equal(res.json().status, 'rejected');
    t.match(await get(id), { status: 'active', disputed: false });
    const missing = await f.app.inject({ method: 'POST', url: '/v1/objections/nope/resolve', headers: officer, payload: { outcome: 'rejected' } });
    t.equal(missing.statusCode, 404);
    t.equal(missing.json().code, 'ERR_OBJECTION_NOT_FOUND');
  });

  await t.test('objection-upheld needs an open objection', async (t) => {
    const id = await create({ decisionNo: 'O-3' });
    const res = await withdraw(id, 'objection-upheld');
    t.equal(res.statusCode, 409);
    t.equal(res.json().code, 'ERR_NO_OPEN_OBJECTION');
    await f.app.inject({ method: 'POST', url: `/v1/records/${id}/objections`, headers: officer, payload: { grounds: 'wrong amount' } });
    t.equal((await withdraw(id, 'objection-upheld')).statusCode, 200);
  });

  await t.test('correction withdraws at any time; the row stays, withdrawn, never deleted', async (t) => {
    const id = await create({ decisionNo: 'O-4' });
    const res = await withdraw(id, 'correction');
    t.equal(res.statusCode, 200);
    t.match(res.json(), { id, status: 'withdrawn', withdrawnReason: 'correction', withdrawnAt: '2026-05-01T02:00:00.000Z' });
    const row = await f.db('node_records').where({ id }).first();
    t.ok(row, 'row still there');
    t.equal(row.status, 'withdrawn');
    t.ok(f.events.some((e) => e.action === 'record.withdraw' && e.object === id && e.reason === 'correction'), 'audited with the reason');
    const twice = await withdraw(id, 'correction');
    t.equal(twice.statusCode, 409);
    t.equal(twice.json().code, 'ERR_RECORD_NOT_ACTIVE');
    const obj = await f.app.inject({ method: 'POST', url: `/v1/records/${id}/objections`, headers: officer, payload: { grounds: 'late' } });
    t.equal(obj.json().code, 'ERR_RECORD_NOT_ACTIVE');
    const asQuery = await f.app.inject({ method: 'GET', url: `/v1/records/${id}`, headers: await f.auth('query', 'internal') });
    t.equal(asQuery.statusCode, 404, 'a withdrawn record is no longer shown to query users');
    t.equal(asQuery.json().code, 'ERR_RECORD_NOT_FOUND');
    const uscc = record('CF').fields.uscc;
    const listed = (await f.app.inject({ method: 'GET', url: `/v1/subjects/${uscc}`, headers: officer })).json().records.map((r: { id: string }) => r.id);
    t.notOk(listed.includes(id), 'not listed by default');
    const all = (await f.app.inject({ method: 'GET', url: `/v1/subjects/${uscc}?includeWithdrawn=true`, headers: officer })).json().records.map((r: { id: string }) => r.id);
    t.ok(all.includes(id), 'listed for officers with includeWithdrawn');
  });

  await t.test('repair: refused before the minimum period, granted from repairFrom on', async (t) => {
    const id = await create({ decisionNo: 'O-5', severity: 'ordinary', decisionDate: '2026-04-15' });
    t.equal((await get(id)).repairFrom, '2026-07-15');
    f.setNow('2026-07-14T15:59:00.000Z'); // 2026-07-14 23:59 in China
    const early = await withdraw(id, 'repair');
    t.equal(early.statusCode, 409);
    t.equal(early.json().code, 'ERR_REPAIR_TOO_EARLY');
    t.same(early.json().details, { repairFrom: '2026-07-15', today: '2026-07-14' });
    f.setNow('2026-07-14T16:00:00.000Z'); // 2026-07-15 00:00 in China
    const ok = await withdraw(id, 'repair');
    t.equal(ok.statusCode, 200);
    t.equal(ok.json().withdrawnReason, 'repair');
    const positive = await create({ decisionNo: 'O-6' }, 'XK');
    const na = await withdraw(positive, 'repair');
    t.equal(na.statusCode, 409);
    t.equal(na.json().code, 'ERR_REPAIR_NOT_APPLICABLE');
    f.setNow('2026-05-01T02:00:00.000Z');
  });

  await t.test('expired by hand only after the window ended', async (t) => {
    // ordinary, not minor: a minor record is kept internal (Order No. 36, issue 15), above this officer's clearance
    const id = await create({ decisionNo: 'O-7', severity: 'ordinary', decisionDate: '2026-04-20' });
    const early = await withdraw(id, 'expired');
    t.equal(early.statusCode, 409);
    t.equal(early.json().code, 'ERR_DISCLOSURE_NOT_ENDED');
    const bad = await f.app.inject({ method: 'POST', url: `/v1/records/${id}/withdraw`, headers: officer, payload: { reason: 'deleted' } });
    t.equal(bad.statusCode, 400);
    t.equal(bad.json().code, 'ERR_REQUEST_INVALID');
    const other = await f.app.inject({ method: 'POST', url: '/v1/records/00000000-0000-7000-8000-000000000000/withdraw', headers: officer, payload: { reason: 'correction' } });
    t.equal(other.json().code, 'ERR_RECORD_NOT_FOUND');
  });

  await t.test('an officer cannot change a record above their clearance', async (t) => {
    const id = (await f.app.inject({ method: 'POST', url: '/v1/records', headers: admin, payload: record('CF', { decisionNo: 'O-8' }, 'restricted') })).json().records[0].id;
    const res = await withdraw(id, 'correction');
    t.equal(res.statusCode, 403);
    t.equal(res.json().code, 'ERR_CLASSIFICATION_DENIED');
  });
});

t.test('the disclosure job withdraws negative records whose window ended, as expired', async (t) => {
  const f = await nodeFixture(t, { now: '2026-05-01T02:00:00.000Z' });
  const admin = await f.auth('officer', 'internal');
  const ids = (await f.app.inject({
    method: 'POST', url: '/v1/records', headers: admin,
    payload: [
      record('CF', { decisionNo: 'E-1', severity: 'minor', decisionDate: '2026-04-20' }),
      record('CF', { decisionNo: 'E-2', severity: 'ordinary', decisionDate: '2026-04-20' }),
      record('XK', { decisionNo: 'E-3' }),
    ],
  })).json().records.map((r: { id: string }) => r.id) as string[];
  t.equal(await f.app.nodeCtx.job.runNow(), 0, 'nothing due yet');
  f.setNow('2026-07-20T04:00:00.000Z'); // the minor window's last day is 2026-07-20
  t.equal(await f.app.nodeCtx.job.runNow(), 0, 'still disclosed on its last day');
  f.setNow('2026-07-21T04:00:00.000Z');
  t.equal(await f.app.nodeCtx.job.runNow(), 1);
  const row = await f.db('node_records').where({ id: ids[0] }).first();
  t.match(row, { status: 'withdrawn', withdrawn_reason: 'expired' });
  t.ok(f.events.some((e) => e.action === 'record.withdraw' && e.object === ids[0] && e.reason === 'expired' && e.actor === 'system:disclosure-job'));
  t.equal((await f.db('node_records').where({ id: ids[1] }).first()).status, 'active');
  f.setNow('2030-01-01T04:00:00.000Z');
  t.equal(await f.app.nodeCtx.job.runNow(), 1, 'the ordinary one later; the permit never');
  t.equal((await f.db('node_records').where({ id: ids[2] }).first()).status, 'active');
  t.equal((await f.db('node_records')).length, 3, 'nothing deleted');
});
