/**
 * A node store restored from a backup brings back the witness reset arms of the hub's log it held
 * (docs/audit-format.md §10b): one pending at backup time would be used again without its operator.
 * The witness loop's first round after a start cancels pending arms made before the restore (the
 * data directory's restore marker), audited; an arm made after the restore stays. Real node store
 * (SQLite) and audit log; the first round ends before any hub call (the node's log has no checkpoint).
 * And an arm is used once (the store's conditional consume).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { connect } from '../../audit/knex-connect.js';
import { openAuditLog } from '../../audit/log.js';
import { loadConfig } from '../../node/config.js';
import { armHubWitnessReset } from '../../node/hub-witness-arm.js';
import { hubWitnessResetStore } from '../../node/hub-witness-reset-store.js';
import { RESTORE_MARKER, RESTORE_MARKER_FORMAT } from '../../node/backup.js';
import { createWitness } from '../../node/exchange/witness.js';
import type { ExchangeIdentity } from '../../node/exchange/identity.js';
import { main } from '../../scripts/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'witness-restore-arms-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const configFile = join(dir, 'node.json');
writeFileSync(configFile, JSON.stringify({ nodeId: '430100', dataDir: join(dir, 'data'), listen: { host: '127.0.0.1', port: 0 }, logLevel: 'silent', rateLimit: { enabled: false } }));
const config = loadConfig(configFile);
const quiet = { io: { stdout: () => undefined, stderr: () => undefined } };

t.test('arms from before a restore are cancelled at the first round; later ones stay', async (t) => {
  t.equal(await main(['node', 'witness', 'resets', '--config', configFile], quiet.io), 0, 'the store made and migrated');
  const db = await connect(config.databaseTarget);
  t.teardown(() => db.destroy());
  const at = (msAgo: number) => new Date(Date.now() - msAgo).toISOString();
  await db('audit_witnessed').insert([5, 9].map((size) => ({ node_id: '430000', tree_size: size, root_hash: String(size).repeat(64), checkpoint: JSON.stringify({ time: at(size === 5 ? 7_200_000 : 1_800_000) }), cosignature: '{}', cosigned_at: at(size === 5 ? 7_200_000 : 1_800_000) })));
  const before = await armHubWitnessReset(config, { restoredTo: at(3_600_000), reason: '备份前的授权', ttlMs: 3_600_000 }, new Date(Date.now() - 60_000));
  const restoredAt = at(30_000);
  writeFileSync(join(config.dataDir, RESTORE_MARKER), JSON.stringify({ format: RESTORE_MARKER_FORMAT, backupCreatedAt: at(600_000), restoredAt }));

  const log = await openAuditLog(db);
  t.teardown(() => log.close());
  const noHub = () => {
    throw new Error('no hub call expected');
  };
  const witness = createWitness({
    db, log, identity: {} as ExchangeIdentity, client: noHub, clock: () => new Date(), hub: { checkpointIntervalMs: 0 }, dataDir: config.dataDir,
    logger: { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined },
  });
  t.equal(await witness.witnessOnce(), null);
  const row = await db('node_hub_witness_arms').where({ id: before.id }).first();
  t.not(row.cancelled_at, null, 'the arm from before the restore is cancelled');
  const entry = await db('audit_log').where({ action: 'witness.reset.arm', outcome: 'failure' }).first();
  t.match(entry.reason, new RegExp(`^cancelled arm\\(s\\) ${before.id}: armed before the store was restored \\(${restoredAt}, backup of `));

  const after = await armHubWitnessReset(config, { restoredTo: at(3_600_000), reason: '恢复后的授权', ttlMs: 3_600_000 });
  const again = createWitness({
    db, log, identity: {} as ExchangeIdentity, client: noHub, clock: () => new Date(), hub: { checkpointIntervalMs: 0 }, dataDir: config.dataDir,
    logger: { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined },
  });
  await again.witnessOnce(); // a restart with the marker still there
  t.equal((await db('node_hub_witness_arms').where({ id: after.id }).first()).cancelled_at, null, 'an arm made after the restore stays');
});

t.test('an arm is used once: consume is conditional and cancels the other pending arms', async (t) => {
  const db = await connect(config.databaseTarget);
  t.teardown(() => db.destroy());
  const now = new Date().toISOString();
  const base = { reason: '测试', armedBy: 'cli:test', armedAt: now, expiresAt: new Date(Date.now() + 60_000).toISOString(), restoredTo: now, abandonTo: 9 };
  const a = await hubWitnessResetStore.arm(db, base);
  t.equal(await hubWitnessResetStore.consume(db, a, now, 7), true);
  t.equal(await hubWitnessResetStore.consume(db, a, now, 8), false, 'not twice (the reset then fails ERR_AUDIT_RESET_NOT_ARMED and rolls back)');
  const b = await hubWitnessResetStore.arm(db, base);
  const c = await hubWitnessResetStore.arm(db, base); // cancels b
  t.equal(await hubWitnessResetStore.consume(db, b, now, 8), false, 'not a cancelled one');
  await db('node_hub_witness_arms').where({ id: b }).update({ cancelled_at: null }); // two pending, as a race could leave them
  t.equal(await hubWitnessResetStore.consume(db, c, now, 8), true);
  t.not((await db('node_hub_witness_arms').where({ id: b }).first()).cancelled_at, null, 'using one cancels the other');
  t.equal(await hubWitnessResetStore.pending(db), undefined);
});
