/**
 * Audit log throughput on SQLite: appending 100,000 entries through `record()` (20,000 with
 * --quick; checkpoints signed every 1,000 as by default), exporting them as a bundle, and verifying
 * the bundle offline; with the raw SHA-256 rate over the same leaf inputs for comparison; and the
 * time to open the log with its persisted frontiers (written every 10,000 entries here) and without
 * them (every leaf hash read, as before issue 22 item 3).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '../../audit/knex-connect.js';
import { exportBundle, migrateAudit, openAuditLog, toNdjson, type AuditEvent } from '../../audit/index.js';
import { leafHash } from '../../audit/crypto.js';
import { GENESIS_HASH, leafInput } from '../../audit/entry.js';
import { verifyBundle } from '../../audit/verify-bundle.js';
import { guardSql, unguardSql } from '../../audit/schema.js';
import { medianRate, type BenchResult, type Scenario } from './scenario.js';
import { benchPki } from './bench-pki.js';

const event = (i: number): AuditEvent => ({
  actor: `user:officer-${i % 50}`, actorNode: '430100', action: i % 4 ? 'record.read' : 'record.create',
  object: `0190f3c2-7d1e-7${String(i).padStart(3, '0').slice(-3)}-8000-${String(i).padStart(12, '0')}`, class: 'restricted', outcome: 'success', reason: 'inspection',
});

const seconds = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e9;

export const auditScenario: Scenario = {
  name: 'audit',
  async run({ quick, log }): Promise<BenchResult[]> {
    const n = quick ? 20_000 : 100_000;
    const pki = await benchPki();
    const dir = mkdtempSync(join(tmpdir(), 'cf-bench-audit-'));
    const db = await connect(join(dir, 'audit.sqlite'));
    try {
      await migrateAudit(db);
      log(`${n.toLocaleString('en-US')} entries on SQLite (WAL), record() in windows of 5,000 concurrent callers, checkpoint every 1,000`);
      const audit = await openAuditLog(db, { signer: { nodeId: '430100', keyPem: pki.node.keyPem, certPem: pki.node.certPem }, checkpointIntervalMs: 0, frontierEvery: 10_000 });
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < n; i += 5000) {
        await Promise.all(Array.from({ length: Math.min(5000, n - i) }, (_, k) => audit.record(event(i + k + 1))));
      }
      await audit.close();
      const append = n / seconds(t0);

      const t1 = process.hrtime.bigint();
      const text = toNdjson((await exportBundle(db)).lines);
      const exportRate = n / seconds(t1);
      const t2 = process.hrtime.bigint();
      const report = await verifyBundle(text, pki.caCertPem);
      const verifyRate = n / seconds(t2);
      if (!report.ok || report.entries !== n) throw new Error(`bench bundle did not verify: ${report.code} ${report.reason}`);
      log(`bundle: ${(text.length / 1e6).toFixed(1)} MB, ${report.checkpoints} checkpoints`);

      const openMs = async (): Promise<number> => {
        const times: number[] = [];
        for (let i = 0; i < 5; i++) {
          const t = process.hrtime.bigint();
          await (await openAuditLog(db, { signer: { nodeId: '430100', keyPem: pki.node.keyPem, certPem: pki.node.certPem }, checkpointIntervalMs: 0 })).close(); // with its signer: a frontier is only used at a checkpoint it verifies
          times.push(seconds(t) * 1000);
        }
        return times.sort((a, b) => a - b)[2]!;
      };
      const openWith = await openMs();
      for (const sql of unguardSql(db, 'audit_frontiers')) await db.raw(sql);
      await db('audit_frontiers').del();
      for (const sql of guardSql(db, 'audit_frontiers')) await db.raw(sql);
      const openWithout = await openMs();

      const inputs = Array.from({ length: n }, (_, i) => leafInput({ seq: i + 1, time: new Date().toISOString(), prevHash: GENESIS_HASH, ...withNulls(event(i + 1)) }));
      const sha = await medianRate(quick ? 3 : 5, n, () => {
        for (const s of inputs) leafHash(s);
      });
      return [
        { label: 'audit append (record(), SQLite)', key: 'audit_append_eps', value: append, unit: 'entries/s', note: `${n.toLocaleString('en-US')} entries, one run, signed checkpoint every 1,000` },
        { label: 'audit bundle export', key: 'audit_export_eps', value: exportRate, unit: 'entries/s', note: 'NDJSON from the store' },
        { label: 'audit bundle verify (offline)', key: 'audit_verify_eps', value: verifyRate, unit: 'entries/s', note: 'leaf hashes, chain, Merkle roots, signatures, certificate chain' },
        { label: 'open the log (persisted frontier)', key: 'audit_open_ms', value: openWith, unit: 'ms', note: `median of 5, ${n.toLocaleString('en-US')} entries, frontier every 10,000` },
        { label: 'open the log reading every leaf hash (no frontier)', key: 'audit_open_full_ms', value: openWithout, unit: 'ms', note: 'median of 5, as before issue 22 item 3' },
        { label: 'raw SHA-256 over the same leaf inputs', key: 'sha256_raw_eps', value: sha, unit: 'hashes/s', note: `≈${Math.round(inputs[0]!.length)} bytes each` },
      ];
    } finally {
      await db.destroy();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};

function withNulls(e: AuditEvent) {
  return { actor: e.actor, actorNode: e.actorNode ?? null, action: e.action, object: e.object ?? null, class: e.class ?? null, outcome: e.outcome, reason: e.reason ?? null };
}
