/**
 * PostgreSQL: a witness reset and an ordinary cosign of the same node (hub/witness-service.ts) both
 * take the node's row lock (hub_nodes FOR UPDATE) before reading the node's heads, so one runs after
 * the other: the cosign after a reset sees the restored head, and a reset after a cosign sees (and
 * abandons) the head that cosign added. The moves are exact: abandon() refuses a list that is not
 * what hub_witness holds (ERR_AUDIT_INCONSISTENT). Based on the review's repro (zz-race).
 */
import t from 'tap';
import type { Knex } from 'knex';
import { pgEngine, pgReady } from '../helpers/db.js';
import { migrateHub } from '../../hub/migrations.js';
import { nodesStore } from '../../hub/nodes-store.js';
import { witnessStore } from '../../hub/witness-store.js';
import { witnessResetStore } from '../../hub/witness-reset-store.js';

const row = (n: number, at: string) => ({ nodeId: '430100', treeSize: n, rootHash: String(n).padStart(64, 'a'), checkpoint: '{}', cosignature: '{}', cosignedAt: at });

/** Resolves once some other session of this database waits on a lock (an event, not a sleep). */
async function someoneWaits(db: Knex): Promise<void> {
  for (;;) {
    const r = (await db.raw("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'")) as { rows: { n: number }[] };
    if (r.rows[0]!.n > 0) return;
    await new Promise((res) => setImmediate(res));
  }
}

if (await pgReady(t)) {
  t.test('pg: a reset and a concurrent ordinary cosign of one node run one after the other', async (t) => {
    const e = await pgEngine.open();
    t.teardown(() => e.close());
    const db = e.db;
    await migrateHub(db);
    await nodesStore.announce(db, { nodeId: '430100', name: null, grade: 3, now: '2026-01-01T00:00:00.000Z' });
    await witnessStore.insert(db, row(5, '2026-01-01T00:00:00.000Z'));
    await witnessStore.insert(db, row(10, '2026-01-02T00:00:00.000Z'));
    await witnessStore.insert(db, row(13, '2026-01-03T00:00:00.000Z'));

    // A: the reset first; the cosign waits on the node lock and then reads the restored head
    const resetTrx = await db.transaction();
    await witnessResetStore.lockNode(resetTrx, '430100');
    const heads = await witnessResetStore.heads(resetTrx, '430100', true);
    const cosignTrx = await db.transaction();
    const seen = (async () => {
      await witnessResetStore.lockNode(cosignTrx, '430100');
      return witnessStore.latest(cosignTrx, '430100', true);
    })();
    await someoneWaits(db);
    t.equal(await witnessResetStore.abandon(resetTrx, '430100', 1, heads.filter((h) => h.treeSize > 5)), 2, 'exactly the listed heads moved');
    await witnessStore.insert(resetTrx, row(7, '2026-01-04T00:00:00.000Z'));
    await resetTrx.commit();
    t.equal((await seen)?.treeSize, 7, 'the cosign after the reset starts from the restored head');
    await cosignTrx.rollback();
    t.same((await witnessResetStore.archived(db, '430100')).map((a) => a.epoch), [1, 1], 'the abandoned rows are archived, not deleted');

    // B: an ordinary cosign first (adds 9); the reset waits and then sees 9 among the heads
    const c2 = await db.transaction();
    await witnessResetStore.lockNode(c2, '430100');
    const r2 = await db.transaction();
    const h2 = (async () => {
      await witnessResetStore.lockNode(r2, '430100');
      return witnessResetStore.heads(r2, '430100', true);
    })();
    await someoneWaits(db);
    await witnessStore.insert(c2, row(9, '2026-01-05T00:00:00.000Z'));
    await c2.commit();
    t.same((await h2).map((h) => h.treeSize), [5, 7, 9], 'the reset reads the heads after the lock: it sees the cosign');
    await t.rejects(witnessResetStore.abandon(r2, '430100', 2, [{ treeSize: 7, rootHash: row(7, '').rootHash }, { treeSize: 11, rootHash: row(11, '').rootHash }]), { code: 'ERR_AUDIT_INCONSISTENT' }, 'a listed head that is not there');
    await r2.rollback();
    const r3 = await db.transaction();
    await t.rejects(witnessResetStore.abandon(r3, '430100', 2, [{ treeSize: 9, rootHash: 'b'.repeat(64) }]), { code: 'ERR_AUDIT_INCONSISTENT' }, 'another root at a listed size');
    await r3.rollback();
    t.same((await witnessResetStore.heads(db, '430100')).map((h) => h.treeSize), [5, 7, 9], 'nothing moved');
  });
}
