/**
 * The signed exchange log and the evidence package end to end, in process: a real hub (its store
 * DATADIR/hub.sqlite, as `credit hub start` makes it) and a real node enrolled with `credit node
 * init`, over mutual TLS on loopback. The node sends a batch and asks a province-wide query; then
 * `credit exchange export|verify` on both configs, `credit audit evidence` from the hub's config
 * and from the node's config --with the hub's half, and `credit audit evidence verify`: the package
 * verifies; any byte changed fails with a code; one half alone fails ERR_EVIDENCE_INCOMPLETE
 * (accepted with --one-side); an unknown id is ERR_EVIDENCE_NOT_FOUND.
 */
import t from 'tap';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '../../audit/knex-connect.js';
import { latestCosignature } from '../../audit/cosign-store.js';
import { verifyPackage } from '../../audit/evidence-package-verify.js';
import { initCaDir } from '../../certs/ca-dir.js';
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
