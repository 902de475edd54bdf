/**
 * Issue 13 item 12: refused requests go to the hub's audit log aggregated per source and minute
 * (audit/refusals.ts). 200 refused GETs without a client certificate: the first is written at once,
 * the other 199 as one 'request.refused.aggregate' entry when the minute has closed; what is still
 * counted at shutdown is written then.
 */
import t from 'tap';
import { hubFixture } from './fixture.js';

t.test('200 refused requests: a bounded number of audit entries whose counts add up to 200', async (t) => {
  const f = await hubFixture(t);
  const db = f.hub.app.hubCtx.db;
  const refused = () => db('audit_log').where('action', 'like', 'request.refused%').orderBy('seq').select('action', 'actor', 'object', 'reason');
  const send = async (n: number) => {
    const codes = new Set<string>();
    for (let i = 0; i < n; i++) codes.add((await f.hub.app.inject({ method: 'GET', url: '/v1/checkpoints/latest' })).json().code);
    t.same([...codes], ['ERR_CLIENT_CERT_REQUIRED'], `${n} refused`);
  };
  // start at the beginning of a minute (the hub's clock), so the 200 fall in one
  f.shiftClock(60_000 - (Date.now() % 60_000));
  await send(200);
  t.same(await refused(), [{ action: 'request.refused', actor: 'addr:127.0.0.1', object: 'GET /v1/checkpoints/latest', reason: 'ERR_CLIENT_CERT_REQUIRED' }], 'the first refusal is written at once, the rest counted');
  f.shiftClock(60_000 - (Date.now() % 60_000) + 60_000); // the next minute: its first refusal writes the count first
  await send(1);
  await send(9);
  await f.hub.close(); // shutdown writes what is still counted
  const rows = await refused();
  t.same(rows.map((r) => r.action), ['request.refused', 'request.refused.aggregate', 'request.refused', 'request.refused.aggregate']);
  t.match(rows[1]!.reason, /^ERR_CLIENT_CERT_REQUIRED count=199 first=\S+ last=\S+$/);
  t.match(rows[3]!.reason, /^ERR_CLIENT_CERT_REQUIRED count=9 /);
  const counts = rows.map((r) => (r.action.endsWith('.aggregate') ? Number(/count=(\d+)/.exec(r.reason)![1]) : 1));
  t.equal(counts.reduce((a, b) => a + b, 0), 210, 'the counts add up to every refusal');
});

t.test('a refusal whose audit entry cannot be written is not answered as a refusal: 503 ERR_NOT_READY, then logged once the log writes', async (t) => {
  const f = await hubFixture(t);
  const ctx = f.hub.app.hubCtx;
  const orig = ctx.audit.record;
  ctx.audit.record = async () => {
    throw new Error('audit store unavailable (test)');
  };
  const failed = await f.hub.app.inject({ method: 'GET', url: '/v1/checkpoints/latest', remoteAddress: '10.9.9.9' });
  t.equal(failed.statusCode, 503);
  t.equal(failed.json().code, 'ERR_NOT_READY');
  t.equal(failed.headers['retry-after'], '1');
  ctx.audit.record = orig;
  const again = await f.hub.app.inject({ method: 'GET', url: '/v1/checkpoints/latest', remoteAddress: '10.9.9.9' });
  t.equal(again.statusCode, 401, 'refused as before once the log writes');
  t.equal((await ctx.db('audit_log').where({ action: 'request.refused', actor: 'addr:10.9.9.9' })).length, 1, 'and that refusal is in the log');
});
