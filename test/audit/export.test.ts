import t from 'tap';
import { engines } from '../helpers/db.js';
import { issue, makeCa } from '../helpers/pki.js';
import { exportBundle, migrateAudit, openAuditLog, toNdjson, type AuditEvent, type BundleLine } from '../../audit/index.js';
import { verifyBundle } from '../../audit/verify-bundle.js';

const ca = makeCa();
const node = issue(ca, '430100');
const signer = { nodeId: '430100', keyPem: node.keyPem, certPem: node.certPem };
const ev = (i: number): AuditEvent => ({ actor: `cert:${'ab'.repeat(32)}`, actorNode: '430200', action: 'batch.receive', object: `batch-${i}`, outcome: 'success' });
const types = (lines: BundleLine[]) => lines.map((l) => (l.type === 'entry' ? `e${l.seq}` : l.type === 'checkpoint' ? `c${l.treeSize}` : l.type));

for (const engine of await engines()) {
  t.test(engine.name, async (t) => {
    const { db, close } = await engine.open();
    t.teardown(close);
    await migrateAudit(db);
    await t.rejects(exportBundle(db, {}), { code: 'ERR_AUDIT_RANGE' }, 'an empty log has nothing to export');
    const log = await openAuditLog(db, { signer, checkpointEvery: 10, checkpointIntervalMs: 0 });
    for (let i = 0; i < 25; i++) await log.record(ev(i));

    t.test('a full export ends with a checkpoint signed at export time and verifies', async (t) => {
      const r = await exportBundle(db, { signer });
      t.same([r.from, r.to, r.checkpoints], [1, 25, 3]);
      const seq = types(r.lines);
      t.same(seq.slice(0, 2), ['header', 'cert']);
      t.same(seq.slice(-3), ['e24', 'e25', 'c25']);
      t.equal(seq.indexOf('c10'), seq.indexOf('e10') + 1, 'checkpoint 10 right after entry 10');
      t.equal(seq.at(-1), 'c25', 'ends with the checkpoint at the last entry');
      const report = await verifyBundle(toNdjson(r.lines), ca.certPem);
      t.ok(report.ok, report.reason ?? 'ok');
      t.same([report.entries, report.checkpoints, report.signer, report.from, report.to], [25, 3, '430100', 1, 25]);
      const again = await exportBundle(db, {});
      t.equal(again.to, 25, 'the signed export checkpoint is stored: a later export without a key reuses it');
    });

    t.test('a ranged export carries the frontier and still verifies against the signed roots', async (t) => {
      const r = await exportBundle(db, { from: 7, to: 17, signer });
      const header = r.lines[0]!;
      t.equal(header.type, 'header');
      if (header.type === 'header') t.same([header.from, header.to, header.entries, header.frontier.length], [7, 17, 11, 2], 'frontier of 6 leaves = subtrees of 4 and 2');
      t.same(types(r.lines).filter((x) => /^c\d/.test(x)), ['c10', 'c17']);
      const report = await verifyBundle(toNdjson(r.lines), ca.certPem);
      t.ok(report.ok, report.reason ?? 'ok');
      t.equal(report.entries, 11);
    });

    t.test('without a key the export is cut back to the last stored checkpoint, or refused', async (t) => {
      for (let i = 25; i < 28; i++) await log.record(ev(i)); // 26..28, no checkpoint yet
      const r = await exportBundle(db, { from: 21 });
      t.same([r.to, r.requestedTo], [25, 28], 'cut back to 25 and says so');
      t.ok((await verifyBundle(toNdjson(r.lines), ca.certPem)).ok);
      await t.rejects(exportBundle(db, { from: 26, to: 28 }), { code: 'ERR_AUDIT_NO_CHECKPOINT' });
      await t.rejects(exportBundle(db, { from: 0 }), { code: 'ERR_AUDIT_RANGE' });
      await t.rejects(exportBundle(db, { from: 5, to: 99 }), { code: 'ERR_AUDIT_RANGE' });
      await t.rejects(exportBundle(db, { from: 9, to: 8 }), { code: 'ERR_AUDIT_RANGE' });
    });

    t.test('checkpoints signed while the log runs and at export time do not collide', async (t) => {
      await exportBundle(db, { signer }); // signs 28
      await log.close(); // would sign 28 again: ignored, not an error
      t.equal((await log.latestCheckpoint())?.treeSize, 28);
    });
  });
}
