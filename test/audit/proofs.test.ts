import t from 'tap';
import { engines } from '../helpers/db.js';
import { issue, makeCa } from '../helpers/pki.js';
import { migrateAudit, openAuditLog, proveConsistency, proveInclusion, verifyProof } from '../../audit/index.js';

const ca = makeCa();
const otherCa = makeCa('Another CA (test)');
const node = issue(ca, '430100');
const signer = { nodeId: '430100', keyPem: node.keyPem, certPem: node.certPem };
const flip = (h: string) => (h[0] === '0' ? '1' : '0') + h.slice(1);

for (const engine of await engines()) {
  t.test(engine.name, async (t) => {
    const { db, close } = await engine.open();
    t.teardown(close);
    await migrateAudit(db);
    const log = await openAuditLog(db, { signer, checkpointEvery: 8, checkpointIntervalMs: 0 });
    for (let i = 0; i < 21; i++) await log.record({ actor: 'user:alice', action: 'record.read', object: `r${i}`, outcome: 'success' });

    t.test('inclusion proofs for every entry up to the latest signed checkpoint verify against it', async (t) => {
      for (let seq = 1; seq <= 16; seq++) {
        const p = await proveInclusion(db, seq);
        const v = verifyProof(JSON.parse(JSON.stringify(p)), [ca.certPem]);
        if (p.treeSize !== 16 || v.signedSizes[0] !== 16) t.fail(`seq ${seq}: size ${p.treeSize}, signed ${v.signedSizes.join()}`);
      }
      const p = await proveInclusion(db, 21);
      t.equal(p.treeSize, 21, 'an entry beyond the last checkpoint is proven against the whole log');
      t.same(verifyProof(p, [ca.certPem]).signedSizes, [], 'without a checkpoint at 21 the root is unsigned');
      t.match(verifyProof(await proveInclusion(db, 3, 8), [ca.certPem]).summary, /entry 3 is included in the tree of 8 entries .*signed/);
    });

    t.test('altered inclusion proofs are ERR_AUDIT_PROOF_INVALID', async (t) => {
      const p = await proveInclusion(db, 5);
      t.throws(() => verifyProof({ ...p, proof: [flip(p.proof[0]!), ...p.proof.slice(1)] }), { code: 'ERR_AUDIT_PROOF_INVALID' }, 'a path hash');
      t.throws(() => verifyProof({ ...p, entry: { ...p.entry, actor: 'user:mallory' } }), { code: 'ERR_AUDIT_PROOF_INVALID' }, 'the entry');
      t.throws(() => verifyProof({ ...p, seq: 6 }), { code: 'ERR_AUDIT_PROOF_INVALID' }, 'the seq');
      t.throws(() => verifyProof({ ...p, rootHash: flip(p.rootHash) }), { code: 'ERR_AUDIT_PROOF_INVALID' }, 'the root (no longer the checkpoint root)');
      t.throws(() => verifyProof({ ...p, checkpoint: { ...p.checkpoint!, signature: p.checkpoint!.signature.replace(/^./, (c) => (c === 'A' ? 'B' : 'A')) } }), { code: 'ERR_AUDIT_PROOF_INVALID' }, 'the checkpoint signature');
      t.throws(() => verifyProof(p, [otherCa.certPem]), { code: 'ERR_AUDIT_PROOF_INVALID' }, 'a signer from another CA');
      t.throws(() => verifyProof({ type: 'nonsense', proof: [] }), { code: 'ERR_AUDIT_PROOF_INVALID' });
      t.throws(() => verifyProof(null), { code: 'ERR_AUDIT_PROOF_INVALID' });
    });

    t.test('consistency proofs between every pair of sizes verify; altered ones do not', async (t) => {
      let n = 0;
      for (let a = 1; a <= 21; a++) {
        for (let b = a; b <= 21; b++) {
          const p = await proveConsistency(db, a, b);
          verifyProof(JSON.parse(JSON.stringify(p)), [ca.certPem]);
          n++;
        }
      }
      t.equal(n, 231, 'all pairs verified');
      const p = await proveConsistency(db, 8, 16);
      t.same(verifyProof(p, [ca.certPem]).signedSizes, [8, 16], 'both roots are signed checkpoints');
      t.throws(() => verifyProof({ ...p, fromRoot: flip(p.fromRoot) }), { code: 'ERR_AUDIT_PROOF_INVALID' });
      t.throws(() => verifyProof({ ...p, proof: p.proof.slice(1) }), { code: 'ERR_AUDIT_PROOF_INVALID' });
    });

    t.test('sizes and seqs outside the log are ERR_AUDIT_RANGE', async (t) => {
      await t.rejects(proveInclusion(db, 0), { code: 'ERR_AUDIT_RANGE' });
      await t.rejects(proveInclusion(db, 22), { code: 'ERR_AUDIT_RANGE' });
      await t.rejects(proveInclusion(db, 5, 99), { code: 'ERR_AUDIT_RANGE' });
      await t.rejects(proveConsistency(db, 5, 4), { code: 'ERR_AUDIT_RANGE' });
      await t.rejects(proveConsistency(db, 5, 30), { code: 'ERR_AUDIT_RANGE' });
    });
    // (no close(): it would sign a checkpoint at 21 while the subtests above still run)
  });
}
