/**
 * Issue 16 items 3 and 5 through `credit audit verify` (in-process CLI): a bundle must be of the
 * expected node (--node) and its latest checkpoint cosigned by the witness (ERR_AUDIT_UNWITNESSED);
 * --witness cross-checks the hub's records (a fresh or rewritten chain fails); --crl refuses a
 * checkpoint made after its certificate's revocation, the time being the witness's cosignature.
 * The forged bundles are made the way an insider with the node key would: entries deleted,
 * re-chained, re-signed with the node's own key, cosignature lines dropped.
 */
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../scripts/cli.js';
import { connect } from '../../audit/knex-connect.js';
import { cosignCheckpoint, exportBundle, migrateAudit, openAuditLog, storeCosignature, toNdjson, type Cosignature } from '../../audit/index.js';
import { certFacts, signText } from '../../audit/crypto.js';
import { checkpointText, GENESIS_HASH, hashEntry, type AuditEntry } from '../../audit/entry.js';
import { merkleRoot } from '../../audit/merkle.js';
import { witnessRecordsNdjson } from '../../audit/witness-records.js';
import { signCrl } from '../../certs/crl.js';
import { createCaMaterial } from '../../certs/ca-dir.js';
import { issue, type TestIdentity } from '../helpers/pki.js';

const dir = mkdtempSync(join(tmpdir(), 'verify-witnessed-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const f = (n: string) => join(dir, n);
const T0 = Date.parse('2026-06-01T08:00:00.000Z');
const minute = 60_000;
const ca = createCaMaterial({ cn: 'Hunan Provincial Credit CA (test)', now: new Date(T0 - 86_400_000) });
const validity = { notBefore: new Date(T0 - 86_400_000), notAfter: new Date(Date.now() + 86_400_000) };
const hub = issue(ca, '430000', validity);
const node = issue(ca, '430100', validity);
writeFileSync(f('ca.pem'), ca.certPem);

async function cli(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { stdout: (s) => void out.push(s), stderr: (s) => void err.push(s) });
  return { code, out: out.join(''), err: err.join('') };
}

/**
 * A node log of 40 entries, one per minute from T0, with checkpoints at 10, 20 and 40, each
 * cosigned by the hub `lag` minutes after it was signed. Returns the bundle and the hub's records.
 */
async function witnessedLog(name: string, lag = 1): Promise<{ bundle: string; records: string; cosignatures: Cosignature[] }> {
  const db = await connect(f(`${name}.sqlite`));
  let now = T0;
  await migrateAudit(db);
  const log = await openAuditLog(db, { signer: { nodeId: '430100', keyPem: node.keyPem, certPem: node.certPem }, checkpointIntervalMs: 0, checkpointEvery: 1_000_000, now: () => new Date(now) });
  const cosignatures: Cosignature[] = [];
  for (let i = 1; i <= 40; i++) {
    now = T0 + i * minute;
    await log.record({ actor: 'user:alice', actorNode: '430100', action: 'record.read', object: `rec-${i}`, class: 'restricted', outcome: 'success', reason: 'inspection' });
    if (i === 10 || i === 20 || i === 40) {
      const cp = (await log.checkpoint())!;
      const c = cosignCheckpoint(cp, hub, new Date(now + lag * minute));
      await storeCosignature(db, c, { caCertPem: ca.certPem });
      cosignatures.push(c);
    }
  }
  await log.close();
  const bundle = toNdjson((await exportBundle(db)).lines);
  await db.destroy();
  return { bundle, records: witnessRecordsNdjson(cosignatures), cosignatures };
}

/** What an insider with the node key does: keep `keep` entries, re-chain, re-sign one checkpoint, no cosignature. */
function forge(bundle: string, keep: (e: AuditEntry) => boolean, signer: TestIdentity = node, nodeId = '430100'): string {
  const lines = bundle.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  const header = lines[0]!;
  const certs = lines.filter((l) => l.type === 'cert' && l.role === 'signer');
  let prev = GENESIS_HASH;
  const entries = lines.filter((l) => l.type === 'entry').map((l) => l as unknown as AuditEntry).filter(keep).map((e, i) => {
    const base = { ...e, seq: i + 1, prevHash: prev };
    delete (base as Partial<AuditEntry>).leafHash;
    const leafHash = hashEntry(base);
    prev = leafHash;
    return { type: 'entry', ...base, leafHash };
  });
  const body = { treeSize: entries.length, rootHash: merkleRoot(entries.map((e) => Buffer.from(e.leafHash, 'hex'))).toString('hex'), time: new Date(T0 + 41 * minute).toISOString(), nodeId };
  const cp = { type: 'checkpoint', ...body, signature: signText(signer.keyPem, checkpointText(body)), signerFingerprint: certFacts(signer.certPem).fingerprint };
  const out = [{ ...header, to: entries.length, entries: entries.length }, ...certs, ...entries, cp];
  return out.map((l) => JSON.stringify(l)).join('\n') + '\n';
}

const good = await witnessedLog('good');
writeFileSync(f('good.ndjson'), good.bundle);
writeFileSync(f('witness.ndjson'), good.records);
const verify = (file: string, ...more: string[]) => cli('audit', 'verify', f(file), '--ca', f('ca.pem'), ...more);

t.test('a witnessed log verifies with --node, and agrees with the hub records', async (t) => {
  const v = await verify('good.ndjson', '--node', '430100');
  t.equal(v.code, 0, v.err);
  t.match(v.out, /^OK 40 entries .* 3 cosignatures by the hub verified/);
  const w = await verify('good.ndjson', '--node', '430100', '--witness', f('witness.ndjson'));
  t.equal(w.code, 0, w.err);
  t.match(w.out, /3 witness records agree/);
  const other = await verify('good.ndjson', '--node', '430700');
  t.equal(other.code, 1);
  t.match(other.err, /^error ERR_AUDIT_UNTRUSTED_SIGNER: the bundle is the audit log of node 430100, not of node 430700/);
  t.equal((await cli('audit', 'verify', f('good.ndjson'), '--ca', f('ca.pem'))).code, 2, '--node is required');
});

t.test('31 entries deleted, re-chained, re-signed with the node key, cosignatures dropped → FAILS', async (t) => {
  writeFileSync(f('forged.ndjson'), forge(good.bundle, (e) => e.seq < 5 || e.seq > 35));
  const v = await verify('forged.ndjson', '--node', '430100');
  t.equal(v.code, 1, 'exit 1');
  t.match(v.err, /^error ERR_AUDIT_UNWITNESSED: seq 1: the latest checkpoint \(tree size 9\) carries no witness cosignature/);
  const allowed = await verify('forged.ndjson', '--node', '430100', '--allow-unwitnessed');
  t.equal(allowed.code, 0, 'the signatures alone are fine: this is why the witness is required');
  t.match(allowed.out, /WARNING entries 1\.\.9 are not witnessed/);
  const w = await verify('forged.ndjson', '--node', '430100', '--allow-unwitnessed', '--witness', f('witness.ndjson'));
  t.equal(w.code, 1);
  t.match(w.err, /^error ERR_AUDIT_TRUNCATED: .*witness cosigned node 430100's log at tree size 40, but the bundle ends at 9/);
});

t.test('a fresh chain after "deleting the database" → FAILS, and with --witness names the rewrite', async (t) => {
  const fresh = forge(good.bundle.replaceAll('rec-', 'new-'), () => true);
  writeFileSync(f('fresh.ndjson'), fresh);
  t.match((await verify('fresh.ndjson', '--node', '430100')).err, /ERR_AUDIT_UNWITNESSED/);
  const w = await verify('fresh.ndjson', '--node', '430100', '--allow-unwitnessed', '--witness', f('witness.ndjson'));
  t.equal(w.code, 1);
  t.match(w.err, /^error ERR_AUDIT_INCONSISTENT: seq 10: the witness cosigned root [0-9a-f]{64} at tree size 10, the bundle's entries give/);
});

t.test('cosignature lines stripped → ERR_AUDIT_UNWITNESSED; only the last one → its tail is named', async (t) => {
  const lines = good.bundle.trimEnd().split('\n');
  writeFileSync(f('stripped.ndjson'), lines.filter((l) => !l.startsWith('{"type":"cosignature"')).join('\n') + '\n');
  const all = await verify('stripped.ndjson', '--node', '430100');
  t.equal(all.code, 1);
  t.match(all.err, /ERR_AUDIT_UNWITNESSED: seq 1: .*none of its 40 entries is witnessed/);
  const last = lines.findLastIndex((l) => l.startsWith('{"type":"cosignature"'));
  writeFileSync(f('tail.ndjson'), lines.filter((_, i) => i !== last).join('\n') + '\n');
  const tail = await verify('tail.ndjson', '--node', '430100', '--json');
  t.match(JSON.parse(tail.out), { ok: false, code: 'ERR_AUDIT_UNWITNESSED', seq: 21, unwitnessed: { from: 21, to: 40 } });
});

t.test('witness records are verified too: a forged record is refused', async (t) => {
  const forgedRecord = good.records.replace(/"rootHash":"[0-9a-f]{64}"/, `"rootHash":"${'a'.repeat(64)}"`);
  writeFileSync(f('witness-bad.ndjson'), forgedRecord);
  const v = await verify('good.ndjson', '--node', '430100', '--witness', f('witness-bad.ndjson'));
  t.equal(v.code, 1);
  t.match(v.err, /^error ERR_AUDIT_COSIGNATURE: witness records line 1/);
});

t.test('--crl: a checkpoint made after its certificate was revoked fails ERR_AUDIT_REVOKED_SIGNER; time = the witness', async (t) => {
  const serial = certFacts(node.certPem).serial;
  const crl = async (name: string, revokedAt: number, reason: 'keyCompromise' | 'superseded') => {
    const pem = await signCrl({ caCertPem: ca.certPem, caKeyPem: ca.keyPem, entries: [{ serial, revokedAt: new Date(revokedAt), reason }], thisUpdate: new Date(), nextUpdate: new Date(Date.now() + 86_400_000) });
    writeFileSync(f(name), pem);
    return f(name);
  };
  // Cosigned at T0+11, +21, +41 minutes. Revoked at T0+30: the checkpoint at 40 is late.
  const late = await verify('good.ndjson', '--node', '430100', '--crl', await crl('crl-30.pem', T0 + 30 * minute, 'superseded'));
  t.equal(late.code, 1);
  t.match(late.err, /^error ERR_AUDIT_REVOKED_SIGNER: seq 40: the checkpoint at tree size 40 was made by 2026-06-01T08:41:00\.000Z \(the witness cosigned it\), after its signer certificate was revoked at 2026-06-01T08:30:00\.000Z \(superseded\)/);
  const after = await verify('good.ndjson', '--node', '430100', '--crl', await crl('crl-50.pem', T0 + 50 * minute, 'keyCompromise'));
  t.equal(after.code, 0, `everything cosigned before the compromise: ${after.err}`);
  // The witness is slow: the checkpoint at 40 says 08:40 (before a compromise at 08:40:30) but was cosigned at 08:45.
  const slow = await witnessedLog('slow', 5);
  writeFileSync(f('slow.ndjson'), slow.bundle);
  const compromised = await crl('crl-kc.pem', T0 + 40.5 * minute, 'keyCompromise');
  const kc = await verify('slow.ndjson', '--node', '430100', '--crl', compromised);
  t.equal(kc.code, 1);
  t.match(kc.err, /ERR_AUDIT_REVOKED_SIGNER: seq 40: the checkpoint at tree size 40 was first cosigned at 2026-06-01T08:45:00\.000Z, after its signer certificate was revoked at 2026-06-01T08:40:30\.000Z \(keyCompromise\)/);
  // A back-dated checkpoint signed with the stolen key and never cosigned: its own time does not count.
  writeFileSync(f('backdated.ndjson'), forge(good.bundle, (e) => e.seq <= 5));
  const back = await verify('backdated.ndjson', '--node', '430100', '--allow-unwitnessed', '--crl', await crl('crl-kc2.pem', T0 + 50 * minute, 'keyCompromise'));
  t.equal(back.code, 1);
  t.match(back.err, /ERR_AUDIT_REVOKED_SIGNER: seq 5: .*keyCompromise.*no witness cosigned it/);
  writeFileSync(f('crl-junk.pem'), '-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n');
  t.match((await verify('good.ndjson', '--node', '430100', '--crl', f('crl-junk.pem'))).err, /ERR_CRL_INVALID/);
});

t.test('checkpoints lists the signed sizes; consistency between unsigned sizes is refused', async (t) => {
  const cps = await cli('audit', 'checkpoints', '--db', f('good.sqlite'), '--json');
  t.equal(cps.code, 0, cps.err);
  t.match(JSON.parse(cps.out), [{ treeSize: 10, cosignatures: ['430000'] }, { treeSize: 20 }, { treeSize: 40 }]);
  const text = await cli('audit', 'checkpoints', '--db', f('good.sqlite'));
  t.match(text.out, /3 signed checkpoints/);
  const ok = await cli('audit', 'consistency', '--db', f('good.sqlite'), '--from', '10', '--to', '40');
  t.equal(ok.code, 0, ok.err);
  const refused = await cli('audit', 'consistency', '--db', f('good.sqlite'), '--from', '7', '--to', '40');
  t.equal(refused.code, 1);
  t.match(refused.err, /^error ERR_AUDIT_UNSIGNED_SIZE: no signed checkpoint at tree size 7/);
  t.notOk(readFileSync(f('good.ndjson'), 'utf8').includes('"treeSize":7,'), 'the bundle agrees: no checkpoint at 7');
});

t.test("mutual witnessing: the hub's log carries the nodes' cosignatures; a rewritten hub log fails", async (t) => {
  const other = issue(ca, '430700', validity);
  const db = await connect(f('hub.sqlite'));
  await migrateAudit(db);
  let now = T0;
  const log = await openAuditLog(db, { signer: { nodeId: '430000', keyPem: hub.keyPem, certPem: hub.certPem }, checkpointIntervalMs: 0, checkpointEvery: 1_000_000, now: () => new Date(now) });
  const records: Cosignature[] = [];
  for (let i = 1; i <= 30; i++) {
    now = T0 + i * minute;
    await log.record({ actor: 'cli:hub', actorNode: '430000', action: i % 3 ? 'node.enrol' : 'cert.revoke', object: `node:43${String(i).padStart(4, '0')}`, outcome: 'success' });
    if (i % 15 === 0) {
      const cp = (await log.checkpoint())!;
      for (const w of [node, other]) {
        const c = cosignCheckpoint(cp, w, new Date(now + minute));
        t.ok(await storeCosignature(db, c, { caCertPem: ca.certPem }), `${w.nodeId}'s cosignature of size ${cp.treeSize} stored beside the other's`);
        if (w === node) records.push(c);
      }
      t.throws(() => cosignCheckpoint(cp, hub, new Date(now)), { code: 'ERR_AUDIT_SIGNER_INVALID', message: /cosigned by the nodes/ }, 'the hub cannot witness itself');
    }
  }
  await log.close();
  writeFileSync(f('hub.ndjson'), toNdjson((await exportBundle(db)).lines));
  await db.destroy();
  writeFileSync(f('hub-witness.ndjson'), witnessRecordsNdjson(records));
  const v = await verify('hub.ndjson', '--node', '430000', '--witness', f('hub-witness.ndjson'));
  t.equal(v.code, 0, v.err);
  t.match(v.out, /4 cosignatures by the nodes verified.*2 witness records agree/);
  // With hub.key: the revocation entries removed, re-chained, re-signed, the nodes' cosignatures dropped.
  writeFileSync(f('hub-forged.ndjson'), forge(readFileSync(f('hub.ndjson'), 'utf8'), (e) => e.action !== 'cert.revoke', hub, '430000'));
  const forged = await verify('hub-forged.ndjson', '--node', '430000');
  t.equal(forged.code, 1);
  t.match(forged.err, /^error ERR_AUDIT_UNWITNESSED: /);
  const w = await verify('hub-forged.ndjson', '--node', '430000', '--allow-unwitnessed', '--witness', f('hub-witness.ndjson'));
  t.match(w.err, /^error ERR_AUDIT_(INCONSISTENT|TRUNCATED): /, "the node's records catch the rewrite");
});
