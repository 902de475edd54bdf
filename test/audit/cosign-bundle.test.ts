/**
 * Cosignatures in export bundles, on both engines: exportBundle puts each stored hub cosignature
 * right after the checkpoint it cosigns and the hub certificate as a `cert` line (role witness);
 * verifyBundle checks every one (report: cosignatures, latestCosignedAt). Tampered, misplaced,
 * orphaned, certificate-less and foreign-CA cosignatures fail with their codes.
 */
import t from 'tap';
import { engines } from '../helpers/db.js';
import { issue, makeCa } from '../helpers/pki.js';
import { caTrust } from '../../protocol/ca-trust.js';
import {
  checkWitness, cosignCheckpoint, exportBundle, migrateAudit, openAuditLog, storeCosignature, summaryLine, toNdjson, verifyBundle, witnessPayload,
  type BundleLine,
} from '../../audit/index.js';

const ca = makeCa();
const hub = issue(ca, '430000');
const node = issue(ca, '430100');
const foreignHub = issue(makeCa('Other CA (test)'), '430000');
const trust = caTrust({ caCertPems: [ca.certPem] });
const signer = { nodeId: '430100', keyPem: node.keyPem, certPem: node.certPem };
const types = (lines: BundleLine[]) => lines.map((l) => (l.type === 'entry' ? `e${l.seq}` : l.type === 'checkpoint' ? `c${l.treeSize}` : l.type === 'cosignature' ? `w${l.treeSize}` : l.type === 'cert' ? `cert:${l.role}` : l.type));
const join = (ls: string[]) => ls.join('\n') + '\n';

for (const engine of await engines()) {
  t.test(engine.name, async (t) => {
    const { db, close } = await engine.open();
    t.teardown(close);
    await migrateAudit(db);
    const log = await openAuditLog(db, { signer, checkpointEvery: 1000, checkpointIntervalMs: 0 });
    // The node witnesses twice: at 5 and at 10 (the hub checks and cosigns each time).
    let hubHead: { treeSize: number; rootHash: string | null } = { treeSize: 0, rootHash: null };
    const cosignedAt: string[] = [];
    for (const upTo of [5, 10]) {
      for (let i = hubHead.treeSize + 1; i <= upTo; i++) await log.record({ actor: 'user:alice', action: 'record.read', object: `r${i}`, outcome: 'success' });
      const payload = await witnessPayload(db, log, hubHead);
      hubHead = checkWitness({ nodeId: '430100', prev: hubHead, payload, trust });
      const c = cosignCheckpoint(payload.checkpoint, hub, new Date(Date.now() + upTo));
      cosignedAt.push(c.cosignedAt);
      await storeCosignature(db, c, { caCertPem: ca.certPem });
    }
    for (let i = 11; i <= 12; i++) await log.record({ actor: 'user:bob', action: 'record.read', object: `r${i}`, outcome: 'success' });
    const full = await exportBundle(db, { signer });
    const base = toNdjson(full.lines).trimEnd().split('\n');
    const cosigLine = (size: number) => base.findIndex((l) => l.startsWith('{"type":"cosignature"') && JSON.parse(l).treeSize === size);

    t.test('each cosignature follows its checkpoint; the hub certificate is a witness cert line; all verify', async (t) => {
      const seq = types(full.lines);
      t.same(seq.slice(0, 3), ['header', 'cert:signer', 'cert:witness']);
      t.equal(seq.indexOf('w5'), seq.indexOf('c5') + 1);
      t.equal(seq.indexOf('w10'), seq.indexOf('c10') + 1);
      t.equal(seq.at(-1), 'c12', 'still ends with the final checkpoint');
      t.equal(full.cosignatures, 2);
      t.notOk(base[cosigLine(5)]!.includes('BEGIN CERTIFICATE'), 'cosignature lines carry no certificate');
      const r = await verifyBundle(join(base), ca.certPem);
      t.match(r, { ok: true, entries: 12, checkpoints: 3, cosignatures: 2, latestCosignedAt: cosignedAt[1], cosignedTreeSize: 10 });
      t.match(summaryLine(r), new RegExp(`, 2 cosignatures by the hub verified, latest ${cosignedAt[1]!.replace(/\./g, '\\.')} \\(up to tree size 10\\); WARNING entries 11\.\.12 are not witnessed$`));
      const ranged = await exportBundle(db, { from: 7, to: 12 });
      t.same(types(ranged.lines).filter((x) => x.startsWith('w')), ['w10'], 'a range carries the cosignatures inside it');
      t.match(await verifyBundle(toNdjson(ranged.lines), ca.certPem), { ok: true, cosignatures: 1 });
    });

    t.test('a witnessed export ends at the last cosigned checkpoint and verifies with the witness required', async (t) => {
      const w = await exportBundle(db, { witnessed: true });
      t.same([w.from, w.to, w.requestedTo, w.cosignatures], [1, 10, 12, 2], 'entries 11..12 left out: not witnessed yet');
      t.equal(types(w.lines).at(-1), 'w10', 'ends with the cosigned checkpoint and its cosignature');
      t.match(await verifyBundle(toNdjson(w.lines), ca.certPem, { node: '430100', requireWitness: true }), { ok: true, to: 10, cosignedTreeSize: 10 });
      t.match(await verifyBundle(toNdjson(full.lines), ca.certPem, { node: '430100', requireWitness: true }), { ok: false, code: 'ERR_AUDIT_UNWITNESSED' }, 'the full export is not');
      await t.rejects(exportBundle(db, { from: 11, witnessed: true }), { code: 'ERR_AUDIT_UNWITNESSED' }, 'nothing cosigned in 11..12');
      await t.rejects(exportBundle(db, { witnessed: true, signer }), { code: 'ERR_AUDIT_RANGE' }, 'a witnessed export signs nothing');
    });

    t.test('a tampered cosignature → ERR_AUDIT_COSIGNATURE at its tree size', async (t) => {
      const edit = (size: number, patch: Record<string, unknown>) => {
        const ls = [...base];
        ls[cosigLine(size)] = JSON.stringify({ ...JSON.parse(ls[cosigLine(size)]!), ...patch });
        return verifyBundle(join(ls), ca.certPem);
      };
      t.match(await edit(10, { cosignedAt: new Date(Date.now() + 86_400_000).toISOString() }), { ok: false, code: 'ERR_AUDIT_COSIGNATURE', seq: 10, reason: /does not verify/ }, 'time moved');
      t.match(await edit(5, { signature: JSON.parse(base[cosigLine(10)]!).signature }), { code: 'ERR_AUDIT_COSIGNATURE', seq: 5 }, "another cosignature's signature");
      t.match(await edit(10, { rootHash: 'ab'.repeat(32) }), { code: 'ERR_AUDIT_COSIGNATURE', seq: 10, reason: /states root/ }, 'another root');
      t.match(await edit(10, { treeSize: 12 }), { code: 'ERR_AUDIT_COSIGNATURE', seq: 12, reason: /no checkpoint of that size comes before it/ }, 'a size whose checkpoint comes later');
      t.match(await edit(10, { treeSize: 7 }), { code: 'ERR_AUDIT_COSIGNATURE', seq: 7 }, 'a size with no checkpoint in the bundle');
      t.match(await edit(5, { witness: undefined }), { code: 'ERR_AUDIT_COSIGNATURE', reason: /fields/ }, 'a field dropped');
      const ls = [...base];
      ls[cosigLine(5)] = ls[cosigLine(5)]!.slice(0, 40);
      t.match(await verifyBundle(join(ls), ca.certPem), { code: 'ERR_AUDIT_COSIGNATURE', reason: /not valid JSON/ });
      const moved = [...base];
      const [line] = moved.splice(cosigLine(10), 1);
      moved.splice(moved.findIndex((l) => l.startsWith('{"type":"entry","seq":9,')), 0, line!);
      t.match(await verifyBundle(join(moved), ca.certPem), { code: 'ERR_AUDIT_COSIGNATURE', seq: 10 }, 'moved before its checkpoint');
    });

    t.test('the hub certificate missing, or of another CA → ERR_AUDIT_UNTRUSTED_SIGNER', async (t) => {
      const noHub = base.filter((l) => !l.includes('"role":"witness"'));
      t.match(await verifyBundle(join(noHub), ca.certPem), { code: 'ERR_AUDIT_UNTRUSTED_SIGNER', seq: 5, reason: /not in the bundle/ });
      // A "hub" of another CA cosigned 12; the node stored it without checking the chain.
      const c12 = await exportBundle(db, {});
      const last = c12.lines.at(-1)!;
      if (last.type !== 'checkpoint') throw new Error('bundle must end with a checkpoint');
      t.ok(await storeCosignature(db, cosignCheckpoint(last, foreignHub, new Date())));
      const r = await verifyBundle(toNdjson((await exportBundle(db, {})).lines), ca.certPem);
      t.match(r, { ok: false, code: 'ERR_AUDIT_UNTRUSTED_SIGNER', seq: 12, reason: /not issued by the given CA/ });
      await log.close();
    });
  });
}
