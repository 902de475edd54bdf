/**
 * Audit logs on SM (issue 21 item 4): the hash algorithm is fixed when the log is created
 * (audit_meta), SM3 for the chain and the Merkle tree, SM2-with-SM3 for checkpoints and
 * cosignatures; a mixed log is refused (ERR_AUDIT_ALGORITHM_MIXED); `credit audit verify`, the
 * proofs and the independent verifier cover it; the checkpoint signature verifies with
 * `openssl pkeyutl -verify -rawin -digest sm3 -pkeyopt distid:1234567812345678`.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { main } from '../../scripts/cli.js';
import { createSm2Ca, issueSm2NodeIdentity } from '../../certs/sm2-x509.js';
import { cosignCheckpoint, exportBundle, migrateAudit, openAuditLog, proveConsistency, proveInclusion, storeCosignature, toNdjson, verifyBundle, verifyProof, type AuditEvent } from '../../audit/index.js';
import { certFacts, signText, verifyText } from '../../audit/crypto.js';
import { checkpointText, fromRow, hashEntry, leafInput, type EntryRow } from '../../audit/entry.js';
import { merkleRoot } from '../../audit/merkle.js';
import { readHashAlg } from '../../audit/log-meta.js';
import { engines } from '../helpers/db.js';
import { issue, makeCa } from '../helpers/pki.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'sm-audit-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const f = (n: string) => join(dir, n);
const verifierFile = new URL('./independent-verifier.mjs', import.meta.url).pathname;

const smCa = createSm2Ca({ cn: 'Hunan SM2 CA (test)' });
const smNode = issueSm2NodeIdentity(smCa.issuer, '430100');
const smHub = issueSm2NodeIdentity(smCa.issuer, '430000');
const rsaCa = makeCa();
const rsaNode = issue(rsaCa, '430100');
const rsaHub = issue(rsaCa, '430000');
// Another SM2 root with the same name: a forged certificate for 430100
const forgerCa = createSm2Ca({ cn: 'Hunan SM2 CA (test)' });
const forgedNode = issueSm2NodeIdentity(forgerCa.issuer, '430100');
writeFileSync(f('sm-ca.pem'), smCa.certPem);
writeFileSync(f('both-ca.pem'), smCa.certPem + rsaCa.certPem);

const smSigner = { nodeId: '430100', keyPem: smNode.keyPem, certPem: smNode.certPem };
const rsaSigner = { nodeId: '430100', keyPem: rsaNode.keyPem, certPem: rsaNode.certPem };
const ev = (i: number): AuditEvent => ({ actor: `user:u${i % 3}`, actorNode: '430100', action: 'record.read', object: `rec-${i}`, outcome: 'success', reason: '审计 inspection' });
const sm3 = (b: string | Buffer) => createHash('sm3').update(b).digest();

const codeOf = async (p: Promise<unknown>) => p.then(() => 'no error', (e: { code?: string }) => e.code ?? String(e));

for (const engine of await engines()) {
  t.test(engine.name, async (t) => {
    const { db, close } = await engine.open();
    t.teardown(close);
    await migrateAudit(db);

    t.test('a log created with sm3: SM3 leaves and tree, SM2 checkpoints; the setting is recorded and kept', async (t) => {
      t.equal(await codeOf(openAuditLog(db, { hashAlg: 'sm3', signer: rsaSigner, checkpointIntervalMs: 0 })), 'ERR_AUDIT_ALGORITHM_MIXED', 'an RSA signer for an SM log is refused');
      const log = await openAuditLog(db, { hashAlg: 'sm3', signer: smSigner, checkpointIntervalMs: 0 });
      for (let i = 1; i <= 5; i++) await log.record(ev(i));
      const cp = (await log.checkpoint())!;
      t.equal(await readHashAlg(db), 'sm3');
      const rows = ((await db('audit_log').orderBy('seq')) as EntryRow[]).map(fromRow);
      for (const e of rows) {
        const { leafHash, ...fields } = e;
        t.equal(leafHash, sm3(Buffer.concat([Buffer.from([0]), Buffer.from(leafInput(fields), 'utf8')])).toString('hex'), `leaf ${e.seq} = SM3(0x00 ‖ canonical JSON)`);
        t.equal(hashEntry(fields, 'sm3'), leafHash);
      }
      const leaves = rows.map((e) => Buffer.from(e.leafHash, 'hex'));
      t.equal(cp.rootHash, merkleRoot(leaves, 'sm3').toString('hex'), 'root is the SM3 Merkle tree');
      t.not(cp.rootHash, merkleRoot(leaves).toString('hex'));
      t.ok(verifyText(smNode.certPem, checkpointText(cp, 'sm3'), cp.signature), 'SM2 signature over the checkpoint text with "hash":"sm3"');
      t.notOk(verifyText(smNode.certPem, checkpointText(cp), cp.signature), 'not valid as a SHA-256 checkpoint');
      t.throws(() => log.setSigner(rsaSigner), { code: 'ERR_AUDIT_ALGORITHM_MIXED' }, 'renewal onto an RSA key refused');
      await log.close();

      t.equal(await codeOf(openAuditLog(db, { hashAlg: 'sha256', checkpointIntervalMs: 0 })), 'ERR_AUDIT_ALGORITHM_MIXED', 'reopened as sha256: refused');
      const again = await openAuditLog(db, { checkpointIntervalMs: 0 });
      await again.record(ev(6));
      await again.close();
      const last = fromRow((await db('audit_log').where({ seq: 6 }).first()) as EntryRow);
      const { leafHash, ...fields } = last;
      t.equal(hashEntry(fields, 'sm3'), leafHash, 'opened without the option, the log goes on in SM3');
      await t.rejects(db.raw("UPDATE audit_meta SET value = 'sha256'"), /append-only/, 'the setting cannot be changed');
      await t.rejects(db.raw('DELETE FROM audit_meta'), /append-only/, 'nor deleted');
    });

    t.test('export, credit audit verify, proofs, SM2 cosignatures, openssl and the independent verifier', async (t) => {
      const log = await openAuditLog(db, { hashAlg: 'sm3', signer: smSigner, checkpointIntervalMs: 0 });
      for (let i = 7; i <= 9; i++) await log.record(ev(i));
      const cp = (await log.checkpoint())!;
      t.ok(await storeCosignature(db, cosignCheckpoint(cp, { keyPem: smHub.keyPem, certPem: smHub.certPem }, new Date()), { caCertPem: smCa.certPem }), 'SM2 cosignature by the hub stored');
      await log.close();

      const bundle = toNdjson((await exportBundle(db)).lines);
      const header = JSON.parse(bundle.split('\n')[0]!) as Record<string, unknown>;
      t.equal(header.hash, 'sm3', 'the bundle header says sm3');
      const report = await verifyBundle(bundle, smCa.certPem, { requireWitness: true });
      t.match(report, { ok: true, entries: 9, cosignatures: 1 });
      writeFileSync(f(`${engine.name}-sm.ndjson`), bundle);
      const out: string[] = [];
      const code = await main(['audit', 'verify', f(`${engine.name}-sm.ndjson`), '--ca', f('sm-ca.pem'), '--node', '430100'], { stdout: (s) => void out.push(s), stderr: (s) => void out.push(s) });
      t.equal(code, 0, `credit audit verify: ${out.join('').trim()}`);
      const theirs = await run(process.execPath, [verifierFile, f(`${engine.name}-sm.ndjson`), f('sm-ca.pem'), '430100']);
      t.match(theirs.stdout, /^OK 9/, 'the independent verifier (openssl for SM2) agrees');

      // openssl checks the checkpoint signature by itself
      const stored = (await db('audit_checkpoints').where({ tree_size: 9 }).first()) as { signature: string };
      writeFileSync(f('cp.txt'), checkpointText(cp, 'sm3'));
      writeFileSync(f('cp.sig'), Buffer.from(stored.signature, 'base64'));
      writeFileSync(f('node-sm2.pem'), smNode.certPem);
      await run('openssl', ['x509', '-in', f('node-sm2.pem'), '-pubkey', '-noout', '-out', f('node-sm2.pub')]);
      const ok = await run('openssl', ['pkeyutl', '-verify', '-pubin', '-inkey', f('node-sm2.pub'), '-rawin', '-digest', 'sm3', '-pkeyopt', 'distid:1234567812345678', '-in', f('cp.txt'), '-sigfile', f('cp.sig')]);
      t.match(ok.stdout, /Signature Verified Successfully/, 'openssl pkeyutl -verify -rawin -digest sm3 -pkeyopt distid:1234567812345678');
      writeFileSync(f('cp-bad.txt'), checkpointText({ ...cp, treeSize: 8 }, 'sm3'));
      await t.rejects(run('openssl', ['pkeyutl', '-verify', '-pubin', '-inkey', f('node-sm2.pub'), '-rawin', '-digest', 'sm3', '-pkeyopt', 'distid:1234567812345678', '-in', f('cp-bad.txt'), '-sigfile', f('cp.sig')]), 'openssl refuses another text');

      const inc = await proveInclusion(db, 4);
      t.equal(inc.hash, 'sm3');
      t.match(verifyProof(inc, [smCa.certPem]), { type: 'inclusion', signedSizes: [9] });
      const con = await proveConsistency(db, 5, 9);
      t.match(verifyProof(con, [smCa.certPem]), { type: 'consistency', signedSizes: [5, 9] });
      const { hash: _h, ...asSha } = con;
      t.throws(() => verifyProof(asSha, [smCa.certPem]), { code: 'ERR_AUDIT_PROOF_INVALID' }, 'the same proof read as SHA-256 fails');
    });
  });
}

t.test('a SHA-256 log with entries cannot be continued on SM; a new store can', async (t) => {
  const { db, close } = await (await engines())[0]!.open();
  t.teardown(close);
  await migrateAudit(db);
  const log = await openAuditLog(db, { signer: rsaSigner, checkpointIntervalMs: 0 });
  await log.record(ev(1));
  await log.close();
  t.equal(await codeOf(openAuditLog(db, { hashAlg: 'sm3', signer: smSigner, checkpointIntervalMs: 0 })), 'ERR_AUDIT_ALGORITHM_MIXED');
  t.equal(await readHashAlg(db), 'sha256', 'recorded as what it always was');
  t.equal(await codeOf(openAuditLog(db, { signer: smSigner, checkpointIntervalMs: 0 })), 'ERR_AUDIT_ALGORITHM_MIXED', 'an SM2 signer for a SHA-256 log is refused');
});

t.test('hostile SM bundles: each refused with its code, by both verifiers', async (t) => {
  const { db, close } = await (await engines())[0]!.open();
  t.teardown(close);
  await migrateAudit(db);
  const log = await openAuditLog(db, { hashAlg: 'sm3', signer: smSigner, checkpointIntervalMs: 0 });
  for (let i = 1; i <= 6; i++) {
    await log.record(ev(i));
    if (i % 3 === 0) await storeCosignature(db, cosignCheckpoint((await log.checkpoint())!, { keyPem: smHub.keyPem, certPem: smHub.certPem }, new Date()), { caCertPem: smCa.certPem });
  }
  await log.close();
  const good = toNdjson((await exportBundle(db)).lines);
  const objs = () => good.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  const text = (os: Record<string, unknown>[]) => os.map((o) => JSON.stringify(o)).join('\n') + '\n';
  const resignWith = (who: { keyPem: string; certPem: string }, alg: 'sm3' | 'sha256') => {
    const os = objs();
    const fp = certFacts(who.certPem).fingerprint;
    const out = os.map((o) => (o.type === 'checkpoint' && o.treeSize === 6 ? { ...o, signature: signText(who.keyPem, checkpointText(o as never, alg)), signerFingerprint: fp } : o));
    out.splice(1, 0, { type: 'cert', role: 'signer', fingerprint: fp, pem: who.certPem });
    return text(out);
  };
  const cases: Record<string, { bundle: string; code: string; theirs: string }> = {
    'header hash removed (read as SHA-256)': { bundle: text(objs().map((o) => (o.type === 'header' ? { ...o, hash: undefined } : o))), code: 'ERR_AUDIT_ENTRY_MODIFIED', theirs: 'ENTRY_MODIFIED' },
    'entry edited': { bundle: text(objs().map((o) => (o.seq === 2 ? { ...o, object: 'rec-x' } : o))), code: 'ERR_AUDIT_ENTRY_MODIFIED', theirs: 'ENTRY_MODIFIED' },
    'checkpoint re-signed with an RSA key of the same node (mixed)': { bundle: resignWith(rsaNode, 'sha256'), code: 'ERR_AUDIT_ALGORITHM_MIXED', theirs: 'ALGORITHM_MIXED' },
    'checkpoint signed by a forged SM2 certificate (another root, same names)': { bundle: resignWith(forgedNode, 'sm3'), code: 'ERR_AUDIT_UNTRUSTED_SIGNER', theirs: 'UNTRUSTED_SIGNER' },
    'cosignature by an RSA hub certificate (mixed)': {
      bundle: (() => {
        const os = objs();
        const c = cosignCheckpoint(os.find((o) => o.type === 'checkpoint' && o.treeSize === 6) as never, { keyPem: rsaHub.keyPem, certPem: rsaHub.certPem }, new Date());
        const { certPem: _p, ...line } = c;
        const out = os.map((o) => (o.type === 'cosignature' && o.treeSize === 6 ? line : o));
        out.splice(1, 0, { type: 'cert', role: 'witness', fingerprint: c.signerFingerprint, pem: rsaHub.certPem });
        return text(out as Record<string, unknown>[]);
      })(),
      code: 'ERR_AUDIT_ALGORITHM_MIXED',
      theirs: 'ALGORITHM_MIXED',
    },
  };
  for (const [name, c] of Object.entries(cases)) {
    const r = await verifyBundle(c.bundle, [smCa.certPem, rsaCa.certPem]);
    t.equal(r.code, c.code, `${name}: ${r.reason}`);
    writeFileSync(f('case.ndjson'), c.bundle);
    const theirs = await run(process.execPath, [verifierFile, f('case.ndjson'), f('both-ca.pem'), '430100']).then((x) => x.stdout, (e: { stdout: string }) => e.stdout);
    t.match(theirs, new RegExp(`^FAIL ${c.theirs}`), `${name}: independent verifier ${theirs.trim()}`);
  }
  const sha = await verifyBundle(good.replace('"hash":"sm3",', '').replace(',"hash":"sm3"', ''), smCa.certPem);
  t.equal(sha.ok, false, 'the bundle without its hash member does not verify');
  const bogus = await verifyBundle(good.replace('"hash":"sm3"', '"hash":"md5"'), smCa.certPem);
  t.equal(bogus.code, 'ERR_AUDIT_BUNDLE_MALFORMED', 'an unknown hash is malformed');
});

t.test("docs/audit-format.md §12's SM vectors are the code's", async (t) => {
  const { readFileSync } = await import('node:fs');
  const doc = readFileSync(new URL('../../docs/audit-format.md', import.meta.url), 'utf8');
  const inputs = [...doc.matchAll(/^sm3 leaf input \d: (\{.*\})$/gm)].map((m) => m[1]!);
  const hashes = [...doc.matchAll(/^sm3 leaf hash \d:\s+([0-9a-f]{64})$/gm)].map((m) => m[1]!);
  t.equal(inputs.length, 3);
  inputs.forEach((text, i) => {
    const fields = JSON.parse(text) as Parameters<typeof hashEntry>[0];
    t.equal(leafInput(fields), text, `leaf input ${i + 1} is canonical`);
    t.equal(hashEntry(fields, 'sm3'), hashes[i], `SM3 leaf hash ${i + 1}`);
    t.equal(fields.prevHash, i === 0 ? '0'.repeat(64) : hashes[i - 1], 'chained');
  });
  const leaves = hashes.map((h) => Buffer.from(h, 'hex'));
  t.match(doc, new RegExp(`sm3 root of tree size 2: ${merkleRoot(leaves.slice(0, 2), 'sm3').toString('hex')}`));
  const root = merkleRoot(leaves, 'sm3').toString('hex');
  t.match(doc, new RegExp(`sm3 root of tree size 3: ${root}`));
  t.ok(doc.includes(checkpointText({ treeSize: 3, rootHash: root, time: '2026-06-01T08:04:00.000Z', nodeId: '430100' }, 'sm3')), 'SM checkpoint text');
});
