/**
 * Checkpoint witnessing on both engines: a node's real audit log (audit/ with the node's enrolled
 * key) sends signed checkpoints with consistency proofs; the hub cosigns consistent ones, gives the
 * same cosignature for the same head, refuses a forked or unproven log (409 ERR_AUDIT_INCONSISTENT)
 * and a checkpoint of another node (ERR_AUDIT_UNTRUSTED_SIGNER), auditing each outcome.
 */
import t from 'tap';
import { migrateAudit, openAuditLog } from '../../audit/index.js';
import { verifyCosignature, type Cosignature } from '../../audit/cosign.js';
import { witnessPayload } from '../../audit/witness.js';
import type { CheckpointPayload, WitnessState } from '../../protocol/exchange.js';
import { engines, sqliteEngine } from '../helpers/db.js';
import { hubFixture, type HubFixture, type TestNode } from './fixture.js';

async function nodeLog(t: { teardown(fn: () => unknown): void }, node: TestNode, events: number) {
  const store = await sqliteEngine.open();
  await migrateAudit(store.db);
  const log = await openAuditLog(store.db, { signer: { nodeId: node.nodeId, keyPem: node.keyPem, certPem: node.certPem }, checkpointIntervalMs: 0 });
  t.teardown(async () => {
    await log.close();
    await store.close();
  });
  const add = async (n: number) => {
    for (let i = 0; i < n; i++) await log.record({ actor: 'user:alice', actorNode: node.nodeId, action: 'record.create', object: `r${i}`, outcome: 'success' });
  };
  await add(events);
  return { db: store.db, log, add };
}

async function send(f: HubFixture, node: TestNode, payload: CheckpointPayload, via: TestNode = node) {
  return f.call(via.agent, 'POST', '/v1/checkpoints', await f.sealFrom(node, 'checkpoint', payload));
}

for (const engine of await engines()) {
  t.test(`checkpoint witnessing (${engine.name})`, async (t) => {
    const f = await hubFixture(t, { engine });
    const ctx = f.hub.app.hubCtx;
    const cs = await f.enrol('430100', 3);
    const cd = await f.enrol('430700', 1);
    const mine = await nodeLog(t, cs, 5);

    const latest = async (node: TestNode) => (await f.call(node.agent, 'GET', '/v1/checkpoints/latest')).json as WitnessState;

    t.test('first checkpoint, then a consistent extension, are cosigned', async (t) => {
      t.same(await latest(cs), { nodeId: '430100', treeSize: 0, rootHash: null, cosignedAt: null });
      const first = await witnessPayload(mine.db, mine.log, await latest(cs));
      t.equal(first.proof, undefined, 'no proof for the first');
      const r1 = await send(f, cs, first);
      t.equal(r1.status, 200, String(r1.json.code ?? 'cosigned'));
      const c1 = r1.json as Cosignature;
      t.match(c1, { type: 'cosignature', nodeId: '430100', treeSize: first.checkpoint.treeSize, rootHash: first.checkpoint.rootHash, witness: '430000' });
      t.doesNotThrow(() => verifyCosignature(c1, { caCertPem: f.caCertPem, checkpoint: first.checkpoint }), 'verifies against the CA and the checkpoint');
      t.match(await latest(cs), { treeSize: first.checkpoint.treeSize, rootHash: first.checkpoint.rootHash });

      await mine.add(7);
      const next = await witnessPayload(mine.db, mine.log, await latest(cs));
      t.equal(next.proof?.from, first.checkpoint.treeSize, 'a proof from the cosigned head');
      const r2 = await send(f, cs, next);
      t.equal(r2.status, 200, String(r2.json.code ?? 'cosigned'));
      t.equal(r2.json.treeSize, next.checkpoint.treeSize);
      const again = await send(f, cs, next);
      t.equal(again.status, 200, 'the same head in a new envelope');
      t.same(again.json, r2.json, 'gets the stored cosignature');
      const rows = await ctx.db('audit_log').where({ action: 'checkpoint.cosign', outcome: 'success' });
      t.equal(rows.length, 2);
    });

    t.test('a forked or unproven log: 409 ERR_AUDIT_INCONSISTENT, audited', async (t) => {
      const fork = await nodeLog(t, cs, 30);
      const unproven = await witnessPayload(fork.db, fork.log, { treeSize: 0, rootHash: null });
      const r = await send(f, cs, unproven);
      t.equal(r.status, 409);
      t.equal(r.json.code, 'ERR_AUDIT_INCONSISTENT');
      t.equal(r.json.details.kind, 'proof-missing');
      const head = await latest(cs);
      const forged = { ...unproven, proof: { from: head.treeSize, fromRoot: head.rootHash!, proof: ['ab'.repeat(32)] } };
      const r2 = await send(f, cs, forged);
      t.equal(r2.json.code, 'ERR_AUDIT_INCONSISTENT');
      t.equal(r2.json.details.kind, 'proof-invalid');
      t.same(await latest(cs), head, 'nothing cosigned');
      const failures = await ctx.db('audit_log').where({ action: 'checkpoint.cosign', outcome: 'failure' });
      t.equal(failures.length, 2);
      t.match(failures[0].reason, /^ERR_AUDIT_INCONSISTENT/);
    });

    t.test("a checkpoint of another node's log: ERR_AUDIT_UNTRUSTED_SIGNER", async (t) => {
      const theirs = await nodeLog(t, cd, 3);
      const p = await witnessPayload(theirs.db, theirs.log, { treeSize: 0, rootHash: null });
      const r = await send(f, cs, p);
      t.equal(r.status, 403);
      t.equal(r.json.code, 'ERR_AUDIT_UNTRUSTED_SIGNER');
      const own = await send(f, cd, p);
      t.equal(own.status, 200, 'the same checkpoint from its own node is cosigned');
      const bad = await f.call(cs.agent, 'POST', '/v1/checkpoints', await f.sealFrom(cs, 'checkpoint', { checkpoint: { treeSize: 0 } }));
      t.equal(bad.status, 400);
      t.equal(bad.json.code, 'ERR_ENVELOPE_MALFORMED');
    });
  });
}
