/**
 * The offline verifier against real exports (both engines): an untouched bundle verifies, and the
 * six tampering scenarios of issue 4 are each reported with the exact code and seq.
 */
import t from 'tap';
import type { Knex } from 'knex';
import { engines } from '../helpers/db.js';
import { issue, makeCa, type TestCa, type TestIdentity } from '../helpers/pki.js';
import { exportBundle, migrateAudit, openAuditLog, toNdjson, type AuditEvent } from '../../audit/index.js';
import { certFingerprint, signText } from '../../audit/crypto.js';
import { checkpointText } from '../../audit/entry.js';
import { summaryLine, verifyBundle } from '../../audit/verify-bundle.js';

const ca: TestCa = makeCa();
const node: TestIdentity = issue(ca, '430100');
const otherCa: TestCa = makeCa('Some Other CA (test)');
const foreign: TestIdentity = issue(otherCa, '430100');

const event = (i: number): AuditEvent => ({ actor: `user:u${i % 3}`, actorNode: '430100', action: i % 2 ? 'record.read' : 'record.create', object: `rec-${i}`, class: 'shared', outcome: i % 5 ? 'success' : 'failure', ...(i % 5 ? {} : { reason: 'ERR_ROLE_DENIED' }) });

/** 12 entries, checkpoints at 5, 10 and (on close) 12. */
async function fill(db: Knex, signer: TestIdentity, n = 12): Promise<void> {
  await migrateAudit(db);
  const log = await openAuditLog(db, { signer: { nodeId: signer.nodeId, keyPem: signer.keyPem, certPem: signer.certPem }, checkpointEvery: 5, checkpointIntervalMs: 0 });
  await Promise.all(Array.from({ length: n }, (_, i) => log.record(event(i + 1))));
  await log.close();
}

const lines = (text: string) => text.trimEnd().split('\n');
const join = (ls: string[]) => ls.join('\n') + '\n';
const entryAt = (ls: string[], seq: number) => ls.findIndex((l) => l.startsWith(`{"type":"entry","seq":${seq},`));
const checkpointIdx = (ls: string[]) => ls.flatMap((l, i) => (l.startsWith('{"type":"checkpoint"') ? [i] : []));

for (const engine of await engines()) {
  t.test(`${engine.name}: export, tamper, verify`, async (t) => {
    const store = await engine.open();
    t.teardown(() => store.close());
    await fill(store.db, node);
    const bundle = toNdjson((await exportBundle(store.db)).lines);
    const base = lines(bundle);

    t.test('an untouched bundle verifies, with a one-line summary', async (t) => {
      const r = await verifyBundle(bundle, ca.certPem);
      t.ok(r.ok, r.reason ?? 'ok');
      t.equal(r.entries, 12);
      t.equal(r.checkpoints, 3);
      t.equal(r.signer, '430100');
      t.same([r.from, r.to, r.treeSize], [1, 12, 12]);
      t.match(summaryLine(r), /^OK 12 entries \(seq 1\.\.12\), 3 checkpoints, signer 430100 \(sha256:[0-9a-f]{16}…\), \S+Z \.\. \S+Z/);
      t.notMatch(summaryLine(r), /\n/, 'one line');
    });

    t.test('one character of one entry changed → ERR_AUDIT_ENTRY_MODIFIED at that seq', async (t) => {
      const ls = [...base];
      const i = entryAt(ls, 7);
      ls[i] = ls[i]!.replace('"object":"rec-7"', '"object":"rec-8"');
      const r = await verifyBundle(join(ls), ca.certPem);
      t.same([r.ok, r.code, r.seq], [false, 'ERR_AUDIT_ENTRY_MODIFIED', 7]);
    });

    t.test('one entry line deleted → ERR_AUDIT_GAP at the missing seq', async (t) => {
      const ls = [...base];
      ls.splice(entryAt(ls, 4), 1);
      const r = await verifyBundle(join(ls), ca.certPem);
      t.same([r.ok, r.code, r.seq], [false, 'ERR_AUDIT_GAP', 4]);
    });

    t.test('two entry lines swapped → ERR_AUDIT_REORDERED at the first displaced seq', async (t) => {
      const ls = [...base];
      const a = entryAt(ls, 8);
      const b = entryAt(ls, 9);
      [ls[a], ls[b]] = [ls[b]!, ls[a]!];
      const r = await verifyBundle(join(ls), ca.certPem);
      t.same([r.ok, r.code, r.seq], [false, 'ERR_AUDIT_REORDERED', 8]);
      const far = [...base];
      const c = entryAt(far, 2);
      const d = entryAt(far, 11);
      [far[c], far[d]] = [far[d]!, far[c]!];
      const r2 = await verifyBundle(join(far), ca.certPem);
      t.same([r2.code, r2.seq], ['ERR_AUDIT_REORDERED', 2], 'lines far apart');
    });

    t.test('the tail after a checkpoint dropped → ERR_AUDIT_TRUNCATED at the first lost seq', async (t) => {
      const cps = checkpointIdx(base);
      const cut = base.slice(0, cps.at(-2)! + 1); // keeps entries 1..10 and the checkpoint at 10
      const r = await verifyBundle(join(cut), ca.certPem);
      t.same([r.ok, r.code, r.seq], [false, 'ERR_AUDIT_TRUNCATED', 11]);
      const noFinal = base.slice(0, cps.at(-1)!); // only the final checkpoint line is gone
      const r2 = await verifyBundle(join(noFinal), ca.certPem);
      t.same([r2.code, r2.seq], ['ERR_AUDIT_TRUNCATED', 11], 'entries after the last checkpoint');
      const lastEntry = [...base];
      lastEntry.splice(entryAt(lastEntry, 12), 1);
      const r3 = await verifyBundle(join(lastEntry), ca.certPem);
      t.same([r3.code, r3.seq], ['ERR_AUDIT_TRUNCATED', 12], 'the last entry alone');
    });

    t.test('a checkpoint signature replaced → ERR_AUDIT_CHECKPOINT_SIGNATURE at its tree size', async (t) => {
      const ls = [...base];
      const i = checkpointIdx(ls)[1]!;
      const cp = JSON.parse(ls[i]!) as { signature: string };
      const first = JSON.parse(ls[checkpointIdx(ls)[0]!]!) as { signature: string };
      cp.signature = first.signature; // a real signature, of another checkpoint
      ls[i] = JSON.stringify(cp);
      const r = await verifyBundle(join(ls), ca.certPem);
      t.same([r.ok, r.code, r.seq], [false, 'ERR_AUDIT_CHECKPOINT_SIGNATURE', 10]);
    });

    t.test('a log signed with a key of another CA → ERR_AUDIT_UNTRUSTED_SIGNER', async (t) => {
      const other = await engine.open();
      t.teardown(() => other.close());
      await fill(other.db, foreign);
      const text = toNdjson((await exportBundle(other.db)).lines);
      t.ok((await verifyBundle(text, otherCa.certPem)).ok, 'fine for its own CA');
      const r = await verifyBundle(text, ca.certPem);
      t.same([r.ok, r.code, r.seq], [false, 'ERR_AUDIT_UNTRUSTED_SIGNER', 5]);
      // A forger re-signs our bundle's checkpoints with a foreign key and swaps the certificate.
      const fp = certFingerprint(foreign.certPem);
      const forged = base.map((l) => {
        const o = JSON.parse(l) as Record<string, unknown>;
        if (o.type === 'cert') return JSON.stringify({ ...o, fingerprint: fp, pem: foreign.certPem });
        if (o.type !== 'checkpoint') return l;
        const body = { treeSize: o.treeSize as number, rootHash: o.rootHash as string, time: o.time as string, nodeId: o.nodeId as string };
        return JSON.stringify({ ...o, signature: signText(foreign.keyPem, checkpointText(body)), signerFingerprint: fp });
      });
      const r2 = await verifyBundle(join(forged), ca.certPem);
      t.same([r2.code, r2.seq], ['ERR_AUDIT_UNTRUSTED_SIGNER', 5], 're-signed with a foreign key');
    });
  });
}
