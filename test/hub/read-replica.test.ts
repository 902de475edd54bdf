/**
 * The hub's read replica (config databaseReadUrl, issue 22 item 4): province queries look records up
 * on the replica, while what must be current — the client check (revocation), replay — stays on the
 * primary. The "replica" here is a snapshot of the hub's tables in a second PostgreSQL schema: a
 * standby that lags, which is exactly what shows where each read goes. The start refuses a replica
 * that is not a copy of the store (ERR_REPLICA_SCHEMA), one it cannot reach (ERR_DATABASE_UNREACHABLE),
 * and a replica without a PostgreSQL primary (ERR_CONFIG_INVALID).
 */
import t, { type Test as Tap } from 'tap';
import { chmodSync, copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import type { Knex } from 'knex';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { QueryAnswerPayload, ReceiptPayload } from '../../protocol/exchange.js';
import { connect } from '../../audit/knex-connect.js';
import { initCaDir } from '../../certs/ca-dir.js';
import { buildHubConfig } from '../../hub/config.js';
import { HUB_MIGRATIONS_TABLE } from '../../hub/migrations.js';
import { randomUscc, seededRng } from '../../protocol/identifiers.js';
import { revokeNode } from '../../hub/enrolment-service.js';
import { PG_URL, pgReady, type Engine } from '../helpers/db.js';
import { hubFixture, wire, type HubFixture, type TestNode } from './fixture.js';

if (await pgReady(t)) {
  const push = async (f: HubFixture, node: TestNode, records: unknown[]) => {
    const res = await f.call(node.agent, 'POST', '/v1/batches', await f.sealFrom(node, 'batch', { records, withdrawals: [] }));
    if (res.status !== 200) throw new Error(`batch refused: ${res.json.code}`);
    return (await f.openAs<ReceiptPayload>(node, res.json)).payload;
  };
  /** A query sealed and opened with `seed`'s keys (the shared CA and hub identity), sent to `to`. */
  const ask = async (seed: HubFixture, to: HubFixture, node: TestNode, subject: string, clearance = 'restricted', ts?: string) => {
    const res = await to.call(node.agent, 'POST', '/v1/queries', await seed.sealFrom(node, 'query', { subject, actor: 'user:alice', clearance, purpose: 'x' }, ts ? { ts } : {}));
    return { res, answer: res.status === 200 ? (await seed.openAs<QueryAnswerPayload>(node, res.json)).payload : undefined };
  };
  /** The replica's schema as of now: a copy of every hub table (a standby that stops replaying here). */
  const snapshot = async (from: string, to: string) => {
    const admin = await connect(PG_URL);
    try {
      await admin.raw('DROP SCHEMA IF EXISTS ?? CASCADE', [to]);
      await admin.raw('CREATE SCHEMA ??', [to]);
      const tables = (await admin('pg_tables').where({ schemaname: from }).select('tablename')) as Array<{ tablename: string }>;
      for (const { tablename } of tables) await admin.raw('CREATE TABLE ??.?? AS TABLE ??.??', [to, tablename, from, tablename]);
    } finally {
      await admin.destroy();
    }
  };

  /** One primary schema for several hubs (each closes only its own connections); dropped by the caller. */
  const onSchema = (schema: string): Engine => ({
    name: 'pg',
    async open() {
      const db = await connect(PG_URL, { schema, poolMax: 4 });
      return { db, target: PG_URL, schema, close: () => db.destroy() };
    },
  });
  const dropSchema = async (schema: string) => {
    const admin = await connect(PG_URL);
    await admin.raw('DROP SCHEMA IF EXISTS ?? CASCADE', [schema]).finally(() => admin.destroy());
  };

  /** A second hub process on the primary: the first one's CA directory and a copy of its data key, its own data directory. */
  const secondHub = (t: Tap, seed: HubFixture, schema: string, replicaDb: Knex, config: Record<string, unknown> = {}) =>
    hubFixture(t, {
      engine: onSchema(schema),
      replicaDb,
      config: { caDir: seed.caDir, ...config },
      prepare: (c) => {
        copyFileSync(join(seed.config.dataDir, 'data.key'), join(c.dataDir, 'data.key'));
        chmodSync(join(c.dataDir, 'data.key'), 0o600);
      },
    });

  t.test('queries read records on the replica; the client check stays on the primary', async (t) => {
    const primarySchema = `t_${process.pid}_${randomBytes(3).toString('hex')}`;
    const repSchema = `rep_${process.pid}_${randomBytes(3).toString('hex')}`;
    t.teardown(() => dropSchema(primarySchema));
    t.teardown(() => dropSchema(repSchema));
    await t.test('two hubs on one primary, the second with a replica', async (t) => {
      const seed = await hubFixture(t, { engine: onSchema(primarySchema) });
      const cs = await seed.enrol('430100', 3);
      const before = wire('XK');
      const subject = String(before.fields.uscc);
      const raised = wire('XK', { fields: { uscc: subject, decisionNo: '长市监许〔2026〕12号' } });
      const moved = wire('XK', { fields: { uscc: subject, decisionNo: '长市监许〔2026〕13号' } });
      const other = wire('XK', { fields: { uscc: randomUscc(seededRng(7)) } }); // about another company
      await push(seed, cs, [before, raised, moved, other]);
      await snapshot(primarySchema, repSchema); // the standby stops replaying here
      const replicaDb = await connect(PG_URL, { schema: repSchema });
      t.teardown(() => replicaDb.destroy());
      const f = await secondHub(t, seed, primarySchema, replicaDb, { databaseReadMaxLagMs: 600_000 });
      const fallbacks = async () => Object.fromEntries((await f.hub.app.hubCtx.metrics.replicaFallbacks.get()).values.map((v) => [String(v.labels.reason), v.value]));
      const node = await seed.enrol('430700', 3); // after the snapshot: the replica has never heard of it
      const after = wire('XK', { fields: { uscc: subject, decisionNo: '长市监许〔2026〕77号' } });
      await push(seed, node, [after]);

      const q = await ask(seed, f, node, subject);
      t.equal(q.res.status, 200, 'a node the replica has never heard of is served: its certificate was checked on the primary');
      t.same(q.answer!.records.map((r) => r.id).sort(), [before.id, raised.id, moved.id].sort(), 'the replica found the rows: the record stored after the snapshot is not there yet (replication lag)');
      const both = await ask(seed, seed, node, subject);
      t.same(both.answer!.records.map((r) => r.id).sort(), [before.id, raised.id, moved.id, after.id].sort(), 'the hub without a replica scans the primary: all four records');

      // content never comes from the replica: a correction that moved a record to another company, a row the replica made up
      await push(seed, cs, [{ ...moved, fields: { ...moved.fields, uscc: String(other.fields.uscc) }, updatedAt: new Date().toISOString() }]);
      const blind = (await replicaDb('hub_records').where({ id: before.id }).first('subject')) as { subject: string };
      await replicaDb('hub_records').where({ id: other.id }).update({ subject: blind.subject, fields: JSON.stringify({ decisionNo: 'FORGED' }) });
      const content = await ask(seed, f, node, subject);
      t.notOk(content.answer!.records.some((r) => r.id === moved.id), 'a record corrected to another company on the primary is not answered for the old one');
      t.notOk(content.answer!.records.some((r) => r.id === other.id), 'a row the replica claims is about this subject, but is not on the primary, is left out');
      t.notOk(JSON.stringify(content.answer).includes('FORGED'), 'nothing the replica holds reaches an answer');

      // what the standby has not replayed must not be answered as it was: a class raised after distribution, a withdrawal
      await push(seed, cs, [{ ...raised, classification: 'restricted', updatedAt: new Date().toISOString() }]);
      const low = await ask(seed, f, node, subject, 'public');
      t.equal(low.res.status, 200);
      t.notOk(low.answer!.records.some((r) => r.id === raised.id), 'the raised record is not released at its old class from the replica');
      t.same(low.answer!.withheld.map((w) => [w.classification, w.count]), [['restricted', 1]], 'it is held back at its class on the primary');
      await seed.call(cs.agent, 'POST', '/v1/batches', await seed.sealFrom(cs, 'batch', { records: [], withdrawals: [{ id: before.id, reason: 'repair', at: new Date().toISOString() }] }));
      const afterRepair = await ask(seed, f, node, subject);
      t.notOk(afterRepair.answer!.records.some((r) => r.id === before.id), 'a record withdrawn on the primary (信用修复) is not answered from the replica');
      t.same(await fallbacks(), {}, 'so far every scan was the replica\'s');

      // a failing replica: the query scans the primary
      await replicaDb.raw('ALTER TABLE hub_records RENAME TO hub_records_away');
      const failing = await ask(seed, f, node, subject);
      t.equal(failing.res.status, 200, 'a replica that fails does not fail the query');
      t.ok(failing.answer!.records.some((r) => r.id === after.id), 'the primary was scanned: the newest record is there');
      t.same(await fallbacks(), { error: 1 });
      await replicaDb.raw('ALTER TABLE hub_records_away RENAME TO hub_records');
      // a replica behind for longer than databaseReadMaxLagMs: the primary again
      f.shiftClock(700_000);
      const late = await ask(seed, f, node, subject, 'restricted', new Date(Date.now() + 700_000).toISOString());
      t.ok(late.answer!.records.some((r) => r.id === after.id), 'a replica that has not caught up in databaseReadMaxLagMs is not used');
      t.equal((await fallbacks()).lag, 1);
      f.shiftClock(0);

      await revokeNode(seed.hub.app.hubCtx.db, seed.hub.app.hubCtx.ca, { nodeId: '430700', reason: 'keyCompromise', audit: seed.hub.app.hubCtx.audit });
      const revoked = await f.call(node.agent, 'POST', '/v1/queries', await seed.sealFrom(node, 'query', { subject, actor: 'user:alice', clearance: 'public' }));
      t.equal(revoked.status, 403, 'a revocation on the primary takes effect at once on the hub with the replica');
      t.equal(revoked.json.code, 'ERR_CERT_REVOKED');
    });
  });

  t.test('a replica behind on the first query of a process (no earlier sample) is not used', async (t) => {
    const primarySchema = `t_${process.pid}_${randomBytes(3).toString('hex')}`;
    const repSchema = `rep_${process.pid}_${randomBytes(3).toString('hex')}`;
    t.teardown(() => dropSchema(primarySchema));
    t.teardown(() => dropSchema(repSchema));
    await t.test('hubs', async (t) => {
      const seed = await hubFixture(t, { engine: onSchema(primarySchema) });
      const cs = await seed.enrol('430100', 3);
      await snapshot(primarySchema, repSchema); // a standby that stopped replaying before any record
      const replicaDb = await connect(PG_URL, { schema: repSchema });
      t.teardown(() => replicaDb.destroy());
      const rec = wire('XK');
      await push(seed, cs, [rec]);
      const f = await secondHub(t, seed, primarySchema, replicaDb, { databaseReadMaxLagMs: 1000 });
      f.shiftClock(5000); // the hub's first query comes 5 s after the record the standby lacks
      const q = await ask(seed, f, cs, String(rec.fields.uscc), 'restricted', new Date(Date.now() + 5000).toISOString());
      t.equal(q.res.status, 200);
      t.same(q.answer!.records.map((r) => r.id), [rec.id], 'the primary was scanned: the standby\'s lag is measured on the primary\'s own times');
      const lag = (await f.hub.app.hubCtx.metrics.replicaFallbacks.get()).values.find((v) => v.labels.reason === 'lag');
      t.equal(lag?.value, 1);
    });
  });

  t.test('the start refuses a replica that is not a copy of the store, or cannot be reached', async (t) => {
    const primarySchema = `t_${process.pid}_${randomBytes(3).toString('hex')}`;
    t.teardown(() => dropSchema(primarySchema));
    await t.test('a hub makes the store', async (t) => {
      const seed = await hubFixture(t, { engine: onSchema(primarySchema) });
      const cases: Array<[string, (db: Knex) => Promise<void>]> = [
        ['a migration missing', async (db) => void (await db(HUB_MIGRATIONS_TABLE).where('id', (await db(HUB_MIGRATIONS_TABLE).max({ m: 'id' }).first())!.m).del())],
        ['the data key\'s check value differs', async (db) => void (await db('hub_at_rest_keys').update({ kcv: '0000000000000000' }))],
        ['another hub\'s subject HMAC key', async (db) => void (await db('hub_settings').where({ name: 'subject_hmac_key' }).update({ value: 'AAAA' }))],
        ['an empty database', async (db) => void (await db.raw('DROP TABLE ??', [HUB_MIGRATIONS_TABLE]))],
      ];
      for (const [what, spoil] of cases) {
        const repSchema = `rep_${process.pid}_${randomBytes(3).toString('hex')}`;
        await snapshot(primarySchema, repSchema);
        const replicaDb = await connect(PG_URL, { schema: repSchema });
        try {
          await spoil(replicaDb);
          await t.rejects(secondHub(t, seed, primarySchema, replicaDb), { code: 'ERR_REPLICA_SCHEMA' }, what);
        } finally {
          await replicaDb.raw('DROP SCHEMA IF EXISTS ?? CASCADE', [repSchema]);
          await replicaDb.destroy();
        }
      }
    });
  });

  t.test('config: a replica needs a PostgreSQL primary; an unreachable one stops the start', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'hub-replica-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    await initCaDir(join(dir, 'ca'), { cn: 'Test CA (replica)' });
    const base = { dataDir: join(dir, 'data'), caDir: join(dir, 'ca'), listen: { host: '127.0.0.1', port: 0 } };
    t.throws(() => buildHubConfig({ ...base, databaseReadUrl: PG_URL }, {}), { code: 'ERR_CONFIG_INVALID', details: { key: 'databaseReadUrl' } });
    t.throws(() => buildHubConfig({ ...base, databaseUrl: PG_URL, databaseReadUrl: 'mysql://x' }, {}), { code: 'ERR_CONFIG_INVALID' });
    t.equal(buildHubConfig({ ...base, databaseUrl: PG_URL }, { DATABASE_READ_URL: PG_URL }).databaseReadUrl, PG_URL, 'DATABASE_READ_URL sets it');
    const { buildHub } = await import('../../hub/app.js');
    const schema = `t_${process.pid}_${randomBytes(3).toString('hex')}`;
    const db = await connect(PG_URL, { schema });
    t.teardown(async () => {
      await db.raw('DROP SCHEMA IF EXISTS ?? CASCADE', [schema]);
      await db.destroy();
    });
    const config = buildHubConfig({ ...base, databaseUrl: PG_URL, databaseReadUrl: 'postgres://postgres@127.0.0.1:1/test', logLevel: 'silent' }, {});
    await t.rejects(buildHub({ config, db }), { code: 'ERR_DATABASE_UNREACHABLE' }, 'the replica is probed at start');
  });
}
