/**
 * Persisted Merkle frontiers (issue 22 item 3: start-up independent of the log's length): the log
 * stores its compact range and head at a checkpoint every `frontierEvery` entries, opening reads
 * only the entries after the newest one, and a frontier that does not match the signed checkpoint
 * (edited in the database) is ignored — the log then reads everything, as before, and stays right.
 */
import t from 'tap';
import { engines, type Engine } from '../helpers/db.js';
import { issue, makeCa } from '../helpers/pki.js';
import { exportBundle, migrateAudit, openAuditLog, pruneAudit, toNdjson } from '../../audit/index.js';
import { verifyBundle } from '../../audit/verify-bundle.js';
import { leafHashes, loadHead as load } from '../../audit/store.js';
import { reportFrontierRejection } from '../../audit/log.js';
import { certFacts } from '../../audit/crypto.js';
import type { Knex } from 'knex';
import { merkleRoot } from '../../audit/merkle.js';
import { guardSql, unguardSql } from '../../audit/schema.js';

const ca = makeCa();
const node = issue(ca, '430100', { notBefore: new Date(Date.now() - 400 * 86400_000) });
const signer = { nodeId: '430100', keyPem: node.keyPem, certPem: node.certPem };
const DAY = 86400_000;
/** The log's own signer: a frontier is only used at a checkpoint its key verifies. */
const trust = { certPem: node.certPem, fingerprint: certFacts(node.certPem).fingerprint };
const loadHead = (db: Knex) => load(db, trust);
const ev = (i: number) => ({ actor: 'user:clerk', action: 'record.read', object: `r-${i}`, outcome: 'success' as const });

/** A store whose log holds 45 entries, a checkpoint every 10 and frontiers at 20 and 40. */
async function log45(t: { teardown(fn: () => unknown): void }, engine: Engine): Promise<Knex> {
  const { db, close } = await engine.open();
  t.teardown(close);
  await migrateAudit(db);
  const log = await openAuditLog(db, { signer, checkpointEvery: 10, frontierEvery: 20, checkpointIntervalMs: 0 });
  for (let i = 0; i < 45; i++) await log.record(ev(i));
  await log.close();
  return db;
}

for (const engine of await engines()) {
  t.test(`${engine.name}: frontiers bound the work of opening the log`, async (t) => {
    const { db, close } = await engine.open();
    t.teardown(close);
    await migrateAudit(db);
    const log = await openAuditLog(db, { signer, checkpointEvery: 10, frontierEvery: 50, checkpointIntervalMs: 0 });
    // in batches (one flush, several checkpoints) and one by one, and inside a caller's transaction
    await Promise.all(Array.from({ length: 120 }, (_, i) => log.record(ev(i))));
    for (let i = 120; i < 130; i++) await log.record(ev(i));
    await db.transaction(async (trx) => {
      for (let i = 130; i < 237; i++) await log.recordIn(trx, ev(i));
    });
    const sizes = ((await db('audit_frontiers').select('tree_size').orderBy('tree_size')) as Array<{ tree_size: number | string }>).map((r) => Number(r.tree_size));
    t.same(sizes, [50, 100, 150, 200], 'a frontier at the first checkpoint 50 entries after the last');

    const all = await leafHashes(db, 1, 10_000);
    const head = await loadHead(db);
    t.equal(head.leavesRead, 37, 'opening reads only the 37 entries after the frontier at 200');
    t.equal(head.range.size, 237);
    t.equal(head.range.root().toString('hex'), merkleRoot(all).toString('hex'), 'same root as over every leaf');
    t.equal(head.head, all.at(-1)!.toString('hex'), 'same chain head');
    t.equal((await load(db)).leavesRead, 237, 'without the signer to check the checkpoint with (an operator command), every entry is read');

    await log.close();
    const reopened = await openAuditLog(db, { signer, checkpointEvery: 10, frontierEvery: 50, checkpointIntervalMs: 0 });
    t.equal(await reopened.record(ev(237)), 238, 'the reopened log goes on at the next seq');
    await reopened.close();
    const report = await verifyBundle(toNdjson((await exportBundle(db, { signer })).lines), ca.certPem);
    t.ok(report.ok, report.reason ?? 'the bundle verifies: checkpoints signed after the reopen are over the true tree');

    await t.rejects(db.raw("UPDATE audit_frontiers SET head_hash = 'x'"), /append-only/, 'frontiers are append-only like the log');
    await t.rejects(db.raw('DELETE FROM audit_frontiers'), /append-only/);
  });

  t.test(`${engine.name}: a frontier edited in the database is not used`, async (t) => {
    const db = await log45(t, engine);
    const truth = merkleRoot(await leafHashes(db, 1, 10_000)).toString('hex');
    const row = (await db('audit_frontiers').orderBy('tree_size', 'desc').first()) as { tree_size: number | string; frontier: string; head_hash: string };
    t.equal(Number(row.tree_size), 40);

    const edits: Array<[string, Record<string, string>]> = [
      ['a node hash replaced', { frontier: JSON.stringify((JSON.parse(row.frontier) as string[]).map((h, i) => (i === 0 ? 'ab'.repeat(32) : h))) }],
      ['the head replaced', { head_hash: 'cd'.repeat(32) }],
      ['not JSON', { frontier: '{' }],
      ['the wrong number of hashes', { frontier: JSON.stringify(['ab'.repeat(32)]) }],
    ];
    for (const [what, change] of edits) {
      for (const sql of unguardSql(db, 'audit_frontiers')) await db.raw(sql);
      await db('audit_frontiers').where('tree_size', row.tree_size).update({ frontier: row.frontier, head_hash: row.head_hash, ...change });
      for (const sql of guardSql(db, 'audit_frontiers')) await db.raw(sql);
      const head = await loadHead(db);
      t.equal(head.leavesRead, 25, `${what}: the frontier before it (at 20) is used instead`);
      t.match(head.frontierRejected, /frontier|head/, `${what}: and the reason is reported`);
      t.equal(head.range.root().toString('hex'), truth, `${what}: the root is still the true one`);
      t.equal((await load(db, { ...trust, fingerprint: 'ff' })).leavesRead, 45, `${what}: and with no frontier to fall back on (checkpoints of another certificate), every leaf is read`);
    }
    const again = await openAuditLog(db, { signer, checkpointEvery: 10, frontierEvery: 20, checkpointIntervalMs: 0 });
    await again.record(ev(45));
    await again.close();
    const report = await verifyBundle(toNdjson((await exportBundle(db, { signer })).lines), ca.certPem);
    t.ok(report.ok, report.reason ?? 'the log opened past an edited frontier still verifies');
  });

  t.test(`${engine.name}: frontiers and pruning`, async (t) => {
    const { db, close } = await engine.open();
    t.teardown(close);
    await migrateAudit(db);
    let clock = new Date(Date.now() - 200 * DAY);
    const log = await openAuditLog(db, { signer, checkpointEvery: 5, frontierEvery: 10, checkpointIntervalMs: 0, now: () => clock });
    for (let i = 0; i < 23; i++) await log.record(ev(i));
    clock = new Date();
    for (let i = 23; i < 30; i++) await log.record(ev(i));
    const r = await pruneAudit(db, log, { before: new Date(Date.now() - 190 * DAY), actor: 'user:admin' });
    t.equal(r.firstKept, 24, 'entries 1..23 pruned (the frontiers at 10 and 20 now lie before the prune base)');
    const head = await loadHead(db);
    t.ok(head.leavesRead <= 10, `opening after the prune reads the entries since the newest usable frontier or the prune base (${head.leavesRead})`);
    t.equal(head.range.size, 31, 'the 30 entries and the audit.prune event');
    await log.record(ev(31));
    await log.close();
    const report = await verifyBundle(toNdjson((await exportBundle(db, { signer })).lines), ca.certPem);
    t.ok(report.ok, report.reason ?? 'the bundle after pruning verifies');
  });
}

for (const engine of await engines()) {
  t.test(`${engine.name}: rows inserted beside the log cannot make it go on from a wrong tree`, async (t) => {
    const db = await log45(t, engine);
    const all = await leafHashes(db, 1, 10_000);
    // INSERT only (the triggers refuse UPDATE and DELETE): a checkpoint at 43, where there is none, over a made-up range, and its frontier
    const fake = ['ab'.repeat(32), 'cd'.repeat(32), 'ef'.repeat(32)]; // 43 = 32 + 8 + 2 + 1: four hashes
    fake.push('12'.repeat(32));
    const { CompactRange } = await import('../../audit/merkle.js');
    const fakeRoot = CompactRange.fromHex(43, fake).root().toString('hex');
    const cp = (await db('audit_checkpoints').where('tree_size', 40).first()) as Record<string, unknown>;
    await db('audit_checkpoints').insert({ ...cp, tree_size: 43, root_hash: fakeRoot });
    await db('audit_frontiers').insert({ tree_size: 43, frontier: JSON.stringify(fake), head_hash: all[42]!.toString('hex') });
    // and a junk frontier far beyond the log
    await db('audit_frontiers').insert({ tree_size: 999_999_999, frontier: '[]', head_hash: '00'.repeat(32) });
    const head = await loadHead(db);
    t.equal(head.range.root().toString('hex'), merkleRoot(all).toString('hex'), 'the true root: the forged checkpoint does not verify with the log\'s signer');
    t.match(head.frontierRejected, /does not verify/, 'and that is reported');
    t.equal(head.leavesRead, 5, 'the genuine frontier at 40 is used instead (the junk one beyond the log is not even tried)');

    const again = await openAuditLog(db, { signer, checkpointEvery: 10, frontierEvery: 20, checkpointIntervalMs: 0 });
    t.match(again.opened.frontierRejected, /does not verify/);
    await reportFrontierRejection(again, 'svc:test', '430100');
    const entry = (await db('audit_log').where({ action: 'audit.frontier' }).first()) as { outcome: string; reason: string } | undefined;
    t.equal(entry?.outcome, 'failure', 'the rejection is audited');
    for (let i = 45; i < 65; i++) await again.record(ev(i));
    await again.close();
    const sizes = ((await db('audit_frontiers').select('tree_size').orderBy('tree_size')) as Array<{ tree_size: number | string }>).map((r) => Number(r.tree_size));
    t.ok(sizes.some((n) => n > 45 && n < 999_999_999), `frontiers are still written after the junk row (${sizes.join(', ')})`);
    t.equal((await loadHead(db)).range.root().toString('hex'), merkleRoot(await leafHashes(db, 1, 10_000)).toString('hex'), 'and the log is on its true tree');
  });

  t.test(`${engine.name}: two writers checkpointing the same size do not fail on the frontier`, async (t) => {
    const { db, close } = await engine.open();
    t.teardown(close);
    await migrateAudit(db);
    const opts = { signer, checkpointEvery: 1000, frontierEvery: 10, checkpointIntervalMs: 0 };
    const a = await openAuditLog(db, opts);
    const b = await openAuditLog(db, opts);
    for (let i = 0; i < 12; i++) await b.record(ev(i));
    t.ok(await a.checkpoint(), 'A signs a checkpoint at 12 and writes its frontier');
    t.ok(await b.checkpoint(), 'B, with the same frontier due, does not fail');
    await a.close();
    await b.close();
    t.same(((await db('audit_frontiers').select('tree_size')) as Array<{ tree_size: number | string }>).map((r) => Number(r.tree_size)), [12]);
  });
}
