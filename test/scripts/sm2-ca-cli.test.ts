/**
 * `credit ca init --algorithm sm2`, `credit ca sm2-issue|sm2-revoke|sm2-crl` as an operator runs
 * them, checked with the real openssl CLI: the node makes its SM2 key, the CA issues the
 * certificate (CN = node id), `openssl verify -vfyopt distid:1234567812345678` accepts the
 * 2-level chain, and after a revocation `-crl_check` refuses it.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../scripts/cli.js';
import { SM2_CA_FILES } from '../../certs/sm2-ca-dir.js';

const root = mkdtempSync(join(tmpdir(), 'sm2-cli-'));
t.teardown(() => rmSync(root, { recursive: true, force: true }));
const p = (...parts: string[]) => join(root, ...parts);

async function run(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { stdout: (s) => void out.push(s), stderr: (s) => void err.push(s) });
  return { code, out: out.join(''), err: err.join('') };
}
async function failCode(...argv: string[]): Promise<string> {
  const r = await run(...argv);
  return r.code === 0 ? 'exit 0' : (/^error (ERR_[A-Z_]+):/m.exec(r.err)?.[1] ?? `exit ${r.code}: ${r.err}`);
}
function openssl(...args: string[]) {
  const r = spawnSync('openssl', args, { encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}
const ca = p('ca');
const DISTID = ['-vfyopt', 'distid:1234567812345678'];

t.test('init --algorithm sm2, issue for a node-made key, openssl verifies, revoke, CRL refuses', async (t) => {
  const init = await run('ca', 'init', '--algorithm', 'sm2', '--dir', ca);
  t.equal(init.code, 0, init.err);
  t.equal(statSync(join(ca, SM2_CA_FILES.key)).mode & 0o777, 0o600, 'sm2-ca.key is 0600');
  t.equal(await failCode('ca', 'init', '--algorithm', 'sm2', '--dir', ca), 'ERR_CA_EXISTS');
  t.equal(await failCode('ca', 'init', '--algorithm', 'dsa', '--dir', p('other')), 'ERR_USAGE');

  t.equal(openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:SM2', '-out', p('sm2.key')).status, 0);
  t.equal(openssl('pkey', '-in', p('sm2.key'), '-pubout', '-out', p('sm2.pub')).status, 0);
  const issued = await run('ca', 'sm2-issue', '--dir', ca, '--node', '430100', '--public-key', p('sm2.pub'), '--out', p('430100-sm2.pem'));
  t.equal(issued.code, 0, issued.err);
  const serial = /certificate ([0-9A-F]+)/.exec(issued.out)![1]!;
  const ok = openssl('verify', ...DISTID, '-CAfile', join(ca, SM2_CA_FILES.cert), p('430100-sm2.pem'));
  t.equal(ok.status, 0, ok.out);
  t.match(openssl('x509', '-in', p('430100-sm2.pem'), '-noout', '-subject').out, /CN\s*=\s*430100/);
  const sig = openssl('x509', '-in', p('430100-sm2.pem'), '-noout', '-pubkey');
  const mine = openssl('pkey', '-in', p('sm2.key'), '-pubout');
  t.equal(sig.out, mine.out, 'the certificate holds the node\'s own public key');

  t.equal(openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', p('p256.key')).status, 0);
  t.equal(openssl('pkey', '-in', p('p256.key'), '-pubout', '-out', p('p256.pub')).status, 0);
  t.equal(await failCode('ca', 'sm2-issue', '--dir', ca, '--node', '430100', '--public-key', p('p256.pub'), '--out', p('x.pem')), 'ERR_CSR_KEY_UNSUPPORTED');
  t.equal(await failCode('ca', 'sm2-issue', '--dir', ca, '--node', '43010', '--public-key', p('sm2.pub'), '--out', p('x.pem')), 'ERR_CSR_SUBJECT_INVALID');
  t.equal(await failCode('ca', 'sm2-revoke', '--dir', ca, '--serial', 'ABCDEF'), 'ERR_CERT_NOT_FOUND');
  t.equal(await failCode('ca', 'sm2-issue', '--dir', p('none'), '--node', '430100', '--public-key', p('sm2.pub'), '--out', p('x.pem')), 'ERR_CA_NOT_FOUND');

  t.equal((await run('ca', 'sm2-revoke', '--dir', ca, '--serial', serial)).code, 0);
  t.equal((await run('ca', 'sm2-crl', '--dir', ca, '--out', p('sm2.crl'), '--openssl')).code, 0);
  const refused = openssl('verify', ...DISTID, '-crl_check', '-CRLfile', p('sm2.crl'), '-CAfile', join(ca, SM2_CA_FILES.cert), p('430100-sm2.pem'));
  t.not(refused.status, 0);
  t.match(refused.out, /certificate revoked/);
  t.match(openssl('crl', '-in', p('sm2.crl'), '-noout', '-text').out, /CRL Number:\s*\n?\s*1/);
});

t.test('sm2-issue --csr: proof of possession, CN from the request; bad requests refused with their codes', async (t) => {
  const dir = p('ca-csr');
  t.equal((await run('ca', 'init', '--algorithm', 'sm2', '--dir', dir)).code, 0);
  t.equal(openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:SM2', '-out', p('n.key')).status, 0);
  const req = (subj: string, out: string, key = p('n.key')) => openssl('req', '-new', '-key', key, '-sm3', '-sigopt', 'distid:1234567812345678', '-subj', subj, '-out', out);
  t.equal(req('/CN=430700', p('n.csr')).status, 0);
  t.equal(await failCode('ca', 'sm2-issue', '--dir', dir, '--node', '430100', '--csr', p('n.csr'), '--out', p('x.pem')), 'ERR_CSR_SUBJECT_INVALID', 'the request claims another CN than --node');
  t.equal(await failCode('ca', 'sm2-issue', '--dir', dir, '--csr', p('n.csr'), '--out', p('x.pem')), 'ERR_USAGE', '--csr without --node is refused');
  const r = await run('ca', 'sm2-issue', '--dir', dir, '--node', '430700', '--csr', p('n.csr'), '--out', p('430700-sm2.pem'));
  t.equal(r.code, 0, r.err);
  t.match(r.out, /for CN 430700/, 'the CN is printed');
  t.match(openssl('x509', '-in', p('430700-sm2.pem'), '-noout', '-subject').out, /CN\s*=\s*430700/);
  t.equal(openssl('verify', ...DISTID, '-CAfile', join(dir, SM2_CA_FILES.cert), p('430700-sm2.pem')).status, 0);

  const { readFileSync, writeFileSync } = await import('node:fs');
  const der = Buffer.from(readFileSync(p('n.csr'), 'utf8').replace(/-----[^-]+-----|\s/g, ''), 'base64');
  der[der.length - 5]! ^= 1; // inside the signature
  writeFileSync(p('bad.csr'), `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`);
  t.equal(await failCode('ca', 'sm2-issue', '--dir', dir, '--node', '430700', '--csr', p('bad.csr'), '--out', p('x.pem')), 'ERR_CSR_INVALID', 'signature does not verify');
  t.equal(req('/CN=430700/CN=430100', p('two.csr')).status, 0);
  t.equal(await failCode('ca', 'sm2-issue', '--dir', dir, '--node', '430700', '--csr', p('two.csr'), '--out', p('x.pem')), 'ERR_CSR_SUBJECT_INVALID', 'two CNs');
  t.equal(openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', p('p.key')).status, 0);
  t.equal(openssl('req', '-new', '-key', p('p.key'), '-subj', '/CN=430700', '-out', p('p.csr')).status, 0);
  t.equal(await failCode('ca', 'sm2-issue', '--dir', dir, '--node', '430700', '--csr', p('p.csr'), '--out', p('x.pem')), 'ERR_CSR_KEY_UNSUPPORTED', 'a P-256 request');
  t.equal(req('/CN=430000', p('hub.csr')).status, 0);
  t.equal(await failCode('ca', 'sm2-issue', '--dir', dir, '--node', '430000', '--csr', p('hub.csr'), '--out', p('x.pem')), 'ERR_CSR_SUBJECT_INVALID', 'the hub id without --hub');
  const hub = await run('ca', 'sm2-issue', '--dir', dir, '--node', '430000', '--csr', p('hub.csr'), '--out', p('430000-sm2.pem'), '--hub');
  t.equal(hub.code, 0, hub.err);
  t.match(hub.out, /for CN 430000/);
});
