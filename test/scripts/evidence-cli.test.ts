/**
 * The signed exchange log and the evidence package end to end, in process: a real hub (its store
 * DATADIR/hub.sqlite, as `credit hub start` makes it) and a real node enrolled with `credit node
 * init`, over mutual TLS on loopback. The node sends a batch and asks a province-wide query; then
 * `credit exchange export|verify` on both configs, `credit audit evidence` from the hub's config
 * and from the node's config --with the hub's half, and `credit audit evidence verify`: the package
 * verifies; any byte changed fails with a code; one half alone fails ERR_EVIDENCE_INCOMPLETE
 * (accepted with --one-side); an unknown id is ERR_EVIDENCE_NOT_FOUND. A half re-signed by its own
 * key with a moved producedAt or CRL: ERR_EVIDENCE_BACKDATED, ERR_EVIDENCE_REVOCATION_UNCHECKED, its
 * signer revoked by then (ERR_EVIDENCE_SIGNATURE), also when only the other half's CRL shows it.
 */
import t from 'tap';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '../../audit/knex-connect.js';
import { latestCosignature } from '../../audit/cosign-store.js';
import { verifyPackage } from '../../audit/evidence-package-verify.js';
import { EVIDENCE_CLOCK_SKEW_MS } from '../../audit/evidence-half-time.js';
import type { EvidenceHalf, EvidencePackage } from '../../audit/evidence-package.js';
import { signText } from '../../audit/crypto.js';
import { CA_FILES, initCaDir } from '../../certs/ca-dir.js';
import { signCrl, type CrlEntry } from '../../certs/crl.js';
import { HUB_FILES } from '../../hub/identity.js';
import { exchangePaths } from '../../node/exchange/files.js';
import { canonicalize } from '../../protocol/canonical-json.js';
import { certFromPem } from '../../protocol/crypto.js';
import { loadHubConfig, startHub } from '../../hub/index.js';
import { exampleRecord } from '../../protocol/catalog.js';
import { main } from '../../scripts/cli.js';
import { eventually, nodeApp } from '../node/exchange-fixture.js';

const dir = mkdtempSync(join(tmpdir(), 'evidence-cli-'));
const f = (n: string) => join(dir, n);
const { certPem: caCertPem } = await initCaDir(f('ca'), { cn: 'Test Provincial Credit CA (evidence)' });
writeFileSync(f('ca.pem'), caCertPem);
writeFileSync(f('hub.json'), JSON.stringify({ dataDir: 'hub', caDir: 'ca', listen: { host: '127.0.0.1', port: 0 }, rateLimit: { enabled: false }, logLevel: 'silent' }));
const hub = await startHub({ config: loadHubConfig(f('hub.json')) });

async function cli(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { stdout: (s) => void out.push(s), stderr: (s) => void err.push(s) });
  return { code, out: out.join(''), err: err.join('') };
}

const token = (await cli('hub', 'token', '--config', f('hub.json'), '--node', '430100', '--grade', '3')).out.trim();
mkdirSync(f('node'));
writeFileSync(f('node/node.json'), JSON.stringify({ nodeId: '430100', dataDir: 'data' }));
const init = await cli('node', 'init', '--config', f('node/node.json'), '--hub', hub.url, '--token', token, '--ca', f('ca.pem'));
if (init.code !== 0) throw new Error(init.err);
const node = await nodeApp(f('node/data'), { url: hub.url, pollIntervalMs: 100, batchMaxAgeMs: 20, checkpointIntervalMs: 300 }, '430100');
const nodeDb = await connect(f('node/data/node.sqlite'));
t.teardown(async () => {
  await nodeDb.destroy();
  await node.close();
  await hub.close();
  rmSync(dir, { recursive: true, force: true });
});

const e = exampleRecord('XK');
const posted = await node.app.inject({ method: 'POST', url: '/v1/records', headers: await node.auth('submitter', 'public'), payload: [{ type: 'XK', fields: e.fields }] });
if (posted.statusCode !== 201) throw new Error(posted.body);
const batch = await eventually('the batch receipt', async () => (await nodeDb('node_batches').whereNotNull('receipt').first()) as { id: string } | undefined);
const query = await node.app.inject({ method: 'GET', url: `/v1/subjects/${String(e.fields.uscc)}?scope=province&purpose=test`, headers: await node.auth('query', 'shared') });
if (query.statusCode !== 200) throw new Error(query.body);
// the witness cosigns a checkpoint covering the batch's receipt entry
const receiptSeq = Number(((await nodeDb('audit_log').where({ action: 'batch.receipt', object: batch.id }).first()) as { seq: number }).seq);
await eventually('a cosigned checkpoint over the receipt entry', async () => ((await latestCosignature(nodeDb))?.treeSize ?? 0) >= receiptSeq || undefined);

t.test('credit exchange export | verify: the node and the hub logs verify and pair', async (t) => {
  for (const [who, config] of [['node', f('node/node.json')], ['hub', f('hub.json')]] as const) {
    const ex = await cli('exchange', 'export', '--config', config, '--out', f(`${who}.ndjson`));
    t.equal(ex.code, 0, ex.err);
    const v = await cli('exchange', 'verify', f(`${who}.ndjson`), '--ca', f('ca.pem'));
    t.equal(v.code, 0, v.out + v.err);
    t.match(v.out, /\(batch 1, checkpoint \d+, query 1, query-answer 1, receipt 1\)/, `${who}: the batch, its receipt, the query, its answer, the checkpoints witnessed`);
    t.match(v.out, /2 paired/);
  }
  const nodeLog = readFileSync(f('node.ndjson'), 'utf8');
  t.match(nodeLog, new RegExp(`"id":"${batch.id}"`));
  t.notMatch(nodeLog, /ciphertext/, 'no ciphertext is kept');
  const audit = (await nodeDb('audit_log').whereIn('action', ['batch.send', 'batch.receipt']).where('object', batch.id)) as { reason: string }[];
  t.ok(audit.length === 2 && audit.every((a) => /digest=[A-Za-z0-9_-]{43}/.test(a.reason)), "the node's batch.send and batch.receipt name the digest");
  const hubAudit = (await hub.app.hubCtx.db('audit_log').where({ action: 'batch.receive', object: batch.id }).first()) as { reason: string };
  const sent = JSON.parse(nodeLog.split('\n')[1]!) as { digest: string };
  t.match(hubAudit.reason, `digest=${sent.digest}`, "the hub's intake entry names the same digest");
  const cut = await cli('exchange', 'export', '--config', f('hub.json'), '--out', f('hub-later.ndjson'), '--from', '2999-01-01');
  t.equal(cut.code, 0);
  t.match(cut.out, /0 envelope/);
});

t.test('credit audit evidence: both halves, verified offline; any byte changed fails', async (t) => {
  const hubHalf = await cli('audit', 'evidence', '--config', f('hub.json'), '--envelope', batch.id, '--out', f('hub-half.json'));
  t.equal(hubHalf.code, 0, hubHalf.err);
  t.match(hubHalf.out, /other side's half is not in it yet/);
  const alone = await cli('audit', 'evidence', 'verify', f('hub-half.json'), '--ca', f('ca.pem'));
  t.equal(alone.code, 1);
  t.match(alone.out, /ERR_EVIDENCE_INCOMPLETE .*half of 430100 is missing: .*credit audit evidence --config/);
  t.equal((await cli('audit', 'evidence', 'verify', f('hub-half.json'), '--ca', f('ca.pem'), '--one-side')).code, 0, 'accepted with --one-side');

  const full = await cli('audit', 'evidence', '--config', f('node/node.json'), '--envelope', batch.id, '--with', f('hub-half.json'), '--out', f('package.json'));
  t.equal(full.code, 0, full.err);
  const v = await cli('audit', 'evidence', 'verify', f('package.json'), '--ca', f('ca.pem'));
  t.equal(v.code, 0, v.out + v.err);
  t.match(v.out, /halves of 430000, 430100/);
  t.match(v.out, /430100 \(node\): 2 envelope record\(s\), 2 audit entries proven, 1 cosignature\(s\)/);

  const text = readFileSync(f('package.json'), 'utf8');
  const positions: number[] = [];
  for (let i = 0; i < text.length; i += Math.max(1, Math.floor(text.length / 400))) positions.push(i);
  positions.push(text.length - 1, text.length - 2);
  let failed = 0;
  const codes = new Set<string>();
  for (const i of positions) {
    const c = text[i]!;
    if (c.charCodeAt(0) > 0x7e) continue;
    const changed = text.slice(0, i) + (c === 'a' ? 'b' : c === '\n' ? ' ' : 'a') + text.slice(i + 1);
    const r = await verifyPackage(changed, [caCertPem]);
    if (r.problems.length > 0) failed++;
    else t.fail(`byte ${i} (${JSON.stringify(c)}) changed and the package still verifies`);
    for (const p of r.problems) codes.add(p.code);
  }
  t.ok(failed > 300, `${failed} changed packages, every one refused`);
  t.ok(codes.has('ERR_EVIDENCE_MALFORMED') && codes.has('ERR_EVIDENCE_SIGNATURE'), [...codes].join(' '));
  const cli1 = await cli('audit', 'evidence', 'verify', f('tampered.json'), '--ca', f('ca.pem'));
  t.equal(cli1.code, 2, 'a missing file is a usage error');
  writeFileSync(f('tampered.json'), text.replace('"role":"node"', '"role":"hub"'));
  const bad = await cli('audit', 'evidence', 'verify', f('tampered.json'), '--ca', f('ca.pem'));
  t.equal(bad.code, 1);
  t.match(bad.err, /ERR_EVIDENCE_SIGNATURE/);
});

t.test('an envelope the store never kept: ERR_EVIDENCE_NOT_FOUND', async (t) => {
  const r = await cli('audit', 'evidence', '--config', f('hub.json'), '--envelope', '01890000-0000-7000-8000-000000000000', '--out', f('none.json'));
  t.equal(r.code, 1);
  t.match(r.err, /ERR_EVIDENCE_NOT_FOUND/);
});

/**
 * Hostile review M2: producedAt is the half signer's own word. A half re-signed with the node's own
 * key (what a holder of that key, revoked or not, can make) with its time or CRL moved, each checked
 * by verifyPackage with only the CA certificate. Before the fix each of these verified.
 */
t.test('a half whose time or CRL does not hold up: ERR_EVIDENCE_BACKDATED, ERR_EVIDENCE_REVOCATION_UNCHECKED, a revoked half signer', async (t) => {
  const full = await cli('audit', 'evidence', '--config', f('node/node.json'), '--envelope', batch.id, '--with', f('hub-half.json'), '--out', f('m2.json'));
  t.equal(full.code, 0, full.err);
  const pkg = JSON.parse(readFileSync(f('m2.json'), 'utf8')) as EvidencePackage;
  t.equal((await verifyPackage(readFileSync(f('m2.json'), 'utf8'), [caCertPem])).problems.length, 0, 'control: the package as made verifies');
  const nodeHalf = pkg.halves.find((h) => h.half.side === '430100')!;
  t.ok(nodeHalf.half.crl, "the node's half carries the CRL it fetched");
  const cosignedAt = Date.parse(nodeHalf.half.cosignatures[0]!.cosignedAt);
  const nodeKey = readFileSync(join(exchangePaths(f('node/data')).key), 'utf8');
  const caKeyPem = readFileSync(join(f('ca'), CA_FILES.key), 'utf8');
  const crl = (thisUpdate: number, entries: CrlEntry[] = []) => signCrl({ caCertPem, caKeyPem, entries, thisUpdate: new Date(thisUpdate), nextUpdate: new Date(thisUpdate + 7 * 86_400_000) });
  /** The package with the node's half changed and re-signed with the node's key. */
  const forged = (change: Partial<EvidenceHalf>) => {
    const half = { ...nodeHalf.half, ...change };
    const halves = pkg.halves.map((h) => (h === nodeHalf ? { half, signature: signText(nodeKey, canonicalize(half)), signerCertPem: h.signerCertPem } : h));
    return canonicalize({ ...pkg, halves }) + '\n';
  };
  const codes = async (text: string) => (await verifyPackage(text, [caCertPem])).problems.map((p) => `${p.code} ${p.message}`);

  // a CRL that was current over the whole test, genuine, listing nobody: the control for the moved times
  const early = await crl(cosignedAt - 3_600_000);
  t.same(await codes(forged({ crl: early })), [], 'control: re-signed with a current CRL and its own time, it verifies');

  const cpTime = Math.max(...nodeHalf.half.proofs.map((p) => Date.parse(p.checkpoint!.time)));
  t.same(await codes(forged({ crl: early, producedAt: new Date(cpTime - 5).toISOString() })), [], 'control: dated a few ms before its own checkpoint (as halves made before this check were) still verifies');
  const backdated = await codes(forged({ crl: early, producedAt: new Date(cosignedAt - EVIDENCE_CLOCK_SKEW_MS - 1000).toISOString() }));
  t.match(backdated, [/^ERR_EVIDENCE_BACKDATED 430100: producedAt .* is before the (cosignature of tree size \d+ by 430000|checkpoint|exchange record)/], 'producedAt before the witness cosigned the checkpoint it proves against');
  t.equal(backdated.length, 1);

  const beforeCrl = await codes(forged({ crl: await crl(Date.now() + 3_600_000) }));
  t.match(beforeCrl, [/^ERR_EVIDENCE_BACKDATED 430100: producedAt .* is before the CRL it carries was issued/], "producedAt before its CRL's thisUpdate");
  t.equal(beforeCrl.length, 1);

  const noCrl = await codes(forged({ crl: null }));
  t.match(noCrl, [/^ERR_EVIDENCE_REVOCATION_UNCHECKED 430100: the half carries no CRL/], 'a half without a CRL is reported, not passed');
  t.equal(noCrl.length, 1);
  const cliNoCrl = (writeFileSync(f('nocrl.json'), forged({ crl: null })), await cli('audit', 'evidence', 'verify', f('nocrl.json'), '--ca', f('ca.pem')));
  t.equal(cliNoCrl.code, 1, 'the command fails on it');
  t.notMatch(cliNoCrl.out, /^OK/m);

  // the node's certificate revoked after everything the half contains, before the half is (said to be) made
  const latest = Math.max(cosignedAt, ...nodeHalf.half.proofs.map((p) => Date.parse(p.checkpoint!.time)), ...nodeHalf.half.exchange.map((e) => Date.parse(e.recordedAt)));
  const serial = certFromPem(nodeHalf.signerCertPem).serial;
  const revokedAt = new Date(Math.ceil((latest + 1000) / 1000) * 1000);
  const listing = await crl(revokedAt.getTime(), [{ serial, revokedAt, reason: 'keyCompromise' }]);
  const revoked = await codes(forged({ crl: listing, producedAt: new Date(revokedAt.getTime() + 1000).toISOString() }));
  t.match(revoked, [/^ERR_EVIDENCE_SIGNATURE 430100: the half's signer certificate .* was revoked \(keyCompromise\)/], 'a half signed after its signer was revoked');
  t.equal(revoked.length, 1, 'its envelopes, signed before the revocation, still verify');
  // the same revoked key holder, backdating the half to before the revocation, attaching the older CRL: the hub's half (a newer CRL) lists it
  const hubHalf = pkg.halves.find((h) => h.half.side === '430000')!;
  const hubKey = readFileSync(join(f('hub'), HUB_FILES.key), 'utf8');
  const withHubCrl = (text: string) => {
    const p = JSON.parse(text) as EvidencePackage;
    const half = { ...hubHalf.half, crl: listing, producedAt: new Date(Math.max(Date.parse(hubHalf.half.producedAt), revokedAt.getTime() + 1000)).toISOString() };
    p.halves = p.halves.map((h) => (h.half.side === '430000' ? { half, signature: signText(hubKey, canonicalize(half)), signerCertPem: h.signerCertPem } : h));
    return canonicalize(p) + '\n';
  };
  t.same(await codes(withHubCrl(forged({ crl: early, producedAt: new Date(latest).toISOString() }))), [], 'control: the hub half with the newer CRL; the node half made before the revocation verifies');
  const oldCrl = await codes(withHubCrl(forged({ crl: early, producedAt: new Date(revokedAt.getTime() + 60_000).toISOString() })));
  t.match(oldCrl, [/^ERR_EVIDENCE_SIGNATURE 430100: the half's signer certificate .* was revoked/], "an older CRL in the node's half does not hide the revocation the hub's half shows");
});

t.test('a node that holds no CRL: its half is made with a warning and verifies as ERR_EVIDENCE_REVOCATION_UNCHECKED', async (t) => {
  const crlFile = exchangePaths(f('node/data')).crl;
  renameSync(crlFile, `${crlFile}.away`);
  t.teardown(() => renameSync(`${crlFile}.away`, crlFile));
  const made = await cli('audit', 'evidence', '--config', f('node/node.json'), '--envelope', batch.id, '--with', f('hub-half.json'), '--out', f('no-crl.json'));
  t.equal(made.code, 0, made.err);
  t.match(made.err, /^warning ERR_EVIDENCE_REVOCATION_UNCHECKED: 430100 holds no CRL/m);
  const v = await cli('audit', 'evidence', 'verify', f('no-crl.json'), '--ca', f('ca.pem'));
  t.equal(v.code, 1);
  t.match(v.out, /430100 \(node\):[^\n]*CRL none/);
  t.match(v.out, /^ERR_EVIDENCE_REVOCATION_UNCHECKED envelope \S+: 430100: the half carries no CRL/m);
  t.match(v.err, /evidence package FAILED with 1 problem\(s\) \(ERR_EVIDENCE_REVOCATION_UNCHECKED\)/);
});
