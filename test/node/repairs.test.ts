/**
 * Credit repair (issue 15 item 6) at one node, on both engines: deadlines in working days and the
 * overdue list (the clock moved past the due date, 调休 counted), refusal with a reason, repair too
 * early, decisions taken upstream imported onto the owner's record (by id or by type + natural
 * key), a bad upstream line reported in Chinese with its code while the rest apply; and objections
 * past their deadline listed as overdue.
 */
import t from 'tap';
import { engines } from '../helpers/db.js';
import { nodeFixture, record } from './app-fixture.js';

for (const engine of await engines()) {
  t.test(`repair applications, decisions and upstream imports (${engine.name})`, async (t) => {
    // Wednesday 2026-09-30 (China): the 10th working day after it is 2026-10-20 (国庆 1–7 off, Saturday 10-10 worked)
    const f = await nodeFixture(t, { engine, now: '2026-09-30T02:00:00.000Z' });
    const admin = await f.auth('officer', 'internal');
    const officer = await f.auth('officer', 'shared');
    const call = async (method: 'GET' | 'POST', url: string, payload?: unknown, headers = officer) => {
      const r = await f.app.inject({ method, url, headers, ...(payload === undefined ? {} : { payload: payload as object }) });
      return { status: r.statusCode, body: r.json() };
    };
    const create = async (fields: Record<string, unknown>) => (await call('POST', '/v1/records', record('CF', fields), admin)).body.records[0].id as string;
    const recent = await create({ decisionNo: 'R-1', decisionDate: '2026-09-01' });
    const old = await create({ decisionNo: 'R-2', decisionDate: '2026-04-15' });
    const viaKey = await create({ decisionNo: 'R-3', decisionDate: '2026-04-15' });
    const permit = (await call('POST', '/v1/records', record('XK', { decisionNo: 'R-4' }), admin)).body.records[0].id as string;

    const commitment = { evidence: ['整改报告 2026-09'], commitment: '本单位承诺依法经营。' };
    t.equal((await call('POST', `/v1/records/${permit}/repairs`, commitment)).body.code, 'ERR_REPAIR_NOT_APPLICABLE');
    const early = await call('POST', `/v1/records/${recent}/repairs`, commitment);
    t.equal(early.status, 201);
    t.equal(early.body.dueDate, '2026-10-20');
    t.equal((await call('POST', `/v1/repairs/${early.body.id}/decision`, { outcome: 'accepted' })).body.code, 'ERR_REPAIR_TOO_EARLY');
    const refused = await call('POST', `/v1/repairs/${early.body.id}/decision`, { outcome: 'refused', reason: '最短公示期未满' });
    t.match(refused.body, { status: 'refused', reason: '最短公示期未满', decidedBy: 'user:officer-shared' });

    const pending = await call('POST', `/v1/records/${old}/repairs`, commitment);
    const objection = await call('POST', `/v1/records/${old}/objections`, { grounds: '金额有误' });
    t.same((await call('GET', '/v1/repairs?overdue=true')).body, []);
    f.setNow('2026-10-22T02:00:00.000Z');
    t.same((await call('GET', '/v1/repairs?overdue=true')).body.map((r: { id: string }) => r.id), [pending.body.id], 'pending past its due date');
    t.same((await call('GET', '/v1/objections?overdue=true')).body.map((o: { id: string }) => o.id), [objection.body.id], 'open objection past its due date');
    t.same((await call('GET', '/v1/repairs?status=refused')).body.map((r: { id: string }) => r.id), [early.body.id]);
    t.equal((await call('GET', `/v1/records/${old}/repairs`)).body.length, 1);

    const report = await call('POST', '/v1/repairs/import', [
      { recordId: old, outcome: 'accepted', decidedBy: '信用中国', reference: 'XYZG-2026-0001', decidedAt: '2026-10-20T08:00:00.000Z' },
      { type: 'CF', key: { decisionNo: 'R-3', sourceUscc: record('CF').fields.sourceUscc as string }, outcome: 'accepted', decidedBy: '长沙市市场监督管理局', reference: '长市监修复〔2026〕3号', decidedAt: '2026-10-21T08:00:00.000Z' },
      { type: 'CF', key: { decisionNo: 'NOPE', sourceUscc: 'x' }, outcome: 'accepted', decidedBy: '信用中国', reference: 'XYZG-2026-0002', decidedAt: '2026-10-21T08:00:00.000Z' },
    ], admin);
    t.equal(report.status, 200);
    t.match(report.body, { lines: 3, applied: 2 });
    t.match(report.body.rejected, [{ line: 3, code: 'ERR_RECORD_NOT_FOUND', message: /第 3 行.*\[ERR_RECORD_NOT_FOUND\]/ }]);
    for (const id of [old, viaKey]) t.match((await call('GET', `/v1/records/${id}`, undefined, admin)).body, { status: 'withdrawn', withdrawnReason: 'repair' });
    const kept = (await call('GET', `/v1/records/${old}/repairs`, undefined, admin)).body as { origin: string; status: string; upstream: string }[];
    t.same(kept.map((r) => [r.origin, r.status]).sort(), [['application', 'refused'], ['upstream', 'accepted']], 'the upstream decision is kept; the pending application is closed');
    t.match(kept.find((r) => r.origin === 'upstream'), { upstream: '信用中国 XYZG-2026-0001' });
    t.same((await call('GET', '/v1/objections?overdue=true')).body, [], 'the objection was closed by the withdrawal');

    // a record withdrawn for another reason ends its pending applications, with that reason
    const other = await create({ decisionNo: 'R-5', decisionDate: '2026-04-15' });
    const ended = await call('POST', `/v1/records/${other}/repairs`, commitment);
    t.equal((await call('POST', `/v1/records/${other}/withdraw`, { reason: 'correction' })).status, 200);
    t.match((await call('GET', `/v1/records/${other}/repairs`)).body, [{ id: ended.body.id, status: 'refused', decidedBy: 'system:withdrawal', reason: /correction/ }]);
  });
}
