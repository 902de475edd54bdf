/**
 * Property-based fuzzing of the plain JSON routes (fast-check): real request bodies mutated —
 * a value replaced by a hostile one, a field deleted, added, swapped, a character flipped — and
 * random JSON, sent to every POST route of the node (records, objections, resolve, withdraw) and
 * to the hub's enrol and renew. The answer is a success for a body that is still valid, else a 4xx
 * with a documented code at its documented status; never a 500, and the server answers after.
 * `npm test`: 200 cases per server; CREDIT_FAULTS=long: 3000.
 */
import t from 'tap';
import fc from 'fast-check';
import { createNodeKeys } from '../../certs/node-keys.js';
import { HUB_HTTP_STATUS } from '../../hub/http-errors.js';
import { HTTP_STATUS } from '../../node/http-errors.js';
import { hubFixture } from '../hub/fixture.js';
import { nodeFixture, record } from '../node/app-fixture.js';
import { mutate, mutation, report, tally } from './hostile-fuzz.js';
import { DOCUMENTED_CODES, runs } from './hostile-support.js';

const documented = (status: number, code: string | undefined, table: Readonly<Record<string, number>>) =>
  status >= 400 && status < 500 && code !== undefined && DOCUMENTED_CODES.has(code) && table[code] === status;

t.test('node: mutated and random bodies on every POST route', async (t) => {
  const f = await nodeFixture(t);
  const h = await f.auth('officer', 'internal');
  const created = await f.app.inject({ method: 'POST', url: '/v1/records', headers: h, payload: record('CF') });
  const id = created.json().records[0].id as string;
  const objection = await f.app.inject({ method: 'POST', url: `/v1/records/${id}/objections`, headers: h, payload: { grounds: '名称有误' } });
  const routes = [
    { url: '/v1/records', body: record('CF', { decisionNo: 'FUZZ' }) as unknown },
    { url: '/v1/records', body: [record('CF', { decisionNo: 'FUZZ-A' }), record('XK', { decisionNo: 'FUZZ-B' })] as unknown },
    { url: `/v1/records/${id}/objections`, body: { grounds: '名称有误' } },
    { url: `/v1/objections/${objection.json().id}/resolve`, body: { outcome: 'rejected', note: '核实无误' } },
    { url: `/v1/records/${id}/withdraw`, body: { reason: 'correction', note: '更正' } },
  ];
  const seen = tally();
  const body = fc.oneof(
    { weight: 4, arbitrary: fc.tuple(fc.nat({ max: routes.length - 1 }), mutation).map(([i, m]) => ({ url: routes[i]!.url, text: mutate(routes[i]!.body, m) })) },
    { weight: 1, arbitrary: fc.tuple(fc.nat({ max: routes.length - 1 }), fc.jsonValue()).map(([i, v]) => ({ url: routes[i]!.url, text: JSON.stringify(v) })) },
  );
  await fc.assert(
    fc.asyncProperty(body, async ({ url, text }) => {
      const res = await f.app.inject({ method: 'POST', url, headers: { ...h, 'content-type': 'application/json' }, payload: text });
      const code = res.statusCode >= 400 ? (res.json().code as string) : undefined;
      seen.add(res.statusCode, code);
      return report(t, res.statusCode === 200 || res.statusCode === 201 || documented(res.statusCode, code, HTTP_STATUS), { status: res.statusCode, json: res.json() });
    }),
    { numRuns: runs(200, 3000) },
  );
  t.pass(`node bodies: ${seen.text()}`);
  t.equal((await f.app.inject({ url: '/healthz' })).statusCode, 200, '/healthz answers afterwards');
});

t.test('hub: mutated and random bodies on enrol and renew', async (t) => {
  const f = await hubFixture(t);
  const cs = await f.enrol('430100', 2);
  const token = await f.token('430700', 1);
  const enrol = { token, csrPem: createNodeKeys('430700').csrPem };
  const renew = { csrPem: createNodeKeys('430100').csrPem };
  const seen = tally();
  const body = fc.oneof(
    { weight: 4, arbitrary: fc.tuple(fc.boolean(), mutation).map(([e, m]) => ({ e, text: mutate(e ? enrol : renew, m) })) },
    { weight: 1, arbitrary: fc.tuple(fc.boolean(), fc.jsonValue()).map(([e, v]) => ({ e, text: JSON.stringify(v) })) },
  );
  await fc.assert(
    fc.asyncProperty(body, async ({ e, text }) => {
      const r = await f.call(e ? f.anonymous : cs.agent, 'POST', e ? '/v1/enroll' : '/v1/renew', text, { 'content-type': 'application/json' });
      seen.add(r.status, r.json?.code);
      return report(t, r.status === 200 || documented(r.status, r.json?.code, HUB_HTTP_STATUS), r);
    }),
    { numRuns: runs(200, 3000) },
  );
  t.pass(`hub bodies: ${seen.text()}`);
  t.equal((await f.call(cs.agent, 'GET', '/v1/checkpoints/latest')).status, 200, 'an mTLS route answers afterwards');
});
