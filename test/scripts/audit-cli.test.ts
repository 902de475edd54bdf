/**
 * `credit audit …` in-process (export, verify, prove, consistency, verify-proof, checkpoint,
 * prune) on a SQLite store, and once as a real process (`node bin/credit.js audit verify`).
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { main } from '../../scripts/cli.js';
import { connect } from '../../audit/knex-connect.js';
import { checkWitness, cosignCheckpoint, migrateAudit, openAuditLog, storeCosignature, witnessPayload } from '../../audit/index.js';
import { caTrust } from '../../protocol/ca-trust.js';
import { issue, makeCa } from '../helpers/pki.js';
import { migrateHub } from '../../hub/migrations.js';
import { migrateNode } from '../../node/migrations.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'audit-cli-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const f = (n: string) => join(dir, n);

const ca = makeCa();
const node = issue(ca, '430100');
const otherCa = makeCa('Other CA (test)');
writeFileSync(f('ca.pem'), ca.certPem);
writeFileSync(f('other-ca.pem'), otherCa.certPem);
writeFileSync(f('node.key'), node.keyPem);
writeFileSync(f('node.pem'), node.certPem);
const dbFile = f('store.sqlite');

async function cli(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { stdout: (s) => void out.push(s), stderr: (s) => void err.push(s) });
  return { code, out: out.join(''), err: err.join('') };
}

// 25 entries written 400 days ago, signed today (a checkpoint at 25), then 5 more not yet signed.
{
  const db = await connect(dbFile);
  await migrateAudit(db);
  const old = new Date(Date.now() - 400 * 86_400_000);
  const a = await openAuditLog(db, { checkpointIntervalMs: 0, now: () => old });
  for (let i = 1; i <= 25; i++) await a.record({ actor: 'user:alice', actorNode: '430100', action: 'record.read', object: `rec-${i}`, class: 'restricted', outcome: 'success', reason: 'inspection' });
  await a.close();
  const b = await openAuditLog(db, { signer: { nodeId: '430100', keyPem: node.keyPem, certPem: node.certPem }, checkpointIntervalMs: 0 });
  await b.close();
  const c = await openAuditLog(db, { checkpointIntervalMs: 0 });
  for (let i = 26; i <= 30; i++) await c.record({ actor: 'user:bob', action: 'access.denied', object: `rec-${i}`, outcome: 'failure', reason: 'ERR_ROLE_DENIED' });
  await c.close();
  await db.destroy();
}

t.test('export without a key ends at the last signed checkpoint; verify prints one summary line', async (t) => {
  const ex = await cli('audit', 'export', '--db', dbFile, '--out', f('b1.ndjson'));
  t.equal(ex.code, 0, ex.err);
  t.match(ex.out, /25 entries \(seq 1\.\.25\)/);
  const v = await cli('audit', 'verify', f('b1.ndjson'), '--node', '430100', '--allow-unwitnessed', '--ca', f('ca.pem'));
  t.equal(v.code, 0, v.err);
  t.match(v.out, /^OK 25 entries \(seq 1\.\.25\), 1 checkpoints, signer 430100 /);
  t.equal(v.out.trimEnd().split('\n').length, 1, 'one line');
});

t.test('export --key --cert signs the newest entries first; --json output', async (t) => {
  const ex = await cli('audit', 'export', '--db', dbFile, '--out', f('b2.ndjson'), '--key', f('node.key'), '--cert', f('node.pem'));
  t.equal(ex.code, 0, ex.err);
  t.match(ex.out, /31 entries \(seq 1\.\.31\)/, 'seq 31 is the audit.export of b1.ndjson');
  const v = await cli('audit', 'verify', f('b2.ndjson'), '--node', '430100', '--allow-unwitnessed', '--ca', f('ca.pem'), '--json');
  t.equal(v.code, 0);
  const r = JSON.parse(v.out) as Record<string, unknown>;
  t.match(r, { ok: true, entries: 31, signer: '430100', from: 1, to: 31 });
  const range = await cli('audit', 'export', '--db', dbFile, '--out', f('b3.ndjson'), '--from', '12', '--to', '25');
  t.equal(range.code, 0, range.err);
  const v3 = await cli('audit', 'verify', f('b3.ndjson'), '--node', '430100', '--allow-unwitnessed', '--ca', f('ca.pem'), '--json');
  t.match(JSON.parse(v3.out), { ok: true, entries: 14, from: 12, to: 25 }, 'a range verifies through its header frontier');
});

t.test('a tampered bundle: exit 1 naming the code and seq (text and --json); another CA', async (t) => {
  const text = readFileSync(f('b2.ndjson'), 'utf8').replace('"object":"rec-17"', '"object":"rec-71"');
  writeFileSync(f('bad.ndjson'), text);
  const v = await cli('audit', 'verify', f('bad.ndjson'), '--node', '430100', '--allow-unwitnessed', '--ca', f('ca.pem'));
  t.equal(v.code, 1);
  t.match(v.err, /^error ERR_AUDIT_ENTRY_MODIFIED: seq 17: /);
  const j = await cli('audit', 'verify', f('bad.ndjson'), '--node', '430100', '--allow-unwitnessed', '--ca', f('ca.pem'), '--json');
  t.equal(j.code, 1);
  t.match(JSON.parse(j.out), { ok: false, code: 'ERR_AUDIT_ENTRY_MODIFIED', seq: 17, entries: 16 });
  const o = await cli('audit', 'verify', f('b2.ndjson'), '--node', '430100', '--allow-unwitnessed', '--ca', f('other-ca.pem'));
  t.equal(o.code, 1);
  t.match(o.err, /ERR_AUDIT_UNTRUSTED_SIGNER: seq 25:/);
});

t.test('prove / consistency produce proofs verify-proof accepts; a changed proof is refused', async (t) => {
  const p = await cli('audit', 'prove', '--db', dbFile, '--seq', '7', '--out', f('incl.json'));
  t.equal(p.code, 0, p.err);
  const proof = JSON.parse(readFileSync(f('incl.json'), 'utf8')) as { seq: number; treeSize: number; proof: string[] };
  t.equal(proof.seq, 7);
  t.equal(proof.treeSize, 31, 'against the latest signed checkpoint');
  const ok = await cli('audit', 'verify-proof', f('incl.json'), '--ca', f('ca.pem'));
  t.equal(ok.code, 0, ok.err);
  t.match(ok.out, /^OK entry 7 is included in the tree of 31 entries/);
  const c = await cli('audit', 'consistency', '--db', dbFile, '--from', '25', '--to', '31');
  t.equal(c.code, 0, c.err);
  writeFileSync(f('cons.json'), c.out);
  const okc = await cli('audit', 'verify-proof', f('cons.json'), '--ca', f('ca.pem'), '--json');
  t.equal(okc.code, 0, okc.err);
  t.match(JSON.parse(okc.out), { ok: true, type: 'consistency', signedSizes: [25, 31] });
  proof.proof[0] = proof.proof[0]!.replace(/^./, (ch) => (ch === '0' ? '1' : '0'));
  writeFileSync(f('incl-bad.json'), JSON.stringify(proof));
  const bad = await cli('audit', 'verify-proof', f('incl-bad.json'), '--json');
  t.equal(bad.code, 1);
  t.match(JSON.parse(bad.out), { ok: false, code: 'ERR_AUDIT_PROOF_INVALID' });
  const foreign = await cli('audit', 'verify-proof', f('cons.json'), '--ca', f('other-ca.pem'));
  t.equal(foreign.code, 1);
  t.match(foreign.err, /ERR_AUDIT_PROOF_INVALID/);
  const range = await cli('audit', 'prove', '--db', dbFile, '--seq', '99');
  t.equal(range.code, 1);
  t.match(range.err, /ERR_AUDIT_RANGE/);
});

t.test('checkpoint, and prune: refused for the last 180 days, then removes the old entries', async (t) => {
  const cp = await cli('audit', 'checkpoint', '--db', dbFile, '--key', f('node.key'), '--cert', f('node.pem'));
  t.equal(cp.code, 0, cp.err);
  t.match(cp.out, /checkpoint at tree size 33/, 'entries 31..33: the three audit.export events');
  const young = new Date(Date.now() - 100 * 86_400_000).toISOString().slice(0, 10);
  const refused = await cli('audit', 'prune', '--db', dbFile, '--before', young);
  t.equal(refused.code, 1);
  t.match(refused.err, /^error ERR_AUDIT_RETENTION: /);
  const old = new Date(Date.now() - 200 * 86_400_000).toISOString().slice(0, 10);
  const done = await cli('audit', 'prune', '--db', dbFile, '--before', old, '--actor', 'user:auditor-1');
  t.equal(done.code, 0, done.err);
  t.match(done.out, /pruned 25 entries \(up to seq 25\)/);
  const ex = await cli('audit', 'export', '--db', dbFile, '--out', f('after.ndjson'), '--key', f('node.key'), '--cert', f('node.pem'));
  t.equal(ex.code, 0, ex.err);
  t.match(ex.out, /9 entries \(seq 26\.\.34\)/, 'the audit.prune event is seq 34');
  const v = await cli('audit', 'verify', f('after.ndjson'), '--node', '430100', '--allow-unwitnessed', '--ca', f('ca.pem'), '--json');
  t.match(JSON.parse(v.out), { ok: true, from: 26, to: 34 });
  const pruned = await cli('audit', 'export', '--db', dbFile, '--out', f('x.ndjson'), '--from', '3');
  t.equal(pruned.code, 1);
  t.match(pruned.err, /ERR_AUDIT_PRUNED/);
});

t.test('hub cosignatures: export carries them, verify checks and reports them, a tampered one exits 1', async (t) => {
  const hub = issue(ca, '430000');
  const file = f('witnessed.sqlite');
  const db = await connect(file);
  try {
    await migrateAudit(db);
    const log = await openAuditLog(db, { signer: { nodeId: '430100', keyPem: node.keyPem, certPem: node.certPem }, checkpointIntervalMs: 0 });
    for (let i = 1; i <= 8; i++) await log.record({ actor: 'user:alice', action: 'record.read', object: `rec-${i}`, outcome: 'success' });
    const payload = await witnessPayload(db, log, { treeSize: 0, rootHash: null });
    checkWitness({ nodeId: '430100', prev: null, payload, trust: caTrust({ caCertPems: [ca.certPem] }) });
    await storeCosignature(db, cosignCheckpoint(payload.checkpoint, hub, new Date()), { caCertPem: ca.certPem });
    await log.close();
  } finally {
    await db.destroy();
  }
  const ex = await cli('audit', 'export', '--db', file, '--out', f('w.ndjson'));
  t.equal(ex.code, 0, ex.err);
  t.match(ex.out, /8 entries \(seq 1\.\.8\), 1 checkpoints, 1 hub cosignatures/);
  const v = await cli('audit', 'verify', f('w.ndjson'), '--ca', f('ca.pem'), '--node', '430100');
  t.equal(v.code, 0, v.err);
  t.match(v.out, /, 1 cosignatures by the hub verified, latest \d{4}-\d\d-\d\dT[\d:.]+Z \(up to tree size 8\)\n$/);
  const j = await cli('audit', 'verify', f('w.ndjson'), '--ca', f('ca.pem'), '--node', '430100', '--json');
  t.match(JSON.parse(j.out), { ok: true, cosignatures: 1, cosignedTreeSize: 8 });
  const bad = readFileSync(f('w.ndjson'), 'utf8').replace(/("type":"cosignature".*"cosignedAt":")(\d{4})/, (_m, pre: string, y: string) => `${pre}${Number(y) + 1}`);
  writeFileSync(f('w-bad.ndjson'), bad);
  const r = await cli('audit', 'verify', f('w-bad.ndjson'), '--ca', f('ca.pem'), '--node', '430100');
  t.equal(r.code, 1);
  t.match(r.err, /^error ERR_AUDIT_COSIGNATURE: seq 8: /);
});

/** Everything a signing command could change in a store: entries and checkpoints, row by row. */
async function snapshot(file: string): Promise<string> {
  const db = await connect(file);
  try {
    const tables = ['audit_log', 'audit_checkpoints', 'audit_prunes', 'audit_frontiers'];
    const out: unknown[] = [];
    for (const table of tables) out.push((await db.schema.hasTable(table)) ? await db(table).select('*') : null);
    return JSON.stringify(out);
  } finally {
    await db.destroy();
  }
}

t.test("a certificate for another node than the log's is refused before anything is written", async (t) => {
  const hub = issue(ca, '430000');
  const other = issue(ca, '430700');
  writeFileSync(f('hub.key'), hub.keyPem);
  writeFileSync(f('hub.pem'), hub.certPem);
  writeFileSync(f('other.key'), other.keyPem);
  writeFileSync(f('other.pem'), other.certPem);
  // the node's log (checkpoints signed by 430100) and one more unsigned entry
  {
    const db = await connect(dbFile);
    const log = await openAuditLog(db, { checkpointIntervalMs: 0 });
    await log.record({ actor: 'user:carol', action: 'record.read', object: 'rec-x', outcome: 'success' });
    await log.close();
    await db.destroy();
  }
  const before = await snapshot(dbFile);
  for (const [key, cert] of [['hub.key', 'hub.pem'], ['other.key', 'other.pem']] as const) {
    const cp = await cli('audit', 'checkpoint', '--db', dbFile, '--key', f(key), '--cert', f(cert));
    t.equal(cp.code, 1, `checkpoint with ${cert}`);
    t.match(cp.err, /^error ERR_AUDIT_SIGNER_INVALID: .*430100/, `checkpoint with ${cert} names the log's node`);
    const ex = await cli('audit', 'export', '--db', dbFile, '--out', f('wrong.ndjson'), '--key', f(key), '--cert', f(cert));
    t.match(ex.err, /^error ERR_AUDIT_SIGNER_INVALID: /, `export with ${cert}`);
    const pr = await cli('audit', 'prune', '--db', dbFile, '--before', '2000-01-01', '--key', f(key), '--cert', f(cert));
    t.match(pr.err, /^error ERR_AUDIT_SIGNER_INVALID: /, `prune with ${cert}`);
  }
  t.equal(await snapshot(dbFile), before, 'the log is unchanged: no entry, no checkpoint, no prune');
  const ok = await cli('audit', 'export', '--db', dbFile, '--out', f('still.ndjson'), '--key', f('node.key'), '--cert', f('node.pem'));
  t.equal(ok.code, 0, ok.err);
  const v = await cli('audit', 'verify', f('still.ndjson'), '--node', '430100', '--allow-unwitnessed', '--ca', f('ca.pem'), '--json');
  t.match(JSON.parse(v.out), { ok: true, signer: '430100' }, 'the node can still sign and export a verifiable bundle');

  // A store without checkpoints yet: a hub store is the hub's log (430000 only); a node's store never takes the hub's key.
  const hubFile = f('hub-store.sqlite');
  const nodeFile = f('node-store.sqlite');
  for (const [file, migrate] of [[hubFile, migrateHub], [nodeFile, migrateNode]] as const) {
    const db = await connect(file);
    await migrateAudit(db);
    await migrate(db);
    const log = await openAuditLog(db, { checkpointIntervalMs: 0 });
    await log.record({ actor: 'system', action: 'start', outcome: 'success' });
    await log.close();
    await db.destroy();
  }
  const hubBefore = await snapshot(hubFile);
  t.match((await cli('audit', 'checkpoint', '--db', hubFile, '--key', f('node.key'), '--cert', f('node.pem'))).err, /^error ERR_AUDIT_SIGNER_INVALID: .*430000/, "a node's key on the hub's log");
  t.equal(await snapshot(hubFile), hubBefore, 'the hub log is unchanged');
  const nodeBefore = await snapshot(nodeFile);
  t.match((await cli('audit', 'checkpoint', '--db', nodeFile, '--key', f('hub.key'), '--cert', f('hub.pem'))).err, /^error ERR_AUDIT_SIGNER_INVALID: /, "the hub's key on a node's log");
  t.equal(await snapshot(nodeFile), nodeBefore, 'the node log is unchanged');
  t.equal((await cli('audit', 'checkpoint', '--db', hubFile, '--key', f('hub.key'), '--cert', f('hub.pem'))).code, 0, "the hub's own key signs the hub's log");
  t.equal((await cli('audit', 'checkpoint', '--db', nodeFile, '--key', f('node.key'), '--cert', f('node.pem'))).code, 0, "a node's key signs its first checkpoint");
});

t.test('usage errors exit 2', async (t) => {
  t.equal((await cli('audit', 'verify', '--ca', f('ca.pem'))).code, 2, 'no FILE');
  t.equal((await cli('audit', 'export', '--db', f('missing.sqlite'), '--out', f('x'))).code, 2, 'missing db file');
  t.equal((await cli('audit', 'prune', '--db', dbFile, '--before', 'not-a-date')).code, 2, 'bad date');
  t.equal((await cli('audit', 'export', '--db', dbFile, '--out', f('x'), '--key', f('node.key'))).code, 2, '--key without --cert');
});

t.test('a real process: node bin/credit.js audit verify', async (t) => {
  const ok = await run(process.execPath, ['bin/credit.js', 'audit', 'verify', f('b2.ndjson'), '--node', '430100', '--allow-unwitnessed', '--ca', f('ca.pem')]);
  t.match(ok.stdout, /^OK 31 entries/);
  const bad = await run(process.execPath, ['bin/credit.js', 'audit', 'verify', f('bad.ndjson'), '--node', '430100', '--allow-unwitnessed', '--ca', f('ca.pem')]).catch((e: { code: number; stderr: string }) => e);
  t.equal((bad as { code: number }).code, 1);
  t.match((bad as { stderr: string }).stderr, /ERR_AUDIT_ENTRY_MODIFIED: seq 17/);
});
