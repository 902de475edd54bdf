/**
 * Witnessing (audit/witness.ts) on both engines with real logs, keys and certificates: the node
 * builds its payload (witnessPayload), the hub checks it (checkWitness) and cosigns; a log that
 * only grew is accepted, a rewritten (forked), shortened or unproven one is refused with
 * ERR_AUDIT_INCONSISTENT, bad signatures and certificates with their codes. Also the node's
 * renewal path (setSigner) and cosignature storage (storeCosignature, latestCosignature).
 */
import t from 'tap';
import type { Knex } from 'knex';
import { engines } from '../helpers/db.js';
import { issue, makeCa } from '../helpers/pki.js';
import { caTrust } from '../../protocol/ca-trust.js';
import type { CheckpointPayload } from '../../protocol/exchange.js';
import {
  checkWitness, cosignCheckpoint, latestCosignature, migrateAudit, openAuditLog, proveConsistency, storeCosignature, witnessPayload,
  type AuditLog, type AuditSigner, type Cosignature,
} from '../../audit/index.js';

const ca = makeCa();
const hub = issue(ca, '430000');
const node = issue(ca, '430100');
const renewed = issue(ca, '430100');
const neighbour = issue(ca, '430200');
const otherCa = makeCa('Other CA (test)');
const trust = caTrust({ caCertPems: [ca.certPem] });
const signerOf = (id: { nodeId: string; keyPem: string; certPem: string }): AuditSigner => ({ nodeId: id.nodeId, keyPem: id.keyPem, certPem: id.certPem });
const T0 = Date.now();
/** Each log gets the same clock, so two logs fed the same events hold identical entries. */
const clock = () => {
  let ms = T0;
  return () => new Date((ms += 1000));
};
const ev = (i: number, who = 'alice') => ({ actor: `user:${who}`, actorNode: '430100', action: 'record.read', object: `rec-${i}`, outcome: 'success' as const });
const none = { treeSize: 0, rootHash: null };

async function openLog(db: Knex, signer: AuditSigner): Promise<AuditLog> {
  await migrateAudit(db);
  return openAuditLog(db, { signer, checkpointEvery: 1000, checkpointIntervalMs: 0, now: clock() });
}

for (const engine of await engines()) {
  t.test(engine.name, async (t) => {
    const a = await engine.open();
    const b = await engine.open();
    const logA = await openLog(a.db, signerOf(node));
    const logB = await openLog(b.db, signerOf(node));
    t.teardown(async () => {
      await logB.close();
      await a.close();
      await b.close();
    });
    // A: 10 entries. B: the same first 5, then a different 6th and four more (a rewritten history).
    for (let i = 1; i <= 10; i++) await logA.record(ev(i));
    for (let i = 1; i <= 10; i++) await logB.record(ev(i, i === 6 ? 'mallory' : 'alice'));

    const first = await witnessPayload(a.db, logA, none);
    t.equal(first.proof, undefined, 'no proof for the first checkpoint');
    t.same([first.checkpoint.treeSize, first.checkpoint.nodeId], [10, '430100']);
    const head10 = checkWitness({ nodeId: '430100', prev: null, payload: first, trust });
    t.same(head10, { treeSize: 10, rootHash: first.checkpoint.rootHash });
    const co10 = cosignCheckpoint(first.checkpoint, hub, new Date());

    t.test('the node stores the cosignature once; latestCosignature returns it', async (t) => {
      t.equal(await latestCosignature(a.db), null);
      t.equal(await storeCosignature(a.db, co10, { caCertPem: ca.certPem }), true);
      t.equal(await storeCosignature(a.db, co10), false, 'idempotent');
      t.same(await latestCosignature(a.db), co10);
      await t.rejects(a.db.raw("UPDATE audit_cosignatures SET root_hash = 'x'"), /append-only/);
      await t.rejects(a.db('audit_cosignatures').del(), /append-only/);
    });

    t.test('storing a cosignature of another log, another size or a tampered one → ERR_AUDIT_COSIGNATURE', async (t) => {
      const fromB = await witnessPayload(b.db, logB, none);
      const coB = cosignCheckpoint(fromB.checkpoint, hub, new Date());
      t.not(coB.rootHash, co10.rootHash, 'B differs from A at size 10');
      await t.rejects(storeCosignature(a.db, { ...coB, treeSize: 10 }), { code: 'ERR_AUDIT_COSIGNATURE' }, 'tampered');
      await t.rejects(storeCosignature(a.db, coB), { code: 'ERR_AUDIT_COSIGNATURE', message: /states root/ }, 'genuine, but of the forked log');
      await t.rejects(storeCosignature(a.db, cosignCheckpoint({ ...first.checkpoint, treeSize: 7 }, hub, new Date())), { code: 'ERR_AUDIT_COSIGNATURE', message: /no checkpoint is stored at tree size 7/ });
      await t.rejects(storeCosignature(a.db, cosignCheckpoint(first.checkpoint, issue(otherCa, '430000'), new Date()), { caCertPem: ca.certPem }), { code: 'ERR_AUDIT_UNTRUSTED_SIGNER' });
    });

    t.test('a log that only grew is accepted with a consistency proof from the cosigned head', async (t) => {
      for (let i = 11; i <= 17; i++) await logA.record(ev(i));
      const p = await witnessPayload(a.db, logA, { treeSize: 10, rootHash: head10.rootHash });
      t.match(p.proof, { from: 10, fromRoot: head10.rootHash });
      const head17 = checkWitness({ nodeId: '430100', prev: head10, payload: p, trust });
      t.equal(head17.treeSize, 17);
      t.ok(await storeCosignature(a.db, cosignCheckpoint(p.checkpoint, hub, new Date())));
      t.equal((await latestCosignature(a.db))?.treeSize, 17);
      const again = await witnessPayload(a.db, logA, { treeSize: 17, rootHash: head17.rootHash });
      t.same(checkWitness({ nodeId: '430100', prev: head17, payload: again, trust }), head17, 'nothing new: the same head again');
      t.same(checkWitness({ nodeId: '430100', prev: { treeSize: 0, rootHash: null }, payload: again, trust }), head17, 'hub state 0 = first');
    });

    t.test('a rewritten log is refused: ERR_AUDIT_INCONSISTENT', async (t) => {
      const same = await witnessPayload(b.db, logB, none); // B at 10, another root
      t.throws(() => checkWitness({ nodeId: '430100', prev: head10, payload: same, trust }), { code: 'ERR_AUDIT_INCONSISTENT', details: { kind: 'forked' } }, 'same size, other root');
      for (let i = 11; i <= 15; i++) await logB.record(ev(i));
      const grown = await witnessPayload(b.db, logB, none);
      const own = await proveConsistency(b.db, 10, 15);
      const honest: CheckpointPayload = { ...grown, proof: { from: 10, fromRoot: own.fromRoot, proof: own.proof } };
      t.throws(() => checkWitness({ nodeId: '430100', prev: head10, payload: honest, trust }), { code: 'ERR_AUDIT_INCONSISTENT', details: { kind: 'proof-stale' } }, 'B proves from its own root at 10');
      const lying: CheckpointPayload = { ...grown, proof: { from: 10, fromRoot: head10.rootHash, proof: own.proof } };
      t.throws(() => checkWitness({ nodeId: '430100', prev: head10, payload: lying, trust }), { code: 'ERR_AUDIT_INCONSISTENT', details: { kind: 'proof-invalid' }, message: /rewritten or forked/ }, 'B claims the cosigned root');
      t.throws(() => checkWitness({ nodeId: '430100', prev: head10, payload: grown, trust }), { code: 'ERR_AUDIT_INCONSISTENT', details: { kind: 'proof-missing' } }, 'no proof at all');
      t.throws(() => checkWitness({ nodeId: '430100', prev: head10, payload: { ...lying, proof: { ...lying.proof!, from: 9 } }, trust }), { code: 'ERR_AUDIT_INCONSISTENT', details: { kind: 'proof-stale' } });
      t.throws(() => checkWitness({ nodeId: '430100', prev: { treeSize: 17, rootHash: 'ab'.repeat(32) }, payload: grown, trust }), { code: 'ERR_AUDIT_INCONSISTENT', details: { kind: 'smaller' } }, 'a smaller tree');
      await t.rejects(witnessPayload(b.db, logB, head10), { code: 'ERR_AUDIT_INCONSISTENT', details: { kind: 'forked' } }, 'the node notices itself');
      await t.rejects(witnessPayload(b.db, logB, { treeSize: 99, rootHash: head10.rootHash }), { code: 'ERR_AUDIT_INCONSISTENT', details: { kind: 'smaller' } });
    });

    t.test('checkpoint signatures and certificates', async (t) => {
      const p = await witnessPayload(a.db, logA, none);
      const check = (payload: CheckpointPayload, nodeId = '430100', tp = trust) => () => checkWitness({ nodeId, prev: null, payload, trust: tp });
      t.throws(check({ ...p, checkpoint: { ...p.checkpoint, rootHash: 'ab'.repeat(32) } }), { code: 'ERR_AUDIT_CHECKPOINT_SIGNATURE' }, 'root changed');
      t.throws(check({ ...p, checkpoint: { ...p.checkpoint, time: 'yesterday' } }), { code: 'ERR_AUDIT_CHECKPOINT_SIGNATURE' });
      t.throws(check({ ...p, signerCertPem: renewed.certPem }), { code: 'ERR_AUDIT_CHECKPOINT_SIGNATURE' }, 'another certificate of the same node');
      t.throws(check({ ...p, signerCertPem: 'garbage' }), { code: 'ERR_AUDIT_UNTRUSTED_SIGNER' });
      t.throws(check(p, '430200'), { code: 'ERR_AUDIT_UNTRUSTED_SIGNER', message: /node 430200 sent a checkpoint of node 430100/ }, 'sent by another node');
      t.throws(check({ ...p, checkpoint: { ...p.checkpoint, signerFingerprint: 'ab'.repeat(32) } }), { code: 'ERR_AUDIT_UNTRUSTED_SIGNER' }, 'names another certificate');
      const revoked = caTrust({ caCertPems: [ca.certPem], isRevoked: (s) => s === node.serial });
      t.throws(check(p, '430100', revoked), { code: 'ERR_AUDIT_UNTRUSTED_SIGNER', details: { cause: 'ERR_CERT_REVOKED' } });
      t.throws(check(p, '430100', caTrust({ caCertPems: [otherCa.certPem] })), { code: 'ERR_AUDIT_UNTRUSTED_SIGNER', details: { cause: 'ERR_CERT_UNTRUSTED' } });
      // A neighbour's genuine checkpoint passed off as 430100's.
      const n = await engine.open();
      t.teardown(() => n.close());
      const logN = await openLog(n.db, signerOf(neighbour));
      await logN.record(ev(1));
      t.throws(check(await witnessPayload(n.db, logN, none)), { code: 'ERR_AUDIT_UNTRUSTED_SIGNER' });
      await logN.close();
    });

    t.test('after a renewal (setSigner) the node sends a checkpoint signed by the new key', async (t) => {
      const before = await logA.latestCheckpoint();
      t.throws(() => logA.setSigner({ ...signerOf(renewed), keyPem: node.keyPem }), { code: 'ERR_AUDIT_SIGNER_INVALID' }, 'key of the old certificate');
      t.throws(() => logA.setSigner(signerOf(neighbour)), { code: 'ERR_AUDIT_SIGNER_INVALID' }, 'another node');
      logA.setSigner(signerOf(renewed));
      const prev = { treeSize: before!.treeSize, rootHash: before!.rootHash };
      const p = await witnessPayload(a.db, logA, prev);
      t.equal(p.signerCertPem, renewed.certPem);
      t.equal(p.checkpoint.treeSize, before!.treeSize + 1, 'an audit.signer entry was recorded and signed');
      t.match(checkWitness({ nodeId: '430100', prev, payload: p, trust }), { treeSize: before!.treeSize + 1 });
      const c: Cosignature = cosignCheckpoint(p.checkpoint, hub, new Date());
      t.ok(await storeCosignature(a.db, c, { caCertPem: ca.certPem }));
      await logA.close();
      t.throws(() => logA.setSigner(signerOf(renewed)), { code: 'ERR_AUDIT_CLOSED' });
    });

    t.test('an empty log or one without a signer has nothing to send: ERR_AUDIT_NO_CHECKPOINT', async (t) => {
      const e = await engine.open();
      t.teardown(() => e.close());
      await migrateAudit(e.db);
      const unsigned = await openAuditLog(e.db, { checkpointIntervalMs: 0 });
      await t.rejects(witnessPayload(e.db, unsigned, none), { code: 'ERR_AUDIT_NO_CHECKPOINT' });
      unsigned.setSigner(signerOf(node));
      t.equal(unsigned.signerFingerprint()?.length, 64);
      await t.rejects(witnessPayload(e.db, unsigned, none), { code: 'ERR_AUDIT_NO_CHECKPOINT', message: /empty/ });
      await unsigned.close();
    });
  });
}
