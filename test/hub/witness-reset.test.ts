/**
 * The operator-armed witness reset after a node restore (issue 17; hub/witness-service.ts,
 * audit/witness-reset.ts), on both engines, against the real hub over mutual TLS. A node's real
 * audit log is cosigned, copied as a backup would copy it (VACUUM INTO), extended and cosigned again
 * after the backup; the copy is then "restored", diverges, and asks for a reset. Adversarial cases,
 * each with its exact code: no arm, an arm for another node, an expired arm, an arm for another
 * backup, a proof from a head cosigned after the backup, a backup time in the future, a forged
 * proof, a replacement history unrelated to the cosigned one, a consumed arm (replay), and two
 * concurrent submissions (one wins, PostgreSQL row locks). Then the auditor's view: the witness
 * export carries the signed reset, `verify --witness` reports the break; without it, the old
 * witness records fail the restored log ERR_AUDIT_INCONSISTENT.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import type { Knex } from 'knex';
import { exportBundle, migrateAudit, openAuditLog, storeCosignature, toNdjson, type Cosignature } from '../../audit/index.js';
import { connect } from '../../audit/knex-connect.js';
import { witnessPayload } from '../../audit/witness.js';
import { readWitnessFile, witnessRecordsNdjson } from '../../audit/witness-records.js';
import { verifyReset, type WitnessReset } from '../../audit/witness-reset.js';
import { verifyBundle, summaryLine } from '../../audit/verify-bundle.js';
import { witnessResetStore } from '../../hub/witness-reset-store.js';
import { witnessStore } from '../../hub/witness-store.js';
import type { CheckpointPayload, WitnessState } from '../../protocol/exchange.js';
import { engines } from '../helpers/db.js';
import { hubFixture, type HubFixture, type Reply, type TestNode } from './fixture.js';

const HOUR = 3_600_000;

async function openLog(file: string, node: TestNode) {
  const db = await connect(file);
  await migrateAudit(db);
  const log = await openAuditLog(db, { signer: { nodeId: node.nodeId, keyPem: node.keyPem, certPem: node.certPem }, checkpointIntervalMs: 0 });
  let n = 0;
  const add = async (k: number, what = 'record.create') => {
    for (let i = 0; i < k; i++) await log.record({ actor: 'user:alice', actorNode: node.nodeId, action: what, object: `r${++n}`, outcome: 'success' });
  };
  return { db, log, add, close: async () => { await log.close(); await db.destroy(); } };
}

/** Waits until the wall clock has passed `iso` (cosignatures carry millisecond times). */
async function after(iso: string): Promise<void> {
  while (Date.now() <= Date.parse(iso) + 1) await new Promise((r) => setImmediate(r));
}

for (const engine of await engines()) {
  t.test(`witness reset after a restore (${engine.name})`, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'witness-reset-'));
    const f: HubFixture = await hubFixture(t, { engine });
    const ctx = f.hub.app.hubCtx;
    const db: Knex = ctx.db;
    const cs = await f.enrol('430100', 3);
    const cd = await f.enrol('430700', 1);
    const send = async (payload: unknown, node: TestNode = cs) => f.call(node.agent, 'POST', '/v1/checkpoints', await f.sealFrom(node, 'checkpoint', payload));
    const latest = async (before?: string) => (await f.call(cs.agent, 'GET', `/v1/checkpoints/latest${before ? `?before=${before}` : ''}`)).json as WitnessState;
    const cosign = async (log: Awaited<ReturnType<typeof openLog>>) => {
      const r = await send(await witnessPayload(log.db, log.log, await latest()));
      t.equal(r.status, 200, String(r.json.code ?? 'cosigned'));
      await storeCosignature(log.db, r.json as Cosignature, { caCertPem: f.caCertPem });
      return r.json as Cosignature;
    };

    // the node's life before the loss: cosigned, backed up, cosigned twice more
    const live = await openLog(join(dir, 'live.sqlite'), cs);
    await live.add(5);
    const c1 = await cosign(live);
    const backupCreatedAt = new Date(Date.parse(c1.cosignedAt) + 1).toISOString();
    await after(backupCreatedAt);
    await live.db.raw('VACUUM INTO ?', [join(dir, 'backup.sqlite')]);
    await live.add(5);
    const c2 = await cosign(live);
    await live.add(3);
    const c3 = await cosign(live);
    await live.close();
    const oldRecords = witnessRecordsNdjson((await witnessStore.cosignatures(db, '430100')).map((j) => JSON.parse(j) as Cosignature));

    // restored from the backup: the copy goes on with other entries (shorter than the cosigned head)
    const restored = await openLog(join(dir, 'backup.sqlite'), cs);
    t.teardown(async () => {
      await restored.close();
      rmSync(dir, { recursive: true, force: true });
    });
    await restored.add(2, 'batch.resync');
    const state = await latest();
    t.equal(state.treeSize, c3.treeSize);
    t.equal(state.resetFrom, undefined, 'resetFrom only when asked');
    await t.rejects(witnessPayload(restored.db, restored.log, state), { code: 'ERR_AUDIT_INCONSISTENT' }, 'the restored log does not extend the cosigned head');
    const from = (await latest(backupCreatedAt)).resetFrom;
    t.same(from, { treeSize: c1.treeSize, rootHash: c1.rootHash, cosignedAt: c1.cosignedAt }, 'resetFrom: the largest head cosigned before the backup');
    const good: CheckpointPayload = { ...(await witnessPayload(restored.db, restored.log, { treeSize: from!.treeSize, rootHash: from!.rootHash })), reset: { backupCreatedAt } };
    const plain: CheckpointPayload = { checkpoint: good.checkpoint, signerCertPem: good.signerCertPem, proof: good.proof! };

    const code = async (payload: unknown, node: TestNode = cs) => {
      const r = await send(payload, node);
      return { status: r.status, code: r.json.code as string | undefined, details: r.json.details };
    };
    const arm = (o: Partial<{ nodeId: string; expiresAt: string; backupCreatedAt: string }> = {}) =>
      witnessResetStore.arm(db, { nodeId: '430100', reason: 'restored from the nightly backup, ticket OPS-17', armedBy: 'cli:op@hub', armedAt: new Date().toISOString(), expiresAt: new Date(Date.now() + HOUR).toISOString(), backupCreatedAt, ...o });

    t.test('without a reset the hub keeps refusing the restored log', async (t) => {
      t.match(await code(plain), { status: 409, code: 'ERR_AUDIT_INCONSISTENT' }, 'no reset asked: the existing refusal');
      t.match(await code(good), { status: 409, code: 'ERR_AUDIT_RESET_NOT_ARMED' }, 'reset asked, nothing armed');
      await arm({ nodeId: '430700' });
      t.match(await code(good), { status: 409, code: 'ERR_AUDIT_RESET_NOT_ARMED' }, 'an arm for another node does not count');
      const valid = await arm();
      await arm({ expiresAt: new Date(Date.now() - 1000).toISOString() });
      t.match(await code(good), { status: 409, code: 'ERR_AUDIT_RESET_EXPIRED' }, 'an expired arm (the newest) replaced the valid one: expired, not taken');
      t.ok((await witnessResetStore.arms(db, '430100')).find((x) => x.id === valid)?.cancelledAt, 'a new arm cancels the earlier unused one');
      await t.rejects(witnessResetStore.arm(db, { nodeId: '430100', reason: 'no backup named', armedBy: 'cli:op@hub', armedAt: new Date().toISOString(), expiresAt: new Date(Date.now() + HOUR).toISOString(), backupCreatedAt: null as unknown as string }), { code: 'ERR_AUDIT_RESET_NOT_ARMED' }, 'an arm without its backup time is refused');
      await arm({ backupCreatedAt: '2026-01-01T00:00:00.000Z' });
      t.match(await code(good), { status: 409, code: 'ERR_AUDIT_RESET_NOT_ARMED' }, 'an arm for another backup');
      const failures = await db('audit_log').where({ action: 'witness.reset', outcome: 'failure' });
      t.equal(failures.length, 4, 'every refused reset is audited');
      await t.rejects(db.raw('UPDATE hub_witness_arms SET backup_created_at = NULL'), 'backup_created_at is NOT NULL');
      t.same(await latest().then((s) => s.treeSize), c3.treeSize, 'nothing changed');
    });

    t.test('armed: a proof that does not start at the right head, or does not verify, is refused; the arm stays', async (t) => {
      const armId = await arm();
      // the backup time moved after c2: the node claims more history than it has
      const late = await witnessPayload(restored.db, restored.log, { treeSize: 0, rootHash: null });
      t.match(await code({ ...late, proof: { from: c2.treeSize, fromRoot: c2.rootHash, proof: ['ab'.repeat(32)] }, reset: { backupCreatedAt } }), { code: 'ERR_AUDIT_RESET_FROM' }, 'a proof from a head cosigned after the backup');
      t.match(await code({ ...late, reset: { backupCreatedAt } }), { code: 'ERR_AUDIT_RESET_FROM' }, 'no proof although a head was cosigned before the backup');
      t.match(await code({ ...good, reset: { backupCreatedAt: new Date(Date.now() + HOUR).toISOString() } }), { code: 'ERR_AUDIT_RESET_FROM' }, 'a backup time in the future');
      const forged = { ...good, proof: { ...good.proof!, proof: good.proof!.proof.map(() => 'cd'.repeat(32)) } };
      t.match(await code(forged), { status: 409, code: 'ERR_AUDIT_INCONSISTENT', details: { kind: 'proof-invalid' } }, 'a forged proof');
      // a whole replacement history, signed with the node key, claiming the right starting head
      const fresh = await openLog(join(dir, 'fresh.sqlite'), cs);
      await fresh.add(9, 'record.withdraw');
      const replaced = await witnessPayload(fresh.db, fresh.log, { treeSize: 0, rootHash: null });
      await fresh.close();
      t.match(await code({ ...replaced, proof: { from: c1.treeSize, fromRoot: c1.rootHash, proof: good.proof!.proof }, reset: { backupCreatedAt } }), { code: 'ERR_AUDIT_INCONSISTENT' }, 'a replaced history');
      t.match(await code(good, cd), { status: 403, code: 'ERR_AUDIT_UNTRUSTED_SIGNER' }, "another node sending this node's reset");
      t.equal((await witnessResetStore.pending(db, '430100'))?.id, armId, 'the arm is still armed');
    });

    t.test('two concurrent submissions: one reset, the other refused; then the arm is spent', async (t) => {
      const envs = [await f.sealFrom(cs, 'checkpoint', good), await f.sealFrom(cs, 'checkpoint', good)];
      const [a, b] = (await Promise.all(envs.map((e) => f.call(cs.agent, 'POST', '/v1/checkpoints', e)))) as [Reply, Reply];
      const codes = [a, b].map((r) => (r.status === 200 ? 'ok' : r.json.code)).sort();
      t.same(codes, ['ERR_AUDIT_RESET_NOT_ARMED', 'ok'], 'exactly one reset');
      const c = (a.status === 200 ? a : b).json as Cosignature;
      t.match(c, { nodeId: '430100', treeSize: good.checkpoint.treeSize, rootHash: good.checkpoint.rootHash, witness: '430000' });
      await storeCosignature(restored.db, c, { caCertPem: f.caCertPem });
      t.match(await latest(), { treeSize: good.checkpoint.treeSize, rootHash: good.checkpoint.rootHash }, 'the hub now follows the restored log');
      t.same((await witnessResetStore.heads(db, '430100')).map((h) => h.treeSize), [c1.treeSize, good.checkpoint.treeSize], 'the heads after the backup are out of the live rows');
      const records = (await witnessResetStore.records(db, '430100')).map((j) => JSON.parse(j) as WitnessReset);
      t.equal(records.length, 1, 'one archived epoch');
      t.match(records[0], { nodeId: '430100', epoch: 1, backupCreatedAt, from: { treeSize: c1.treeSize, rootHash: c1.rootHash }, to: { treeSize: good.checkpoint.treeSize }, reason: 'restored from the nightly backup, ticket OPS-17', armedBy: 'cli:op@hub' });
      t.same(records[0]!.abandoned.map((h) => [h.treeSize, h.rootHash]), [[c2.treeSize, c2.rootHash], [c3.treeSize, c3.rootHash]]);
      t.doesNotThrow(() => verifyReset(records[0]!, [f.caCertPem]), 'the record is signed by the hub');
      const ok = await db('audit_log').where({ action: 'witness.reset', outcome: 'success' });
      t.equal(ok.length, 1);
      t.match(ok[0].reason, new RegExp(`backupCreatedAt=${backupCreatedAt} from=${c1.treeSize} abandoned=2 .*ticket OPS-17`));
      t.match(await code(good), { code: 'ERR_AUDIT_RESET_NOT_ARMED' }, 'replayed in a new envelope: the arm is spent');
      const winner = envs[a.status === 200 ? 0 : 1]!;
      t.match((await f.call(cs.agent, 'POST', '/v1/checkpoints', winner)).json, { code: 'ERR_REPLAY' }, 'the winning envelope again');
      const arms = await witnessResetStore.arms(db, '430100');
      t.equal(arms.filter((x) => x.consumedAt !== null).length, 1);
      t.equal(arms.filter((x) => x.consumedAt === null && x.cancelledAt === null).length, 0, 'no arm left pending after the reset');
      t.equal(c.epoch, 1, 'the reset cosignature states the new epoch');
      const archived = await witnessResetStore.archived(db, '430100');
      t.same(archived.map((a) => [a.epoch, (JSON.parse(a.cosignature) as Cosignature).treeSize]), [[1, c2.treeSize], [1, c3.treeSize]], 'the abandoned cosignatures are archived under epoch 1');
      await t.rejects(db('hub_witness_epochs').del(), /append-only/, 'hub_witness_epochs is append-only (DELETE)');
      await t.rejects(db('hub_witness_epochs').update({ reset_at: 'x' }), /append-only/, 'hub_witness_epochs is append-only (UPDATE)');
      await t.rejects(db('hub_witness_archive').del(), /append-only/, 'hub_witness_archive is append-only');

      await restored.add(4);
      t.equal((await cosign(restored)).epoch, 1, 'ordinary cosignatures state the epoch too');
      t.match(await code(plain), { code: 'ERR_AUDIT_INCONSISTENT' }, 'the ordinary rules apply again');
    });

    t.test("the auditor's view: the break is reported, the old records fail the restored log", async (t) => {
      const bundle = toNdjson((await exportBundle(restored.db, { witnessed: true })).lines);
      const records = witnessRecordsNdjson(
        (await witnessStore.cosignatures(db, '430100')).map((j) => JSON.parse(j) as Cosignature),
        (await witnessResetStore.records(db, '430100')).map((j) => JSON.parse(j) as WitnessReset),
      );
      const w = readWitnessFile(records, [f.caCertPem]);
      t.equal(w.breaks.length, 1);
      const r = await verifyBundle(bundle, f.caCertPem, { node: '430100', requireWitness: true, witnessed: w.heads, witnessBreaks: w.breaks });
      t.ok(r.ok, r.reason ?? 'verifies');
      t.equal(r.witnessBreaks.length, 1);
      t.match(summaryLine(r), /WITNESS BREAK node 430100 epoch 1: .* abandoned 2 head\(s\) .* reason: "restored from the nightly backup, ticket OPS-17"/);
      const old = readWitnessFile(oldRecords, [f.caCertPem]);
      const stale = await verifyBundle(bundle, f.caCertPem, { node: '430100', requireWitness: true, witnessed: old.heads });
      t.equal(stale.code, 'ERR_AUDIT_INCONSISTENT', 'without the reset record the abandoned heads do not match');
      const both = await verifyBundle(bundle, f.caCertPem, { node: '430100', requireWitness: true, witnessed: [...old.heads, ...w.heads], witnessBreaks: w.breaks });
      t.ok(both.ok, 'old and new records together: the reset covers exactly the abandoned heads');
      // the export with the reset line dropped (or its hub_witness_epochs row gone): the epoch in the cosignatures gives it away
      const dropped = records.split('\n').filter((l) => !l.includes('"witness-reset"')).join('\n');
      const wd = readWitnessFile(dropped, [f.caCertPem]);
      t.match(await verifyBundle(bundle, f.caCertPem, { node: '430100', requireWitness: true, witnessed: wd.heads, witnessBreaks: wd.breaks }), { ok: false, code: 'ERR_AUDIT_RESET_MISSING' }, 'a dropped reset record');
      // the archived (abandoned) cosignatures, tagged with their epoch, exported with the reset
      const full = witnessRecordsNdjson(
        (await witnessStore.cosignatures(db, '430100')).map((j) => JSON.parse(j) as Cosignature),
        (await witnessResetStore.records(db, '430100')).map((j) => JSON.parse(j) as WitnessReset),
        (await witnessResetStore.archived(db, '430100')).map((a) => ({ type: 'witness-archived' as const, epoch: a.epoch, cosignature: JSON.parse(a.cosignature) as Cosignature })),
      );
      const wf = readWitnessFile(full, [f.caCertPem]);
      t.equal(wf.heads.filter((h) => h.abandonedIn === 1).length, 2, 'two archived heads read back');
      t.ok((await verifyBundle(bundle, f.caCertPem, { node: '430100', requireWitness: true, witnessed: wf.heads, witnessBreaks: wf.breaks })).ok, 'with the archive: verifies');
      const noReset = readWitnessFile(full.split('\n').filter((l) => !l.includes('"witness-reset"')).join('\n'), [f.caCertPem]);
      t.match(await verifyBundle(bundle, f.caCertPem, { node: '430100', requireWitness: true, witnessed: noReset.heads, witnessBreaks: noReset.breaks }), { ok: false, code: 'ERR_AUDIT_RESET_MISSING' }, 'archived heads without their reset record');
      const gap = [{ ...w.breaks[0]!, epoch: 2 }];
      t.match(await verifyBundle(bundle, f.caCertPem, { node: '430100', requireWitness: true, witnessed: w.heads, witnessBreaks: gap }), { ok: false, code: 'ERR_AUDIT_RESET_MISSING' }, 'epochs not contiguous (2 without 1)');
      const tampered = JSON.parse(records.trim().split('\n').at(-1)!) as WitnessReset;
      tampered.abandoned = [];
      t.throws(() => readWitnessFile(JSON.stringify({ ...tampered, reason: 'nothing happened' }) + '\n', [f.caCertPem]), { code: 'ERR_AUDIT_COSIGNATURE' }, 'an edited reset record');
    });
  });
}
