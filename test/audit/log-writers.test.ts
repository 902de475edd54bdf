/**
 * Several writers of one audit log (issue 22): two logs opened on one PostgreSQL schema over two
 * connection pools, as two hub processes open it, append at once through record() and through
 * recordIn() inside transactions. Every append succeeds (before the store's audit lock, the second
 * writer's cached head made inserts fail with a duplicate audit_log_pkey), and the store holds one
 * chain with consecutive seqs, valid links and checkpoints whose roots cover the entries.
 */
import t from 'tap';
import { connect } from '../../audit/knex-connect.js';
import { migrateAudit, openAuditLog, GENESIS_HASH, type AuditEvent } from '../../audit/index.js';
import { hashEntry, fromRow, type EntryRow } from '../../audit/entry.js';
import { merkleRoot } from '../../audit/merkle.js';
import { engines } from '../helpers/db.js';
import { issue, makeCa } from '../helpers/pki.js';

const ca = makeCa();
const hub = issue(ca, '430000');
const signer = { nodeId: '430000', keyPem: hub.keyPem, certPem: hub.certPem };
const ev = (w: string, i: number): AuditEvent => ({ actor: `svc:${w}`, actorNode: '430000', action: 'test.append', object: `${w}-${i}`, outcome: 'success' });

for (const engine of (await engines()).filter((e) => e.name === 'pg')) {
  t.test('two writers on one PostgreSQL store append one chain', async (t) => {
    const { db, target, schema, close } = await engine.open();
    t.teardown(close);
    await migrateAudit(db);
    const other = await connect(target, { schema: schema!, poolMax: 4 });
    t.teardown(() => other.destroy());
    const a = await openAuditLog(db, { signer, checkpointEvery: 25, checkpointIntervalMs: 0 });
    const b = await openAuditLog(other, { signer, checkpointEvery: 25, checkpointIntervalMs: 0 });

    const N = 60;
    const queued = (log: typeof a, w: string) => Promise.all(Array.from({ length: N }, (_, i) => log.record(ev(`${w}q`, i))));
    // recordIn inside a transaction with another statement first, as the hub's services do
    const inTrx = async (log: typeof a, knex: typeof db, w: string) => {
      for (let i = 0; i < N; i++) await knex.transaction(async (trx) => {
        await trx.raw('select 1');
        await log.recordIn(trx, ev(`${w}t`, i));
      });
    };
    const results = await Promise.allSettled([queued(a, 'a'), queued(b, 'b'), inTrx(a, db, 'a'), inTrx(b, other, 'b')]);
    t.same(results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason)), [], 'no append failed');
    await a.close();
    await b.close();

    const rows = ((await db('audit_log').orderBy('seq')) as EntryRow[]).map(fromRow);
    t.equal(rows.length, 4 * N, 'every entry stored once');
    let prev = GENESIS_HASH;
    let broken = 0;
    rows.forEach((e, i) => {
      const { leafHash, ...fields } = e;
      if (e.seq !== i + 1 || e.prevHash !== prev || hashEntry(fields) !== leafHash) broken++;
      prev = leafHash;
    });
    t.equal(broken, 0, 'consecutive seqs, each linked to the one before');
    const leaves = rows.map((e) => Buffer.from(e.leafHash, 'hex'));
    const cps = (await db('audit_checkpoints').orderBy('tree_size')) as Array<{ tree_size: number | string; root_hash: string }>;
    t.ok(cps.length >= (4 * N) / 25, `checkpoints signed (${cps.length})`);
    t.same(cps.filter((c) => merkleRoot(leaves.slice(0, Number(c.tree_size))).toString('hex') !== c.root_hash).map((c) => c.tree_size), [], 'every checkpoint root covers the entries before it');

    // a third writer opened afterwards continues the same chain
    const c = await openAuditLog(other, { checkpointIntervalMs: 0 });
    t.equal(await c.record(ev('c', 0)), 4 * N + 1, 'a log opened later appends after the others');
    await c.close();
  });
}
