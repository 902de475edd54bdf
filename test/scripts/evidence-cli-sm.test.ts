/**
 * `credit audit evidence` on a province whose audit logs are on SM (hub and node with
 * `audit.hashAlg: "sm3"`, every envelope on the SM suite): each side's half is signed with its SM2
 * key and names the SM2 root (scripts/cli/exchange-side.ts), so the package verifies with the SM2
 * root alone — except the CRLs each half carries, which are the RSA root's (a known defect, marked
 * todo: the package verifies with a CA file holding both roots, RSA first). A side whose store's
 * log is on SM but which holds no SM2 key refuses with ERR_AUDIT_ALGORITHM_MIXED: the hub whose CA directory lacks the SM2 root, the node whose SM2
 * certificate files are gone.
 */
import t from 'tap';
import { cpSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '../../audit/knex-connect.js';
import { latestCosignature } from '../../audit/cosign-store.js';
import { initCaDir } from '../../certs/ca-dir.js';
import { initSm2CaDir, SM2_CA_FILES } from '../../certs/sm2-ca-dir.js';
import { loadHubConfig, startHub } from '../../hub/index.js';
import { exchangePaths } from '../../node/exchange/files.js';
import { exampleRecord } from '../../protocol/catalog.js';
import { main } from '../../scripts/cli.js';
import { eventually, nodeApp } from '../node/exchange-fixture.js';

const SM = { suites: ['SM'], audit: { hashAlg: 'sm3' } };

async function cli(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { stdout: (s) => void out.push(s), stderr: (s) => void err.push(s) });
  return { code, out: out.join(''), err: err.join('') };
}

t.test('evidence on SM logs: halves signed with the SM2 keys, verified with the SM2 root alone; no SM2 key: ERR_AUDIT_ALGORITHM_MIXED', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'evidence-cli-sm-'));
  const f = (n: string) => join(dir, n);
  const { certPem: caCertPem } = await initCaDir(f('ca'), { cn: 'Test Provincial Credit CA (evidence sm)' });
  const { certPem: sm2CaPem } = initSm2CaDir(f('ca'), { cn: 'Test Provincial SM2 CA (evidence sm)' });
  writeFileSync(f('ca.pem'), caCertPem);
  writeFileSync(f('sm2-ca.pem'), sm2CaPem);
  writeFileSync(f('hub.json'), JSON.stringify({ dataDir: 'hub', caDir: 'ca', listen: { host: '127.0.0.1', port: 0 }, rateLimit: { enabled: false }, logLevel: 'silent', ...SM }));
  const hub = await startHub({ config: loadHubConfig(f('hub.json')) });
  let node: Awaited<ReturnType<typeof nodeApp>> | undefined;
  let nodeDb: Awaited<ReturnType<typeof connect>> | undefined;
  t.teardown(async () => {
    await nodeDb?.destroy();
    await node?.close();
    await hub.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const token = (await cli('hub', 'token', '--config', f('hub.json'), '--node', '430100', '--grade', '3')).out.trim();
  mkdirSync(f('node'));
  writeFileSync(f('node/node.json'), JSON.stringify({ nodeId: '430100', dataDir: 'data', hub: { url: hub.url, suites: ['SM'] }, audit: SM.audit }));
  const init = await cli('node', 'init', '--config', f('node/node.json'), '--hub', hub.url, '--token', token, '--ca', f('ca.pem'));
  t.equal(init.code, 0, init.err);
  node = await nodeApp(f('node/data'), { url: hub.url, pollIntervalMs: 100, batchMaxAgeMs: 20, checkpointIntervalMs: 300, suites: ['SM'] }, '430100', { audit: SM.audit });
  const ndb = await connect(f('node/data/node.sqlite'));
  nodeDb = ndb;

  const posted = await node.app.inject({ method: 'POST', url: '/v1/records', headers: await node.auth('submitter', 'public'), payload: [{ type: 'XK', fields: exampleRecord('XK').fields }] });
  t.equal(posted.statusCode, 201, posted.body);
  const batch = await eventually('the batch receipt', async () => (await ndb('node_batches').whereNotNull('receipt').first()) as { id: string } | undefined);
  const receiptSeq = Number(((await ndb('audit_log').where({ action: 'batch.receipt', object: batch.id }).first()) as { seq: number }).seq);
  await eventually('a cosigned checkpoint over the receipt entry', async () => ((await latestCosignature(ndb))?.treeSize ?? 0) >= receiptSeq || undefined);

  const hubHalf = await cli('audit', 'evidence', '--config', f('hub.json'), '--envelope', batch.id, '--out', f('hub-half.json'));
  t.equal(hubHalf.code, 0, hubHalf.err);
  const full = await cli('audit', 'evidence', '--config', f('node/node.json'), '--envelope', batch.id, '--with', f('hub-half.json'), '--out', f('package.json'));
  t.equal(full.code, 0, full.err);
  const v = await cli('audit', 'evidence', 'verify', f('package.json'), '--ca', f('sm2-ca.pem'));
  t.match(v.out, /halves of 430000, 430100/);
  t.notMatch(v.out, /ERR_EVIDENCE_SIGNATURE|ERR_AUDIT_/, 'with the SM2 root alone: both halves, their SM2 signatures and audit proofs verify');
  // KNOWN DEFECT: each half carries the RSA root's CRL (hub: buildCrl(ca); node: the crl.pem it fetched),
  // and no SM2 CRL exists in the exchange, so the SM2 root alone refuses the CRLs (ERR_CRL_INVALID)
  t.equal(v.code, 0, `verifies with the SM2 root alone: ${v.out}`, { todo: 'halves on SM logs carry the RSA CRL; an SM2 CRL of the register is needed (hub) and must be fetched by nodes' });
  writeFileSync(f('both-roots.pem'), caCertPem + sm2CaPem);
  const both = await cli('audit', 'evidence', 'verify', f('package.json'), '--ca', f('both-roots.pem'));
  t.equal(both.code, 0, `verifies with the RSA and SM2 roots (RSA first: the CRL is checked against it): ${both.out}${both.err}`);
  const rsa = await cli('audit', 'evidence', 'verify', f('package.json'), '--ca', f('ca.pem'));
  t.not(rsa.code, 0, `not with the RSA root: ${rsa.out}`);

  // the hub's store is on SM, but this config's CA directory has no SM2 root
  cpSync(f('ca'), f('ca-rsa'), { recursive: true });
  for (const k of Object.values(SM2_CA_FILES)) rmSync(join(f('ca-rsa'), k), { force: true });
  writeFileSync(f('hub-rsa.json'), JSON.stringify({ dataDir: 'hub', caDir: 'ca-rsa', logLevel: 'silent' }));
  const noRoot = await cli('audit', 'evidence', '--config', f('hub-rsa.json'), '--envelope', batch.id, '--out', f('x.json'));
  t.not(noRoot.code, 0);
  t.match(noRoot.err, /ERR_AUDIT_ALGORITHM_MIXED/, 'hub: an SM log without the SM2 root');
  // the node's store is on SM, but its SM2 certificate files are gone
  await node.close();
  const p = exchangePaths(f('node/data'));
  renameSync(p.sm2Cert, `${p.sm2Cert}.gone`);
  const noKey = await cli('audit', 'evidence', '--config', f('node/node.json'), '--envelope', batch.id, '--out', f('y.json'));
  t.not(noKey.code, 0);
  t.match(noKey.err, /ERR_AUDIT_ALGORITHM_MIXED/, 'node: an SM log without the SM2 certificate');
  t.match(noKey.err, /credit node init --sm2/, 'and says how to fix it');
});
