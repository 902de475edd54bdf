/**
 * audit/refusals.ts on a real audit log: refusals are written one per (source, action, object,
 * reason) and minute, the rest as one '.aggregate' entry with its count; the number of tracked
 * sources is capped, refusals of further sources are counted under one overflow key.
 */
import t from 'tap';
import { migrateAudit, openAuditLog } from '../../audit/index.js';
import { refusalAudit } from '../../audit/refusals.js';
import { sqliteEngine } from '../helpers/db.js';

const countOf = (r: { action: string; reason: string }) => (r.action.endsWith('.aggregate') ? Number(/count=(\d+)/.exec(r.reason)![1]) : 1);

t.test('a flood from many sources stays bounded; the counts add up', async (t) => {
  const s = await sqliteEngine.open();
  t.teardown(() => s.close());
  await migrateAudit(s.db);
  const log = await openAuditLog(s.db, {});
  let now = Date.parse('2026-11-28T09:00:00.000Z');
  const refusals = refusalAudit(log, { clock: () => new Date(now), maxKeys: 3, timer: false });
  // 10 sources × 20 refusals, interleaved, in one minute
  for (let i = 0; i < 20; i++) {
    for (let src = 0; src < 10; src++) {
      await refusals.refused(`addr:10.0.0.${src}`, { action: 'request.refused', actor: `addr:10.0.0.${src}`, object: 'GET /v1/x', outcome: 'failure', reason: 'ERR_CLIENT_CERT_REQUIRED' });
      now += 10;
    }
  }
  const during = await s.db('audit_log').orderBy('seq').select('action', 'actor', 'reason');
  t.same(during.map((r) => r.actor), ['addr:10.0.0.0', 'addr:10.0.0.1', 'addr:10.0.0.2'], 'within the minute: only the first refusal of each tracked source');
  await refusals.close();
  await log.close();
  const rows = await s.db('audit_log').orderBy('seq').select('action', 'actor', 'object', 'reason');
  t.equal(rows.length, 3 + 3 + 1, '3 first refusals, 3 aggregates, 1 overflow aggregate');
  const over = rows.find((r) => r.actor === '*')!;
  t.match(over, { action: 'request.refused.aggregate', object: 'more than 3 sources' });
  t.match(over.reason, /^ERR_CLIENT_CERT_REQUIRED count=140 first=2026-11-28T09:00:00\.030Z last=/);
  t.equal(rows.reduce((n, r) => n + countOf(r), 0), 200, 'the counts add up to 200');
});

t.test('a single refusal is written at once, and again in the next minute', async (t) => {
  const s = await sqliteEngine.open();
  t.teardown(() => s.close());
  await migrateAudit(s.db);
  const log = await openAuditLog(s.db, {});
  t.teardown(() => log.close());
  let now = Date.parse('2026-11-28T09:00:59.000Z');
  const refusals = refusalAudit(log, { clock: () => new Date(now), timer: false });
  const ev = { action: 'access.denied', actor: 'anonymous', object: 'GET /v1/records/:id', outcome: 'failure', reason: 'ERR_AUTH_MISSING' } as const;
  await refusals.refused('addr:127.0.0.1', ev);
  t.equal(await s.db('audit_log').count({ n: '*' }).first().then((r) => Number(r!.n)), 1);
  now += 2000;
  await refusals.refused('addr:127.0.0.1', ev);
  await refusals.flush();
  t.same((await s.db('audit_log').select('action')).map((r) => r.action), ['access.denied', 'access.denied'], 'no aggregate when nothing was held back');
});

t.test('no refusal is dropped when the log fails: retried, else refused() rejects; failed aggregates are kept and written later', async (t) => {
  const stored: Array<{ action: string; reason: string }> = [];
  let failNext = 0;
  const sink = {
    async record(e: { action: string; reason?: string | null }) {
      if (failNext > 0) {
        failNext--;
        throw new Error('audit store unavailable (test)');
      }
      stored.push({ action: e.action, reason: e.reason ?? '' });
      return stored.length;
    },
  };
  let now = Date.parse('2026-11-28T09:00:00.000Z');
  const refusals = refusalAudit(sink, { clock: () => new Date(now), timer: false, attempts: 3 });
  const ev = { action: 'request.refused', actor: 'addr:10.0.0.9', object: 'GET /v1/x', outcome: 'failure' as const, reason: 'ERR_CLIENT_CERT_REQUIRED' };
  failNext = 2;
  await refusals.refused('addr:10.0.0.9', ev);
  t.equal(stored.length, 1, 'written on the third try');
  await refusals.refused('addr:10.0.0.9', ev); // counted
  await refusals.refused('addr:10.0.0.9', ev); // counted
  failNext = 3;
  await t.rejects(refusals.refused('addr:10.0.0.8', { ...ev, actor: 'addr:10.0.0.8' }), /unavailable/, 'still failing after every try: the caller is told');
  await refusals.refused('addr:10.0.0.8', { ...ev, actor: 'addr:10.0.0.8' });
  t.equal(stored.length, 2, 'the next refusal of that source is written one by one (none of the two is lost: the first failed its request)');
  // the minute closes; the aggregate write fails every try: the tally is kept
  now += 61_000;
  failNext = 3;
  await t.rejects(refusals.flush(), /unavailable/);
  t.equal(stored.filter((r) => r.action.endsWith('.aggregate')).length, 0);
  await refusals.close();
  const agg = stored.filter((r) => r.action.endsWith('.aggregate'));
  t.equal(agg.length, 1, 'the kept aggregate is written by close()');
  t.match(agg[0]!.reason, /count=2 /);
});
