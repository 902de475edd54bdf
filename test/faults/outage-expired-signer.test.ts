/**
 * Regression (found by test/faults/outage-time.test.ts): a node whose certificate ran out before it
 * could renew kept signing audit checkpoints with it — at its interval and on shutdown — and its
 * whole log then failed offline verification (ERR_AUDIT_UNTRUSTED_SIGNER: the certificate is not
 * valid at the checkpoint's time). The log now signs nothing while its certificate is not valid;
 * the entries are covered by the next checkpoint signed with a valid one.
 */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '../../audit/knex-connect.js';
import { exportBundle, migrateAudit, openAuditLog, toNdjson, verifyBundle } from '../../audit/index.js';
import { issue, makeCa } from '../helpers/pki.js';

const dir = mkdtempSync(join(tmpdir(), 'cf-expired-signer-'));
const db = await connect(join(dir, 'audit.sqlite'));
t.teardown(async () => {
  await db.destroy();
  rmSync(dir, { recursive: true, force: true });
});
await migrateAudit(db);
const ca = makeCa();
const node = '430181';
const expired = issue(ca, node, { notBefore: new Date(Date.now() - 3_600_000), notAfter: new Date(Date.now() - 60_000) });
const renewed = issue(ca, node);
const checkpoints = async () => Number(((await db('audit_checkpoints').count({ n: '*' }).first()) as { n: number | string }).n);

t.test('no checkpoint is signed with an expired certificate; the next valid one covers the entries', async (t) => {
  const log = await openAuditLog(db, { signer: { nodeId: node, keyPem: expired.keyPem, certPem: expired.certPem }, checkpointEvery: 2, checkpointIntervalMs: 0 });
  for (let i = 0; i < 3; i++) await log.record({ actor: `node:${node}`, actorNode: node, action: 'batch.send', object: `b${i}`, outcome: 'failure', reason: 'ERR_CERT_EXPIRED' });
  t.equal(await log.checkpoint(), null, 'checkpoint() signs nothing');
  t.equal(await checkpoints(), 0, 'nor did the every-2-entries checkpoint');

  log.setSigner({ nodeId: node, keyPem: renewed.keyPem, certPem: renewed.certPem });
  const cp = await log.checkpoint();
  t.equal(cp?.treeSize, 3, 'the renewed certificate signs a checkpoint over all three entries');
  await log.close();

  const bundle = await exportBundle(db);
  const report = await verifyBundle(toNdjson(bundle.lines), ca.certPem);
  t.ok(report.ok, `the log verifies${report.code ? `: ${report.code} ${report.reason}` : ''}`);
  t.equal(report.entries, 3);
  t.equal(report.checkpoints, 1);
});
