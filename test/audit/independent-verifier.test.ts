/**
 * docs/audit-format.md is enough to build a verifier: independent-verifier.mjs (node:crypto only,
 * written from the document, importing nothing from the repo) agrees with `credit audit verify`
 * on a valid bundle and on tampered ones; and the document's test vectors match the code.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { main } from '../../scripts/cli.js';
import { connect } from '../../audit/knex-connect.js';
import { cosignCheckpoint, cosignatureText, exportBundle, migrateAudit, openAuditLog, storeCosignature, toNdjson } from '../../audit/index.js';
import { certFacts, signText } from '../../audit/crypto.js';
import { checkpointText, GENESIS_HASH, hashEntry, leafInput, type AuditEntry } from '../../audit/entry.js';
import { merkleRoot } from '../../audit/merkle.js';
import { issue, makeCa } from '../helpers/pki.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'independent-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const f = (n: string) => join(dir, n);
const doc = readFileSync(new URL('../../docs/audit-format.md', import.meta.url), 'utf8');
const verifierFile = new URL('./independent-verifier.mjs', import.meta.url).pathname;

t.test("the document's test vectors are the code's", async (t) => {
  const inputs = [...doc.matchAll(/^leaf input \d: (\{.*\})$/gm)].map((m) => m[1]!);
  const hashes = [...doc.matchAll(/^leaf hash \d:\s+([0-9a-f]{64})$/gm)].map((m) => m[1]!);
  t.equal(inputs.length, 3);
  inputs.forEach((text, i) => {
    const fields = JSON.parse(text) as Omit<AuditEntry, 'leafHash'>;
    t.equal(leafInput(fields), text, `leaf input ${i + 1} is canonical`);
    t.equal(hashEntry(fields), hashes[i], `leaf hash ${i + 1}`);
    t.equal(fields.prevHash, i === 0 ? GENESIS_HASH : hashes[i - 1], 'chained');
  });
  const leaves = hashes.map((h) => Buffer.from(h, 'hex'));
  t.match(doc, new RegExp(`root of tree size 2: ${merkleRoot(leaves.slice(0, 2)).toString('hex')}`));
  const root = merkleRoot(leaves).toString('hex');
  t.match(doc, new RegExp(`root of tree size 3: ${root}`));
  t.ok(doc.includes(checkpointText({ treeSize: 3, rootHash: root, time: '2026-06-01T08:04:00.000Z', nodeId: '430100' })), 'checkpoint text');
  t.ok(doc.includes(cosignatureText({ nodeId: '430100', treeSize: 3, rootHash: root, checkpointTime: '2026-06-01T08:04:00.000Z', witness: '430000', cosignedAt: '2026-06-01T08:04:05.123Z' })), 'cosignature text');
});

t.test('the independent verifier agrees with credit audit verify, valid and tampered', async (t) => {
  const ca = makeCa();
  const hub = issue(ca, '430000');
  const node = issue(ca, '430100');
  writeFileSync(f('ca.pem'), ca.certPem);
  const db = await connect(f('store.sqlite'));
  await migrateAudit(db);
  const log = await openAuditLog(db, { signer: { nodeId: '430100', keyPem: node.keyPem, certPem: node.certPem }, checkpointIntervalMs: 0 });
  for (let i = 1; i <= 12; i++) {
    await log.record({ actor: 'user:alice', actorNode: '430100', action: 'record.read', object: `rec-${i}`, ...(i % 2 ? { class: 'restricted' as const } : {}), outcome: 'success', reason: 'inspection "quoted" 审计' });
    if (i % 6 === 0) await storeCosignature(db, cosignCheckpoint((await log.checkpoint())!, hub, new Date()), { caCertPem: ca.certPem });
  }
  await log.close();
  const good = toNdjson((await exportBundle(db)).lines);
  await db.destroy();
  const lines = good.trimEnd().split('\n');
  const edit = (pred: (o: Record<string, unknown>) => boolean, change: (o: Record<string, unknown>) => Record<string, unknown> | null) =>
    lines.map((l) => JSON.parse(l) as Record<string, unknown>).flatMap((o) => (pred(o) ? (change(o) ? [change(o)!] : []) : [o])).map((o) => JSON.stringify(o)).join('\n') + '\n';
  const resign = (text: string) => {
    // re-chain and re-sign after the edit, with the node key: what a key holder can do alone.
    let prev = GENESIS_HASH;
    const out: Record<string, unknown>[] = [];
    const leaves: Buffer[] = [];
    for (const o of text.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)) {
      if (o.type === 'entry') {
        const { type: _t, leafHash: _h, ...fields } = o;
        const e = { ...(fields as Omit<AuditEntry, 'leafHash'>), seq: leaves.length + 1, prevHash: prev };
        prev = hashEntry(e);
        leaves.push(Buffer.from(prev, 'hex'));
        out.push({ type: 'entry', ...e, leafHash: prev });
      } else if (o.type === 'header') out.push(o);
      else if (o.type === 'cert') out.push(o);
    }
    const body = { treeSize: leaves.length, rootHash: merkleRoot(leaves).toString('hex'), time: new Date().toISOString(), nodeId: '430100' };
    out[0] = { ...out[0], to: leaves.length, entries: leaves.length };
    out.push({ type: 'checkpoint', ...body, signature: signText(node.keyPem, checkpointText(body)), signerFingerprint: certFacts(node.certPem).fingerprint });
    return out.map((o) => JSON.stringify(o)).join('\n') + '\n';
  };
  const cases: Record<string, string> = {
    valid: good,
    'entry edited': edit((o) => o.seq === 4, (o) => ({ ...o, object: 'rec-x' })),
    'entry edited and re-hashed': edit((o) => o.seq === 4, (o) => {
      const { type: _t, leafHash: _h, ...fields } = { ...o, object: 'rec-x' } as Record<string, unknown>;
      return { ...o, object: 'rec-x', leafHash: hashEntry(fields as Omit<AuditEntry, 'leafHash'>) };
    }),
    'entry deleted': edit((o) => o.seq === 5, () => null),
    'checkpoint signature changed': edit((o) => o.type === 'checkpoint' && o.treeSize === 6, (o) => ({ ...o, time: '2020-01-01T00:00:00.000Z' })),
    'cosignature changed': edit((o) => o.type === 'cosignature' && o.treeSize === 12, (o) => ({ ...o, cosignedAt: '2030-01-01T00:00:00.000Z' })),
    'cosignatures stripped': edit((o) => o.type === 'cosignature', () => null),
    'deleted, re-chained, re-signed with the node key': resign(edit((o) => o.seq === 3 || o.seq === 9, () => null)),
  };
  for (const [name, text] of Object.entries(cases)) {
    writeFileSync(f(`${name}.ndjson`), text);
    const out: string[] = [];
    const code = await main(['audit', 'verify', f(`${name}.ndjson`), '--ca', f('ca.pem'), '--node', '430100'], { stdout: (s) => void out.push(s), stderr: (s) => void out.push(s) });
    const theirs = await run(process.execPath, [verifierFile, f(`${name}.ndjson`), f('ca.pem'), '430100']).then((r) => ({ code: 0, out: r.stdout }), (e: { code: number; stdout: string }) => ({ code: e.code, out: e.stdout }));
    t.equal(theirs.code, code, `${name}: credit audit verify exit ${code} (${out.join('').trim()}), independent verifier exit ${theirs.code} (${theirs.out.trim()})`);
    t.equal(code === 0, name === 'valid', `${name}: ${code === 0 ? 'passes' : 'fails'}`);
  }
  const other = await run(process.execPath, [verifierFile, f('valid.ndjson'), f('ca.pem'), '430700']).catch((e: { code: number; stdout: string }) => e);
  t.match(other, { code: 1, stdout: /FAIL UNTRUSTED_SIGNER/ }, 'another node expected: both fail');
});
