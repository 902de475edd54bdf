/** The CA directory and node key files: modes, refusal to overwrite, damaged state, locking. */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import {
  CA_FILES, createNodeKeys, initCaDir, issueCertificate, listCertificates, openCaDir, revoke, withCaDir, writeNodeKeys,
} from '../../certs/index.js';
import { openssl, tempDir } from './support.js';

const mode = async (p: string) => (await stat(p)).mode & 0o777;

t.test('ca init writes ca.pem, ca.key (0600) and state.json in a 0700 directory', async (t) => {
  const dir = join(await tempDir(t), 'ca');
  const old = process.umask(0o000); // a careless umask must not widen the key
  t.teardown(() => void process.umask(old));
  await initCaDir(dir, { cn: 'Test Root' });
  t.equal(await mode(dir), 0o700, 'directory 0700');
  t.equal(await mode(join(dir, CA_FILES.key)), 0o600, 'ca.key 0600');
  t.equal(await mode(join(dir, CA_FILES.state)), 0o600, 'state.json 0600');
  const x = openssl(['x509', '-in', join(dir, CA_FILES.cert), '-noout', '-subject']);
  t.match(x.out, /CN\s*=\s*Test Root/);
  const k = openssl(['pkey', '-in', join(dir, CA_FILES.key), '-noout', '-text_pub']);
  t.match(k.out, /2048 bit/, 'an RSA 2048 key openssl can read');
  t.same(JSON.parse(await readFile(join(dir, CA_FILES.state), 'utf8')), { version: 1, issued: [], tokens: [] });
});

t.test('ca init refuses to overwrite an existing CA', async (t) => {
  const dir = join(await tempDir(t), 'ca');
  await initCaDir(dir);
  const before = await readFile(join(dir, CA_FILES.key), 'utf8');
  await t.rejects(initCaDir(dir), { code: 'ERR_CA_EXISTS' });
  t.equal(await readFile(join(dir, CA_FILES.key), 'utf8'), before, 'the key is untouched');
  for (const f of [CA_FILES.cert, CA_FILES.key, CA_FILES.state]) {
    const half = await tempDir(t);
    await writeFile(join(half, f), 'left over');
    await t.rejects(initCaDir(half), { code: 'ERR_CA_EXISTS' }, `a lone ${f} is enough to refuse`);
    t.equal(await readFile(join(half, f), 'utf8'), 'left over');
  }
});

t.test('a missing CA is ERR_CA_NOT_FOUND; a damaged state file is ERR_CA_STATE_INVALID', async (t) => {
  const root = await tempDir(t);
  await t.rejects(openCaDir(join(root, 'nope')), { code: 'ERR_CA_NOT_FOUND' });
  await t.rejects(withCaDir(join(root, 'nope'), async () => 1), { code: 'ERR_CA_NOT_FOUND' });
  const dir = join(root, 'ca');
  await initCaDir(dir);
  await writeFile(join(dir, CA_FILES.state), '{"version":1,"issued":[');
  await t.rejects(openCaDir(dir), { code: 'ERR_CA_STATE_INVALID' }, 'truncated JSON');
  await writeFile(join(dir, CA_FILES.state), '{"version":2,"issued":[],"tokens":[]}');
  await t.rejects(openCaDir(dir), { code: 'ERR_CA_STATE_INVALID' }, 'unknown version');
});

t.test('a lock held by a live process makes changes wait, then fail with ERR_CA_LOCKED', async (t) => {
  const dir = join(await tempDir(t), 'ca');
  await initCaDir(dir);
  await writeFile(join(dir, CA_FILES.lock), `${process.pid}\n`);
  await t.rejects(withCaDir(dir, async () => 1, { lockTimeoutMs: 100 }), { code: 'ERR_CA_LOCKED' });
  const ca = await openCaDir(dir, { lockTimeoutMs: 100 });
  await t.rejects(issueCertificate(ca, createNodeKeys('430100').csrPem), { code: 'ERR_CA_LOCKED' });
  t.same(await ca.certs.listIssued(), [], 'nothing was recorded');
});

t.test('a lock left by a dead process is taken over', async (t) => {
  const dir = join(await tempDir(t), 'ca');
  await initCaDir(dir);
  const child = spawn(process.execPath, ['-e', '']);
  await once(child, 'exit');
  await writeFile(join(dir, CA_FILES.lock), `${child.pid}\n`);
  t.equal(await withCaDir(dir, async () => 'ran', { lockTimeoutMs: 2000 }), 'ran');
  await t.rejects(stat(join(dir, CA_FILES.lock)), { code: 'ENOENT' }, 'lock released');
});

t.test('concurrent changes through separate openings are all kept', async (t) => {
  const dir = join(await tempDir(t), 'ca');
  await initCaDir(dir);
  const csrs = ['430100', '430200', '430300', '430400', '430500', '430600'].map((id) => createNodeKeys(id).csrPem);
  const issued = await Promise.all(csrs.map(async (csr) => issueCertificate(await openCaDir(dir), csr)));
  const listed = await listCertificates(await openCaDir(dir));
  t.equal(listed.length, 6, 'six certificates in the register');
  t.same(new Set(listed.map((c) => c.serial)), new Set(issued.map((c) => c.serial)));
  await Promise.all(issued.slice(0, 3).map(async (c) => revoke(await openCaDir(dir), { serial: c.serial, reason: 'keyCompromise' })));
  t.equal((await listCertificates(await openCaDir(dir))).filter((c) => c.status === 'revoked').length, 3);
  await t.rejects(stat(join(dir, CA_FILES.lock)), { code: 'ENOENT' }, 'no lock left behind');
});

t.test('withCaDir runs its function under the lock and persists its changes', async (t) => {
  const dir = join(await tempDir(t), 'ca');
  await initCaDir(dir);
  const serial = await withCaDir(dir, async (ca) => {
    const lock = await stat(join(dir, CA_FILES.lock));
    t.ok(lock.isFile(), 'lock held inside');
    return (await issueCertificate(ca, createNodeKeys('430100').csrPem)).serial;
  });
  const state = JSON.parse(await readFile(join(dir, CA_FILES.state), 'utf8')) as { issued: { serial: string; nodeId: string; status: string }[] };
  t.same(state.issued.map((c) => [c.serial, c.nodeId, c.status]), [[serial, '430100', 'active']]);
});

t.test('node keygen: node.key 0600 + node.csr for the node id; no overwrite; bad ids refused', async (t) => {
  const dir = join(await tempDir(t), 'node');
  const old = process.umask(0o000);
  t.teardown(() => void process.umask(old));
  const r = await writeNodeKeys(dir, '430100');
  t.equal(r.keyPath, join(dir, 'node.key'));
  t.equal(await mode(r.keyPath), 0o600, 'node.key 0600');
  const req = openssl(['req', '-in', r.csrPath, '-noout', '-verify', '-subject']);
  t.match(req.out, /verify OK/i);
  t.match(req.out, /CN\s*=\s*430100/);
  const pub = (args: string[]) => openssl(args).out.trim();
  t.equal(pub(['pkey', '-in', r.keyPath, '-pubout']), pub(['req', '-in', r.csrPath, '-noout', '-pubkey']), 'the CSR is for that key');
  t.match(openssl(['pkey', '-in', r.keyPath, '-noout', '-text']).out, /ASN1 OID: prime256v1/, 'EC P-256 by default (issue 23)');
  const rsa = await writeNodeKeys(join(dir, 'rsa'), '430100', 'rsa');
  t.match(openssl(['pkey', '-in', rsa.keyPath, '-noout', '-text']).out, /Private-Key: \(2048 bit/, 'RSA 2048 when asked');
  const key = await readFile(r.keyPath, 'utf8');
  await t.rejects(writeNodeKeys(dir, '430100'), { code: 'ERR_KEY_EXISTS' });
  t.equal(await readFile(r.keyPath, 'utf8'), key, 'the existing key is kept');
  for (const bad of ['43010', '4301000', 'hub', '', 'abcdef', '430100 ']) {
    await t.rejects(writeNodeKeys(join(dir, 'x'), bad), { code: 'ERR_INVALID_NODE_ID' }, JSON.stringify(bad));
    t.throws(() => createNodeKeys(bad), { code: 'ERR_INVALID_NODE_ID' });
  }
});
