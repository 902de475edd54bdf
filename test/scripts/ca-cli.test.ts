/**
 * `credit ca …` and `credit node keygen` as an operator runs them, checked with the real openssl
 * CLI: in-process through main(), and as real processes where the shell contract matters.
 */
import t from 'tap';
import { execFile, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import forge from 'node-forge';
import { main } from '../../scripts/cli.js';
import { CA_FILES, withCaDir } from '../../certs/index.js';

const root = mkdtempSync(join(tmpdir(), 'ca-cli-'));
t.teardown(() => rmSync(root, { recursive: true, force: true }));
const bin = new URL('../../bin/credit.js', import.meta.url).pathname;
const p = (...parts: string[]) => join(root, ...parts);
const mode = (path: string) => statSync(path).mode & 0o777;

async function run(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { stdout: (s) => void out.push(s), stderr: (s) => void err.push(s) });
  return { code, out: out.join(''), err: err.join('') };
}

function openssl(...args: string[]) {
  const r = spawnSync('openssl', args, { encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

/** Runs a CLI call that must fail; returns the code from `error CODE: …`. */
async function failCode(...argv: string[]): Promise<string> {
  const r = await run(...argv);
  return r.code === 0 ? 'exit 0' : (/^error (ERR_[A-Z_]+):/m.exec(r.err)?.[1] ?? `exit ${r.code}: ${r.err}`);
}

const ca = p('ca');
const serialOf = (certFile: string) => openssl('x509', '-noout', '-serial', '-in', certFile).out.trim().replace(/^serial=/, '');

t.test('ca init: a root CA with a 0600 key in a 0700 directory; never twice', async (t) => {
  const r = await run('ca', 'init', '--dir', ca);
  t.equal(r.code, 0, r.err);
  t.match(r.out, /fingerprint [0-9a-f]{64}/);
  t.equal(mode(ca), 0o700, 'directory 0700');
  t.equal(mode(join(ca, CA_FILES.key)), 0o600, 'ca.key 0600');
  t.equal(mode(join(ca, CA_FILES.state)), 0o600, 'state.json 0600');
  const text = openssl('x509', '-noout', '-text', '-in', join(ca, 'ca.pem')).out;
  t.match(text, /Basic Constraints: critical\s+CA:TRUE/);
  t.match(text, /Key Usage: critical\s+Certificate Sign, CRL Sign/);
  const key = readFileSync(join(ca, CA_FILES.key), 'utf8');
  t.equal(await failCode('ca', 'init', '--dir', ca), 'ERR_CA_EXISTS');
  t.equal(readFileSync(join(ca, CA_FILES.key), 'utf8'), key, 'the key is untouched');
  t.equal(await failCode('ca', 'list', '--dir', p('nowhere')), 'ERR_CA_NOT_FOUND');
  t.equal(await failCode('ca', 'issue', '--dir', p('nowhere'), '--csr', join(ca, 'ca.pem'), '--out', p('x.pem')), 'ERR_CA_NOT_FOUND');
});

t.test('node keygen: node.key 0600 and a CSR whose CN is the node id; bad ids refused', async (t) => {
  const r = await run('node', 'keygen', '--node', '430100', '--out', p('n430100'), '--algorithm', 'rsa');
  t.equal(r.code, 0, r.err);
  t.equal(mode(p('n430100', 'node.key')), 0o600);
  const req = openssl('req', '-verify', '-noout', '-subject', '-in', p('n430100', 'node.csr'));
  t.equal(req.status, 0, 'openssl req -verify runs');
  t.match(req.out, /verify OK/i);
  t.match(req.out, /CN ?= ?430100/);
  const key = readFileSync(p('n430100', 'node.key'), 'utf8');
  t.equal(await failCode('node', 'keygen', '--node', '430100', '--out', p('n430100')), 'ERR_KEY_EXISTS');
  t.equal(readFileSync(p('n430100', 'node.key'), 'utf8'), key, 'the key is untouched');
  for (const bad of ['43010', '4301000', 'changsha', '990100']) t.equal(await failCode('node', 'keygen', '--node', bad, '--out', p(`bad-${bad}`)), 'ERR_INVALID_NODE_ID', bad);
  t.equal((await run('node', 'keygen', '--node', '430700', '--out', p('n430700'), '--algorithm', 'rsa')).code, 0);
  t.equal(await failCode('node', 'keygen', '--node', '430702', '--out', p('n430702'), '--algorithm', 'dsa'), 'ERR_USAGE');
});

t.test('node keygen makes an EC P-256 key by default (issue 23); ca issue gives it an EC certificate openssl verifies', async (t) => {
  const r = await run('node', 'keygen', '--node', '430181', '--out', p('n430181'));
  t.equal(r.code, 0, r.err);
  t.match(openssl('pkey', '-in', p('n430181', 'node.key'), '-noout', '-text').out, /ASN1 OID: prime256v1/, 'a P-256 key');
  const req = openssl('req', '-verify', '-noout', '-subject', '-in', p('n430181', 'node.csr'));
  t.match(req.out, /verify OK/i);
  t.match(req.out, /CN ?= ?430181/);
  const issued = await run('ca', 'issue', '--dir', ca, '--csr', p('n430181', 'node.csr'), '--out', p('n430181', 'node.pem'));
  t.equal(issued.code, 0, issued.err);
  const v = openssl('verify', '-CAfile', join(ca, 'ca.pem'), p('n430181', 'node.pem'));
  t.equal(v.status, 0, v.out);
  const text = openssl('x509', '-noout', '-text', '-in', p('n430181', 'node.pem')).out;
  t.match(text, /Key Usage: critical\s+Digital Signature, Key Agreement/);
  const pub = (args: string[]) => openssl(...args).out;
  t.equal(pub(['x509', '-in', p('n430181', 'node.pem'), '-noout', '-pubkey']), pub(['pkey', '-in', p('n430181', 'node.key'), '-pubout']), 'certificate carries the node key');
});

t.test('ca issue: openssl verifies the certificate; EKUs and SANs for mutual TLS', async (t) => {
  const r = await run('ca', 'issue', '--dir', ca, '--csr', p('n430100', 'node.csr'), '--out', p('n430100', 'node.pem'), '--host', 'node.changsha.example', '--host', '10.0.0.7');
  t.equal(r.code, 0, r.err);
  const v = openssl('verify', '-CAfile', join(ca, 'ca.pem'), p('n430100', 'node.pem'));
  t.equal(v.status, 0, v.out);
  t.match(v.out, /: OK/);
  const text = openssl('x509', '-noout', '-text', '-in', p('n430100', 'node.pem')).out;
  t.match(text, /Subject: C ?= ?CN, CN ?= ?430100/);
  t.match(text, /Extended Key Usage:\s+TLS Web Server Authentication, TLS Web Client Authentication/);
  t.match(text, /Basic Constraints: critical\s+CA:FALSE/);
  t.match(text, /Key Usage: critical\s+Digital Signature, Key Encipherment/);
  t.match(text, /Subject Alternative Name:\s+DNS:localhost, IP Address:127\.0\.0\.1, DNS:node\.changsha\.example, IP Address:10\.0\.0\.7/);
  t.match(text, /Authority Key Identifier/);
  t.match(r.out, new RegExp(`issued ${serialOf(p('n430100', 'node.pem'))} for node 430100`), 'the printed serial is the certificate serial');
  const modulus = (args: string[]) => openssl(...args, '-noout', '-modulus').out;
  t.equal(modulus(['x509', '-in', p('n430100', 'node.pem')]), modulus(['rsa', '-in', p('n430100', 'node.key')]), 'certificate carries the node key');
  t.equal(await failCode('ca', 'issue', '--dir', ca, '--csr', p('n430100', 'node.csr'), '--out', p('x.pem'), '--host', 'bad host!'), 'ERR_HOST_INVALID');
  t.equal(await failCode('ca', 'issue', '--dir', ca, '--csr', p('missing.csr'), '--out', p('x.pem')), 'ERR_USAGE');
});

t.test('ca issue refuses a CSR whose self-signature does not verify, or whose CN is not a node id', async (t) => {
  const csrPem = readFileSync(p('n430700', 'node.csr'), 'utf8');
  const der = Buffer.from(csrPem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
  der[der.length - 5] = der[der.length - 5]! ^ 0x01; // inside the signature bits
  const flipped = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
  writeFileSync(p('flipped.csr'), flipped);
  // openssl 3.0 `req -verify` exits 0 even when the signature fails: read what it says
  t.match(openssl('req', '-verify', '-noout', '-in', p('flipped.csr')).out, /verify failure/, 'openssl also rejects it');
  t.equal(await failCode('ca', 'issue', '--dir', ca, '--csr', p('flipped.csr'), '--out', p('x.pem')), 'ERR_CSR_INVALID');

  const csr = forge.pki.certificationRequestFromPem(csrPem);
  (csr as { certificationRequestInfo: unknown }).certificationRequestInfo = null; // re-encode from the fields below
  csr.publicKey = forge.pki.publicKeyFromPem(openssl('rsa', '-in', p('n430100', 'node.key'), '-pubout').out.replace(/^[^-]*/, ''));
  writeFileSync(p('swapped.csr'), forge.pki.certificationRequestToPem(csr)); // 430100's key under 430700's signature
  t.match(openssl('req', '-verify', '-noout', '-in', p('swapped.csr')).out, /verify failure/, 'openssl also rejects it');
  t.equal(await failCode('ca', 'issue', '--dir', ca, '--csr', p('swapped.csr'), '--out', p('x.pem')), 'ERR_CSR_INVALID');

  writeFileSync(p('garbage.csr'), '-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n');
  t.equal(await failCode('ca', 'issue', '--dir', ca, '--csr', p('garbage.csr'), '--out', p('x.pem')), 'ERR_CSR_INVALID');

  const hubReq = openssl('req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', p('hubname.key'), '-subj', '/CN=hub.example', '-out', p('hubname.csr'));
  t.equal(hubReq.status, 0, 'openssl makes a CSR for CN=hub.example');
  t.equal(await failCode('ca', 'issue', '--dir', ca, '--csr', p('hubname.csr'), '--out', p('x.pem')), 'ERR_INVALID_NODE_ID');
});

t.test('ca token: only the token on stdout (real process), stored hashed; redeemed once by ca issue --token', async (t) => {
  const r = await promisify(execFile)(process.execPath, [bin, 'ca', 'token', '--dir', ca, '--node', '430700', '--grade', '3', '--ttl', '2h']);
  t.match(r.stdout, /^cf1_[A-Za-z0-9_-]{43}\n$/, 'one token line, nothing else');
  t.match(r.stderr, /node 430700 \(grade 3\): single use, expires \d{4}-/);
  const token = r.stdout.trim();
  const state = readFileSync(join(ca, CA_FILES.state), 'utf8');
  t.notOk(state.includes(token), 'the token itself is not stored');
  t.ok(state.includes(createHash('sha256').update(token).digest('hex')), 'its SHA-256 is');

  t.equal(await failCode('ca', 'issue', '--dir', ca, '--csr', p('n430100', 'node.csr'), '--out', p('x.pem'), '--token', token), 'ERR_TOKEN_NODE_MISMATCH', "a token for 430700 does not enrol 430100");
  const ok = await run('ca', 'issue', '--dir', ca, '--csr', p('n430700', 'node.csr'), '--out', p('n430700', 'node.pem'), '--token', token);
  t.equal(ok.code, 0, 'the mismatch did not consume it');
  t.equal(await failCode('ca', 'issue', '--dir', ca, '--csr', p('n430700', 'node.csr'), '--out', p('x.pem'), '--token', token), 'ERR_TOKEN_USED');
  t.equal(await failCode('ca', 'issue', '--dir', ca, '--csr', p('n430700', 'node.csr'), '--out', p('x.pem'), '--token', `cf1_${'A'.repeat(43)}`), 'ERR_TOKEN_INVALID');
  t.equal(await failCode('ca', 'issue', '--dir', ca, '--csr', p('n430700', 'node.csr'), '--out', p('x.pem'), '--token', 'hello'), 'ERR_TOKEN_INVALID');
  const listed = JSON.parse((await run('ca', 'list', '--dir', ca, '--json')).out) as { nodeId: string; grade?: number }[];
  t.equal(listed.find((c) => c.nodeId === '430700')?.grade, 3, 'the grade travels from token to register');

  t.equal(await failCode('ca', 'token', '--dir', ca, '--node', '430700', '--grade', '5'), 'ERR_GRADE_INVALID');
  t.equal(await failCode('ca', 'token', '--dir', ca, '--node', '430700', '--grade', 'three'), 'ERR_GRADE_INVALID');
  t.equal(await failCode('ca', 'token', '--dir', ca, '--node', '4307', '--grade', '2'), 'ERR_INVALID_NODE_ID');
  t.equal(await failCode('ca', 'token', '--dir', ca, '--node', '430700', '--grade', '2', '--ttl', 'soon'), 'ERR_USAGE');
  t.equal(await failCode('ca', 'token', '--dir', ca, '--node', '430700', '--grade', '2', '--ttl', '31d'), 'ERR_USAGE');
});

t.test('ca revoke + ca crl: openssl refuses the revoked certificate and lists serial and reason', async (t) => {
  const serial = serialOf(p('n430100', 'node.pem'));
  const r = await run('ca', 'revoke', '--dir', ca, '--serial', serial.toLowerCase(), '--reason', 'keyCompromise');
  t.equal(r.code, 0, r.err);
  t.match(r.out, new RegExp(`revoked ${serial} \\(keyCompromise\\)`));
  t.equal((await run('ca', 'crl', '--dir', ca, '--out', p('crl.pem'))).code, 0);
  t.match(readFileSync(p('crl.pem'), 'utf8'), /^-----BEGIN X509 CRL-----\n/);
  const v = openssl('verify', '-crl_check', '-CAfile', join(ca, 'ca.pem'), '-CRLfile', p('crl.pem'), p('n430100', 'node.pem'));
  t.not(v.status, 0);
  t.match(v.out, /certificate revoked/);
  const other = openssl('verify', '-crl_check', '-CAfile', join(ca, 'ca.pem'), '-CRLfile', p('crl.pem'), p('n430700', 'node.pem'));
  t.equal(other.status, 0, `another node's certificate still verifies: ${other.out}`);
  const text = openssl('crl', '-noout', '-text', '-in', p('crl.pem'), '-CAfile', join(ca, 'ca.pem')).out;
  t.match(text, /verify OK/, 'signed by the CA');
  t.match(text, new RegExp(`Serial Number: ${serial}\\s+Revocation Date: .*\\s+CRL entry extensions:\\s+X509v3 CRL Reason Code:\\s+Key Compromise`));
  t.match(text, /Next Update: \w{3} +\d+ [\d:]+ \d{4} GMT/);
  t.match(text, /CRL Number/);

  const again = await run('ca', 'revoke', '--dir', ca, '--serial', serial, '--reason', 'superseded');
  t.equal(again.code, 0, 'revoking twice is harmless');
  t.match(again.err, /already revoked/);
  t.equal(await failCode('ca', 'revoke', '--dir', ca, '--serial', 'ABCDEF', '--reason', 'superseded'), 'ERR_CERT_NOT_FOUND');
  t.equal(await failCode('ca', 'revoke', '--dir', ca, '--node', '431081', '--reason', 'superseded'), 'ERR_CERT_NOT_FOUND');
  t.equal(await failCode('ca', 'revoke', '--dir', ca, '--serial', serial, '--reason', 'unspecified'), 'ERR_REVOCATION_REASON');
  t.equal(await failCode('ca', 'revoke', '--dir', ca, '--serial', serial, '--node', '430100', '--reason', 'superseded'), 'ERR_USAGE');
  t.equal(await failCode('ca', 'revoke', '--dir', ca, '--reason', 'superseded'), 'ERR_USAGE');
});

t.test('ca revoke --node revokes every active certificate of the node; ca list shows it', async (t) => {
  for (const n of ['a', 'b']) {
    t.equal((await run('node', 'keygen', '--node', '431081', '--out', p(`n431081${n}`))).code, 0);
    t.equal((await run('ca', 'issue', '--dir', ca, '--csr', p(`n431081${n}`, 'node.csr'), '--out', p(`n431081${n}`, 'node.pem'), '--days', '30')).code, 0);
  }
  const r = await run('ca', 'revoke', '--dir', ca, '--node', '431081', '--reason', 'cessationOfOperation');
  t.equal(r.out.trim().split('\n').length, 2, 'both certificates');
  await run('ca', 'crl', '--dir', ca, '--out', p('crl2.pem'));
  const text = openssl('crl', '-noout', '-text', '-in', p('crl2.pem')).out;
  for (const n of ['a', 'b']) t.match(text, new RegExp(`Serial Number: ${serialOf(p(`n431081${n}`, 'node.pem'))}[\\s\\S]*?Cessation Of Operation`));
  t.match(text, /Key Compromise/, 'the earlier revocation is still listed');

  const table = (await run('ca', 'list', '--dir', ca)).out.split('\n');
  t.match(table[0], /^NODE\s+SERIAL\s+NOT AFTER\s+STATUS/);
  t.equal(table.filter((l) => /^431081 .* revoked /.test(l)).length, 2);
  t.ok(table.some((l) => /^430700 .* active /.test(l)));
  const json = JSON.parse((await run('ca', 'list', '--dir', ca, '--json')).out) as { nodeId: string; serial: string; notAfter: string; status: string; reason?: string }[];
  t.equal(json.length, 5, "the four issued before plus 430181's EC certificate");
  t.match(json.find((c) => c.nodeId === '430100'), { nodeId: '430100', serial: serialOf(p('n430100', 'node.pem')), status: 'revoked', reason: 'keyCompromise' }, 'serial, status, reason');
});

t.test('the state file: concurrent runs lose nothing; a held lock and a damaged file are reported', async (t) => {
  const before = (JSON.parse(readFileSync(join(ca, CA_FILES.state), 'utf8')) as { tokens: unknown[] }).tokens.length;
  const runs = await Promise.all(Array.from({ length: 8 }, () => run('ca', 'token', '--dir', ca, '--node', '430181', '--grade', '2')));
  t.same(runs.map((r) => r.code), Array(8).fill(0));
  t.equal(new Set(runs.map((r) => r.out)).size, 8, 'eight different tokens');
  t.equal((JSON.parse(readFileSync(join(ca, CA_FILES.state), 'utf8')) as { tokens: unknown[] }).tokens.length, before + 8, 'all eight recorded');

  const lock = join(ca, CA_FILES.lock);
  writeFileSync(lock, `${process.pid}\n`); // a live holder
  await t.rejects(withCaDir(ca, async () => 0, { lockTimeoutMs: 50 }), { code: 'ERR_CA_LOCKED' });
  rmSync(lock);
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
  writeFileSync(lock, `${dead}\n`); // left behind by a process that died
  t.equal((await run('ca', 'token', '--dir', ca, '--node', '430181', '--grade', '2')).code, 0, 'a dead holder\'s lock is taken over');

  const copy = p('ca-damaged');
  t.equal((await run('ca', 'init', '--dir', copy)).code, 0);
  writeFileSync(join(copy, CA_FILES.state), '{"version":1,"issued":[');
  t.equal(await failCode('ca', 'list', '--dir', copy), 'ERR_CA_STATE_INVALID');
  writeFileSync(join(copy, CA_FILES.state), '{"version":2}');
  t.equal(await failCode('ca', 'token', '--dir', copy, '--node', '430100', '--grade', '1'), 'ERR_CA_STATE_INVALID');
});

t.test('as real processes: exit codes and the shell contract', async (t) => {
  const again = spawnSync(process.execPath, [bin, 'ca', 'init', '--dir', ca], { encoding: 'utf8' });
  t.equal(again.status, 1);
  t.match(again.stderr, /^error ERR_CA_EXISTS: /m);
  const usage = spawnSync(process.execPath, [bin, 'ca', 'revoke', '--dir', ca, '--reason', 'superseded'], { encoding: 'utf8' });
  t.equal(usage.status, 2);
  const help = spawnSync(process.execPath, [bin, 'ca', '--help'], { encoding: 'utf8' });
  t.equal(help.status, 0);
  for (const c of ['init', 'issue', 'token', 'revoke', 'crl', 'list']) t.match(help.stdout, new RegExp(`\\n  ${c} `), `ca --help lists ${c}`);
});
