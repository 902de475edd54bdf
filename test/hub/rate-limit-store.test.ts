/**
 * The PostgreSQL rate-limit store (issue 22): two hub processes (here two connection pools on one
 * schema) count one budget per client, and the hub on PostgreSQL answers 429 ERR_RATE_LIMITED once
 * the budget counted in the database is spent.
 */
import t from 'tap';
import { connect } from '../../audit/knex-connect.js';
import { migrateHub } from '../../hub/migrations.js';
import { pgRateLimitStore } from '../../hub/rate-limit-store.js';
import { engines } from '../helpers/db.js';
import { hubFixture } from './fixture.js';

for (const engine of (await engines()).filter((e) => e.name === 'pg')) {
  t.test('two processes count one budget per client', async (t) => {
    const { db, target, schema, close } = await engine.open();
    t.teardown(close);
    await migrateHub(db);
    const other = await connect(target, { schema: schema!, poolMax: 2 });
    t.teardown(() => other.destroy());
    const Store = pgRateLimitStore(db);
    const Other = pgRateLimitStore(other);
    const a = new Store({ timeWindow: 60_000 } as never);
    const b = new Other({ timeWindow: 60_000 } as never).child({} as never);
    const incr = (s: typeof a, key: string) => new Promise<{ current: number; ttl: number }>((resolve, reject) => s.incr(key, (e, r) => (e ? reject(e) : resolve(r!))));
    const counts = [];
    for (let i = 0; i < 4; i++) counts.push((await incr(i % 2 ? b : a, 'node:430100')).current);
    t.same(counts, [1, 2, 3, 4], 'each process sees the other\'s requests');
    const r = await incr(a, 'addr:10.0.0.1');
    t.equal(r.current, 1, 'another client has its own budget');
    t.ok(r.ttl > 0 && r.ttl <= 60_000, 'ttl within the window');
  });

  t.test('the hub on PostgreSQL limits through the database: 429 ERR_RATE_LIMITED', async (t) => {
    const f = await hubFixture(t, { engine, config: { rateLimit: { enabled: true, max: 2, timeWindowMs: 60_000 } } });
    const codes = [];
    for (let i = 0; i < 3; i++) codes.push((await f.call(f.anonymous, 'GET', '/v1/crl')).status);
    t.same(codes, [200, 200, 429]);
    const row = await f.hub.app.hubCtx.db('hub_rate_limits').first();
    t.equal(Number(row.count), 3, 'counted in hub_rate_limits');
  });
}
