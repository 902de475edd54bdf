import t from 'tap';
import { makeResidentId } from '../../protocol/identifiers.js';
import { nodeFixture, record } from './app-fixture.js';

const PERSON_ID = makeResidentId({ division: '430102', birth: '1985-06-01', seq: 123 });
const person = (decisionNo: string) => record('CF', { decisionNo, subjectCategory: '自然人', subjectName: '张三丰', uscc: undefined, legalRep: undefined, idType: '身份证', idNumber: PERSON_ID });

t.test('POST /v1/records', async (t) => {
  const f = await nodeFixture(t);
  const submitter = await f.auth('submitter', 'shared');

  await t.test('one record: 201 with its id, audited', async (t) => {
    const res = await f.app.inject({ method: 'POST', url: '/v1/records', headers: submitter, payload: record('CF', { decisionNo: 'R-1' }) });
    t.equal(res.statusCode, 201);
    const body = res.json();
    t.equal(body.accepted, 1);
    t.equal(body.duplicates, 0);
    t.match(body.records[0], { index: 0, duplicate: false, id: /^[0-9a-f-]{36}$/ });
    t.ok(f.events.some((e) => e.action === 'record.create' && e.object === body.records[0].id && e.actor === 'user:submitter-shared'), 'audited');
  });

  await t.test('idempotent on the natural key: the same content again is a duplicate with the stored id; other content is a new version (issue 15)', async (t) => {
    const first = await f.app.inject({ method: 'POST', url: '/v1/records', headers: submitter, payload: record('CF', { decisionNo: 'R-2' }) });
    const id = first.json().records[0].id;
    const same = await f.app.inject({ method: 'POST', url: '/v1/records', headers: submitter, payload: record('CF', { decisionNo: 'R-2' }) });
    t.equal(same.statusCode, 200, 'nothing created → 200');
    t.same(same.json(), { accepted: 0, duplicates: 1, versions: 0, records: [{ index: 0, id, duplicate: true, outcome: 'duplicate', version: 1, status: 'active' }] });
    const changed = await f.app.inject({ method: 'POST', url: '/v1/records', headers: submitter, payload: record('CF', { decisionNo: 'R-2', content: 'changed text' }) });
    t.equal(changed.statusCode, 200);
    t.same(changed.json(), { accepted: 0, duplicates: 0, versions: 1, records: [{ index: 0, id, duplicate: false, outcome: 'version', version: 2, status: 'active' }] }, 'a correction: same id, version 2');
    const n = await f.db('node_records').where('natural_key', 'like', '%R-2%').count({ n: '*' });
    t.equal(Number(n[0]!.n), 1, 'one row');
  });

  await t.test('an array: all stored, mixed with duplicates', async (t) => {
    const res = await f.app.inject({ method: 'POST', url: '/v1/records', headers: submitter, payload: [record('CF', { decisionNo: 'R-3' }), record('XK', { decisionNo: 'R-4' }), record('CF', { decisionNo: 'R-2', content: 'changed text' })] });
    t.equal(res.statusCode, 201);
    t.match(res.json(), { accepted: 2, duplicates: 1, records: [{ index: 0, duplicate: false }, { index: 1, duplicate: false }, { index: 2, duplicate: true }] });
  });

  await t.test('422 lists every bad field by index, and stores nothing', async (t) => {
    const res = await f.app.inject({
      method: 'POST', url: '/v1/records', headers: submitter,
      payload: [record('CF', { decisionNo: 'R-5' }), record('CF', { decisionNo: 'R-6', uscc: '91430102MA4L0000X0', decisionDate: '2026-02-30' }), { type: 'ZZ', fields: {} }, record('CF', { decisionNo: '' })],
    });
    t.equal(res.statusCode, 422);
    const body = res.json();
    t.equal(body.code, 'ERR_RECORD_INVALID');
    const details = body.details as { index: number; field: string; code: string }[];
    t.ok(details.some((d) => d.index === 1 && d.field === 'uscc' && d.code === 'ERR_INVALID_USCC'));
    t.ok(details.some((d) => d.index === 1 && d.field === 'decisionDate' && d.code === 'ERR_INVALID_DATE'));
    t.ok(details.some((d) => d.index === 2 && d.field === 'type' && d.code === 'ERR_UNKNOWN_RECORD_TYPE'));
    t.ok(details.some((d) => d.index === 3 && d.field === 'decisionNo' && d.code === 'ERR_FIELD_REQUIRED'));
    t.notOk(details.some((d) => d.index === 0), 'the good one has no error');
    t.equal((await f.db('node_records').where('natural_key', 'like', '%R-5%')).length, 0, 'all or none');
  });

  await t.test('a class may be raised, never lowered; writing above one\'s clearance is denied', async (t) => {
    const low = await f.app.inject({ method: 'POST', url: '/v1/records', headers: submitter, payload: record('SXBZX', { decisionNo: 'R-7' }, 'public') });
    t.equal(low.statusCode, 422);
    t.equal(low.json().details[0].code, 'ERR_CLASSIFICATION_LOWERED');
    const high = await f.app.inject({ method: 'POST', url: '/v1/records', headers: submitter, payload: record('CF', { decisionNo: 'R-8' }, 'restricted') });
    t.equal(high.statusCode, 403);
    t.equal(high.json().code, 'ERR_CLASSIFICATION_DENIED');
    t.ok(f.events.some((e) => e.action === 'access.denied' && e.reason === 'ERR_CLASSIFICATION_DENIED' && e.actor === 'user:submitter-shared'), 'denial audited');
  });

  await t.test('bad requests are 4xx JSON errors, never 500', async (t) => {
    const notJson = await f.app.inject({ method: 'POST', url: '/v1/records', headers: { ...submitter, 'content-type': 'application/json' }, payload: '{"type":' });
    t.equal(notJson.statusCode, 400);
    t.equal(notJson.json().code, 'ERR_REQUEST_INVALID');
    const wrongShape = await f.app.inject({ method: 'POST', url: '/v1/records', headers: submitter, payload: [] });
    t.equal(wrongShape.statusCode, 400);
    t.equal(wrongShape.json().code, 'ERR_REQUEST_INVALID');
    t.ok(Array.isArray(wrongShape.json().details));
    const csv = await f.app.inject({ method: 'POST', url: '/v1/records', headers: { ...submitter, 'content-type': 'application/xml' }, payload: '<x/>' });
    t.equal(csv.statusCode, 415);
    t.equal(csv.json().code, 'ERR_UNSUPPORTED_MEDIA_TYPE');
    const big = await f.app.inject({ method: 'POST', url: '/v1/records', headers: submitter, payload: record('CF', { content: 'x'.repeat(1_100_000) }) });
    t.equal(big.statusCode, 413);
    t.equal(big.json().code, 'ERR_BODY_TOO_LARGE');
    const nowhere = await f.app.inject({ method: 'GET', url: '/v1/nowhere', headers: submitter });
    t.equal(nowhere.statusCode, 404);
    t.equal(nowhere.json().code, 'ERR_ROUTE_NOT_FOUND');
  });
});

t.test('GET /v1/records/:id and /v1/subjects/:code', async (t) => {
  const f = await nodeFixture(t);
  const admin = await f.auth('officer', 'internal');
  const created = await f.app.inject({ method: 'POST', url: '/v1/records', headers: admin, payload: [record('CF', { decisionNo: 'G-1' }), person('G-2'), record('SXBZX', { decisionNo: 'G-3' })] });
  const [company, personal, shared] = created.json().records.map((r: { id: string }) => r.id) as [string, string, string];

  await t.test('a record in full for a cleared caller, with its window', async (t) => {
    const res = await f.app.inject({ method: 'GET', url: `/v1/records/${company}`, headers: await f.auth('query', 'shared') });
    t.equal(res.statusCode, 200);
    t.match(res.json(), { id: company, type: 'CF', classification: 'public', status: 'active', disputed: false, masked: false, sourceNode: '430100', decisionDate: '2026-04-15', repairFrom: '2026-07-15', disclosureEnd: '2027-04-15', fields: { decisionNo: 'G-1' } });
  });

  await t.test("a natural person's ID and name are masked below shared clearance", async (t) => {
    const pub = (await f.app.inject({ method: 'GET', url: `/v1/records/${personal}`, headers: await f.auth('query', 'public') })).json();
    t.equal(pub.masked, true);
    t.equal(pub.fields.idNumber, `${PERSON_ID.slice(0, 4)}**********${PERSON_ID.slice(14)}`);
    t.equal(pub.subject, pub.fields.idNumber, 'the subject column is masked too');
    t.equal(pub.fields.subjectName, '张**');
    t.notMatch(JSON.stringify(pub), PERSON_ID, 'the full ID appears nowhere');
    const full = (await f.app.inject({ method: 'GET', url: `/v1/records/${personal}`, headers: await f.auth('query', 'shared') })).json();
    t.equal(full.masked, false);
    t.equal(full.fields.idNumber, PERSON_ID);
    t.equal(full.subject, PERSON_ID);
  });

  await t.test('a masked view shows no name, phone number or ID inside content and remarks (issue 13 item 9)', async (t) => {
    const fw = (x: string) => x.replace(/[0-9]/g, (d) => String.fromCharCode(0xff10 + Number(d)));
    const free = record('CF', {
      decisionNo: 'G-9', subjectCategory: '自然人', subjectName: '张三丰', uscc: undefined, legalRep: undefined, idType: '身份证', idNumber: PERSON_ID,
      content: `张三丰（身份证 ${PERSON_ID.slice(0, 6)} ${PERSON_ID.slice(6, 14)}-${PERSON_ID.slice(14)}，手机 138 0013 8000）销售过期食品，罚款5000元`,
      remarks: `联系人张 三 丰，座机（0731）8456-7890，旧证 430102850601123，${fw(PERSON_ID)}`,
    });
    const id = (await f.app.inject({ method: 'POST', url: '/v1/records', headers: admin, payload: free })).json().records[0].id as string;
    const pub = (await f.app.inject({ method: 'GET', url: `/v1/records/${id}`, headers: await f.auth('query', 'public') })).json();
    t.equal(pub.masked, true);
    const text = JSON.stringify(pub).replace(/[０-９]/g, (d) => String(d.charCodeAt(0) - 0xff10));
    const squeezed = text.replace(/[\s\-（）()\u3000]/g, '');
    for (const secret of ['张三丰', '13800138000', '84567890', '430102850601123', PERSON_ID.slice(4, 14)]) t.notOk(squeezed.includes(secret), `${secret} is not in the masked view`);
    t.match(pub.fields.content, /罚款5000元/, 'the rest of the text is kept');
    const full = (await f.app.inject({ method: 'GET', url: `/v1/records/${id}`, headers: await f.auth('query', 'shared') })).json();
    t.equal(full.fields.content, free.fields.content, 'in full for a cleared caller');
  });

  await t.test('unknown id → 404 ERR_RECORD_NOT_FOUND', async (t) => {
    const res = await f.app.inject({ method: 'GET', url: '/v1/records/00000000-0000-7000-8000-000000000000', headers: admin });
    t.equal(res.statusCode, 404);
    t.equal(res.json().code, 'ERR_RECORD_NOT_FOUND');
  });

  await t.test("a subject's records: all the caller may see", async (t) => {
    const uscc = record('CF').fields.uscc as string;
    const res = await f.app.inject({ method: 'GET', url: `/v1/subjects/${uscc}`, headers: await f.auth('query', 'shared') });
    t.equal(res.statusCode, 200);
    const body = res.json();
    t.equal(body.subject, uscc);
    t.same(body.records.map((r: { id: string }) => r.id).sort(), [company, shared].sort());
    t.same(body.withheld, []);
    const lower = await f.app.inject({ method: 'GET', url: `/v1/subjects/${uscc.toLowerCase()}`, headers: await f.auth('query', 'shared') });
    t.equal(lower.json().records.length, 2, 'codes are normalised (trim, upper case)');
    const byPerson = await f.app.inject({ method: 'GET', url: `/v1/subjects/${PERSON_ID}`, headers: await f.auth('query', 'public') });
    t.equal(byPerson.json().records[0].id, personal);
    t.equal(byPerson.json().records[0].masked, true);
  });

  await t.test('a bad subject code is 422 with the identifier code', async (t) => {
    for (const [code, expected] of [['91430102MA4L0000X0', 'ERR_INVALID_USCC'], ['12345', 'ERR_UNKNOWN_IDENTIFIER'], [PERSON_ID.slice(0, 17) + (PERSON_ID[17] === '0' ? '1' : '0'), 'ERR_INVALID_RESIDENT_ID']] as const) {
      const res = await f.app.inject({ method: 'GET', url: `/v1/subjects/${code}`, headers: admin });
      t.equal(res.statusCode, 422, code);
      t.equal(res.json().code, expected);
    }
  });

  await t.test('unknown query parameters are refused', async (t) => {
    const res = await f.app.inject({ method: 'GET', url: `/v1/records/${company}?colour=red`, headers: admin });
    t.equal(res.statusCode, 400);
    t.equal(res.json().code, 'ERR_REQUEST_INVALID');
  });
});
