import t, { type Test } from 'tap';
import type { Knex } from 'knex';
import { engines } from '../helpers/db.js';
import { issue, makeCa } from '../helpers/pki.js';
import { migrateAudit, openAuditLog, rollbackAudit, GENESIS_HASH, type AuditEvent } from '../../audit/index.js';
import { hashEntry, checkpointText, fromRow, type EntryRow } from '../../audit/entry.js';
import { merkleRoot } from '../../audit/merkle.js';
import { verifyText } from '../../audit/crypto.js';

const ca = makeCa();
const node = issue(ca, '430100');
const signer = { nodeId: '430100', keyPem: node.keyPem, certPem: node.certPem };
const ev = (i: number): AuditEvent => ({ actor: `user:u${i % 7}`, actorNode: '430100', action: 'record.read', object: `rec-${i}`, class: 'shared', outcome: i % 5 ? 'success' : 'failure', reason: i % 5 ? 'purpose' : 'ERR_ROLE_DENIED' });

/** Reads the whole table and checks every hash, link and checkpoint; returns the entry count. */
async function assertIntact(t: Test, db: Knex): Promise<number> {
  const rows = ((await db('audit_log').orderBy('seq')) as EntryRow[]).map(fromRow);
  let prev = GENESIS_HASH;
  rows.forEach((e, i) => {
    if (e.seq !== i + 1) t.fail(`seq ${e.seq} at position ${i + 1}`);
    const { leafHash, ...fields } = e;
    if (hashEntry(fields) !== leafHash) t.fail(`leaf hash of ${e.seq}`);
    if (e.prevHash !== prev) t.fail(`prev hash of ${e.seq}`);
    prev = leafHash;
  });
  const leaves = rows.map((e) => Buffer.from(e.leafHash, 'hex'));
  const cps = (await db('audit_checkpoints').orderBy('tree_size')) as Array<{ tree_size: number; root_hash: string; time: string; node_id: string; signature: string; cert_pem: string }>;
  for (const c of cps) {
    const n = Number(c.tree_size);
    if (merkleRoot(leaves.slice(0, n)).toString('hex') !== c.root_hash) t.fail(`root of checkpoint ${n}`);
    if (!verifyText(c.cert_pem, checkpointText({ treeSize: n, rootHash: c.root_hash, time: c.time, nodeId: c.node_id }), c.signature)) t.fail(`signature of checkpoint ${n}`);
  }
  t.pass(`chain of ${rows.length} entries and ${cps.length} checkpoints intact`);
  return rows.length;
}

for (const engine of await engines()) {
  t.test(engine.name, async (t) => {
    const { db, close } = await engine.open();
    t.teardown(close);
    await migrateAudit(db);
    await migrateAudit(db); // idempotent

    t.test('raw UPDATE, DELETE (and TRUNCATE on PostgreSQL) on the audit tables are refused by the database', async (t) => {
      const log = await openAuditLog(db, { signer, checkpointIntervalMs: 0 });
      await log.record(ev(0));
      await log.checkpoint();
      await t.rejects(db.raw("UPDATE audit_log SET actor = 'user:mallory' WHERE seq = 1"), /append-only/);
      await t.rejects(db('audit_log').where('seq', 1).update({ outcome: 'failure' }), /append-only/);
      await t.rejects(db.raw('DELETE FROM audit_log WHERE seq = 1'), /append-only/);
      await t.rejects(db('audit_log').del(), /append-only/);
      await t.rejects(db.raw("UPDATE audit_checkpoints SET root_hash = 'x'"), /append-only/);
      await t.rejects(db.raw('DELETE FROM audit_checkpoints'), /append-only/);
      if (engine.name === 'pg') await t.rejects(db.raw('TRUNCATE audit_log'), /append-only/);
      t.equal(((await db('audit_log').where('seq', 1).first()) as EntryRow).actor, 'user:u0', 'row unchanged');
      await log.close();
    });

    t.test('sequential awaited record() calls each complete (no event is left in the queue)', async (t) => {
      const log = await openAuditLog(db, { checkpointIntervalMs: 0 });
      const seqs: number[] = [];
      for (let i = 0; i < 30; i++) seqs.push(await log.record(ev(i)));
      t.same(seqs, Array.from({ length: 30 }, (_, i) => seqs[0]! + i));
      await log.close();
    });

    t.test('500 concurrent record() calls: distinct seqs, valid chain, checkpoints every 100 at exact sizes', async (t) => {
      const log = await openAuditLog(db, { signer, checkpointEvery: 100, checkpointIntervalMs: 0 });
      const before = Number(((await db('audit_log').max({ m: 'seq' }).first()) as { m: number }).m);
      const seqs = await Promise.all(Array.from({ length: 500 }, (_, i) => log.record(ev(i))));
      t.same([...seqs].sort((a, b) => a - b), Array.from({ length: 500 }, (_, i) => before + i + 1), 'seqs are consecutive and distinct');
      const sizes = ((await db('audit_checkpoints').select('tree_size').orderBy('tree_size')) as Array<{ tree_size: number }>).map((r) => Number(r.tree_size));
      t.ok([100, 200, 300, 400, 500].every((n) => sizes.includes(n)), `checkpoints at multiples of 100 (${sizes.join(',')})`);
      await log.close();
      await assertIntact(t, db);
    });

    t.test('recordIn: committed entries advance the chain, rolled-back ones leave no trace (also nested)', async (t) => {
      const log = await openAuditLog(db, { signer, checkpointIntervalMs: 0 });
      const n0 = await assertIntact(t, db);
      const s1 = await db.transaction(async (trx) => {
        const a = await log.recordIn(trx, ev(1));
        const b = await log.recordIn(trx, ev(2));
        t.equal(b, a + 1, 'two entries in one trx');
        return b;
      });
      t.equal(s1, n0 + 2);
      await t.rejects(
        db.transaction(async (trx) => {
          await log.recordIn(trx, ev(3));
          throw new Error('business rule failed');
        }),
        /business rule failed/,
      );
      // concurrent record() while a trx that will roll back holds the chain
      const [, after] = await Promise.all([
        db.transaction(async (trx) => {
          await log.recordIn(trx, ev(4));
          throw new Error('rolled back');
        }).catch(() => 'rb'),
        log.record(ev(5)),
      ]);
      t.equal(after, n0 + 3, 'next seq follows the last committed entry');
      await db.transaction(async (trx) => {
        await log.recordIn(trx, ev(6));
        await trx.transaction(async (inner) => {
          await log.recordIn(inner, ev(7));
          throw new Error('inner fails');
        }).catch(() => undefined);
      });
      t.equal(await log.record(ev(8)), n0 + 5, 'after a rolled-back savepoint the head is re-read');
      await log.close();
      t.equal(await assertIntact(t, db), n0 + 5);
    });

    t.test('a reopened log continues the chain; close() signs a final checkpoint; the timer signs too', async (t) => {
      const log = await openAuditLog(db, { signer, checkpointIntervalMs: 20 });
      const seq = await log.record(ev(9));
      // waits for the timer's checkpoint (up to a minute: a loaded machine delays timers, it does not lose them)
      for (const end = Date.now() + 60_000; (await log.latestCheckpoint())?.treeSize !== seq && Date.now() < end; ) await new Promise((r) => setTimeout(r, 20));
      t.equal((await log.latestCheckpoint())?.treeSize, seq, 'the interval timer signed a checkpoint');
      const seq2 = await log.record(ev(10));
      await log.close();
      const cp = await log.latestCheckpoint();
      t.equal(cp?.treeSize, seq2, 'close() checkpoints the last entry');
      t.equal(cp?.nodeId, '430100');
      await t.rejects(log.record(ev(11)), { code: 'ERR_AUDIT_CLOSED' });
      const again = await openAuditLog(db, {});
      t.equal(await again.record(ev(12)), seq2 + 1);
      t.equal(await again.checkpoint(), null, 'no signer, no checkpoint');
      await again.close();
      await assertIntact(t, db);
    });

    t.test('bad events and a key that is not the certificate’s are refused with codes', async (t) => {
      const log = await openAuditLog(db, { checkpointIntervalMs: 0 });
      await t.rejects(log.record({ actor: '', action: 'x', outcome: 'success' }), { code: 'ERR_AUDIT_EVENT_INVALID' });
      await t.rejects(log.record({ actor: 'a', action: 'x', outcome: 'maybe' as 'success' }), { code: 'ERR_AUDIT_EVENT_INVALID', details: { fields: ['outcome'] } });
      await t.rejects(log.record({ actor: 'a', action: 'x', outcome: 'success', class: 'secret' as 'public' }), { code: 'ERR_AUDIT_EVENT_INVALID' });
      await t.rejects(db.transaction((trx) => log.recordIn(trx, { actor: 'a', action: '', outcome: 'success' })), { code: 'ERR_AUDIT_EVENT_INVALID' });
      await log.close();
      const other = issue(ca, '430200');
      await t.rejects(openAuditLog(db, { signer: { ...signer, keyPem: other.keyPem } }), { code: 'ERR_AUDIT_SIGNER_INVALID' });
      await assertIntact(t, db);
    });

    t.test('rollbackAudit drops the tables (down migration)', async (t) => {
      t.ok(await db.schema.hasTable('audit_cosignatures'), 'migration 002 ran');
      await rollbackAudit(db);
      t.notOk(await db.schema.hasTable('audit_log'));
      t.notOk(await db.schema.hasTable('audit_cosignatures'), 'both migrations rolled back');
      await migrateAudit(db);
      t.ok(await db.schema.hasTable('audit_log'));
      t.ok(await db.schema.hasTable('audit_cosignatures'));
      const log = await openAuditLog(db, { checkpointIntervalMs: 0 });
      t.equal(await log.record(ev(1)), 1, 'a fresh log starts at seq 1');
      await log.close();
      await t.rejects(db.raw('DELETE FROM audit_log'), /append-only/, 'triggers are back after migrating up again');
    });
  });
}
