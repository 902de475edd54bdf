import t from 'tap';
import { engines } from '../helpers/db.js';
import { issue, makeCa } from '../helpers/pki.js';
import { exportBundle, migrateAudit, openAuditLog, proveInclusion, pruneAudit, toNdjson, verifyProof } from '../../audit/index.js';
import { verifyBundle } from '../../audit/verify-bundle.js';

const ca = makeCa();
const node = issue(ca, '430100', { notBefore: new Date(Date.now() - 400 * 86400_000) });
const signer = { nodeId: '430100', keyPem: node.keyPem, certPem: node.certPem };
const DAY = 86400_000;

for (const engine of await engines()) {
  t.test(engine.name, async (t) => {
    const { db, close } = await engine.open();
    t.teardown(close);
    await migrateAudit(db);
    let clock = new Date(Date.now() - 200 * DAY);
    const log = await openAuditLog(db, { signer, checkpointEvery: 4, checkpointIntervalMs: 0, now: () => clock });
    for (let i = 0; i < 10; i++) await log.record({ actor: 'user:old', action: 'record.read', object: `old-${i}`, outcome: 'success' });
    clock = new Date();
    for (let i = 0; i < 5; i++) await log.record({ actor: 'user:new', action: 'record.read', object: `new-${i}`, outcome: 'success' });

    await t.rejects(pruneAudit(db, log, { before: new Date(Date.now() - 10 * DAY), actor: 'user:admin' }), { code: 'ERR_AUDIT_RETENTION' }, 'entries of 10 days ago cannot go');
    await t.rejects(pruneAudit(db, log, { before: new Date(Date.now() - 179 * DAY), actor: 'user:admin' }), { code: 'ERR_AUDIT_RETENTION' }, '179 days is too young');
    await t.rejects(pruneAudit(db, log, { before: new Date('nonsense'), actor: 'user:admin' }), { code: 'ERR_AUDIT_RETENTION' });
    t.equal(Number(((await db('audit_log').count({ n: '*' }).first()) as { n: number }).n), 15, 'nothing removed by the refusals');

    const r = await pruneAudit(db, log, { before: new Date(Date.now() - 190 * DAY), actor: 'user:admin' });
    t.same([r.pruned, r.firstKept, r.eventSeq], [10, 11, 16], 'entries 1..10 pruned, the prune itself audited as seq 16');
    t.match(r.archiveRoot, /^[0-9a-f]{64}$/);
    const ev = (await db('audit_log').where('seq', 16).first()) as { action: string; reason: string };
    t.equal(ev.action, 'audit.prune');
    t.match(ev.reason, r.archiveRoot!);
    t.same((await db('audit_log').min({ m: 'seq' }).first()) as object, { m: engine.name === 'pg' ? '11' : 11 });
    await t.rejects(db.raw('DELETE FROM audit_log WHERE seq = 11'), /append-only/, 'the delete guard is back');
    await t.rejects(db.raw("UPDATE audit_log SET actor = 'x' WHERE seq = 11"), /append-only/, 'the update guard is still there');
    await t.rejects(db.raw("UPDATE audit_prunes SET frontier = '[]'"), /append-only/, 'the kept frontier cannot be edited');
    await t.rejects(db.raw('DELETE FROM audit_prunes'), /append-only/);

    const again = await pruneAudit(db, log, { before: new Date(Date.now() - 190 * DAY), actor: 'user:admin' });
    t.equal(again.pruned, 0, 'nothing more to prune');

    // The log, exports and proofs go on from the kept compact range.
    await log.record({ actor: 'user:new', action: 'record.read', outcome: 'success' });
    const reopened = await openAuditLog(db, { signer, checkpointIntervalMs: 0 });
    t.equal(await reopened.record({ actor: 'user:new', action: 'record.read', outcome: 'success' }), 18);
    await reopened.close();
    const b = await exportBundle(db, { signer });
    t.same([b.from, b.to], [11, 18]);
    const report = await verifyBundle(toNdjson(b.lines), ca.certPem);
    t.ok(report.ok, report.reason ?? 'the bundle after pruning verifies');
    await t.rejects(exportBundle(db, { from: 3 }), { code: 'ERR_AUDIT_PRUNED' });
    t.ok(verifyProof(await proveInclusion(db, 12), [ca.certPem]).signedSizes.length === 1, 'inclusion of a kept entry still proves against a signed root');
    await t.rejects(proveInclusion(db, 3), { code: 'ERR_AUDIT_PRUNED' });
  });
}
