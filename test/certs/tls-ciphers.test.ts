/**
 * Forward secrecy on every listener (issue 13 item 19), checked with the real `openssl s_client`:
 * on TLS 1.2 only ECDHE suites are offered (static-RSA AES256-GCM-SHA384 and AES128-SHA fail the
 * handshake), and a client that speaks 1.3 gets 1.3. Both the hub's mutual-TLS listener and a
 * node's local HTTPS API (config listen.tls, an RSA certificate so static RSA would be possible).
 */
import t, { type Test } from 'tap';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildConfig } from '../../node/config.js';
import { startNode } from '../../node/server.js';
import { hubFixture } from '../hub/fixture.js';

/** `openssl s_client` against 127.0.0.1:port (async: the listener runs in this process). */
function sClient(port: number, args: string[]): Promise<{ ok: boolean; out: string }> {
  return new Promise((resolve) => {
    const child = execFile('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'localhost', ...args], { timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ ok: err === null, out: `${stdout}${stderr}` });
    });
    child.stdin?.end();
  });
}

const portOf = (url: string) => Number(new URL(url).port);

async function checkListener(t: Test, port: number): Promise<void> {
  for (const cipher of ['AES256-GCM-SHA384', 'AES128-SHA', 'AES128-GCM-SHA256']) {
    const r = await sClient(port, ['-tls1_2', '-cipher', cipher]);
    t.notOk(r.ok, `static-RSA ${cipher} on TLS 1.2 is refused`);
    t.match(r.out, /handshake failure|no shared cipher|alert/i, cipher);
  }
  const ecdhe = await sClient(port, ['-tls1_2', '-cipher', 'ECDHE-RSA-AES128-GCM-SHA256']);
  t.ok(ecdhe.ok, 'ECDHE handshake completes');
  t.match(ecdhe.out, /Cipher is ECDHE-RSA-AES128-GCM-SHA256/, 'an ECDHE suite on TLS 1.2 is accepted');
  const any12 = await sClient(port, ['-tls1_2']);
  t.match(any12.out, /Cipher is ECDHE-/, 'TLS 1.2 with the client\'s default list picks an ECDHE suite');
  const modern = await sClient(port, []);
  t.ok(modern.ok, 'default handshake completes');
  t.match(modern.out, /New, TLSv1\.3, Cipher is TLS_/, 'a 1.3 client gets TLS 1.3');
}

t.test('the hub listener offers only ECDHE on TLS 1.2 and prefers 1.3', async (t) => {
  const f = await hubFixture(t);
  await checkListener(t, portOf(f.url));
});

t.test('a node\'s HTTPS API (listen.tls, RSA certificate) offers only ECDHE on TLS 1.2 and prefers 1.3', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'node-tls-ciphers-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const key = join(dir, 'key.pem');
  const cert = join(dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  const config = buildConfig({ nodeId: '430100', dataDir: join(dir, 'data'), listen: { host: '127.0.0.1', port: 0, tls: { certFile: cert, keyFile: key } }, logLevel: 'silent' }, {});
  const node = await startNode({ config });
  t.teardown(() => node.close());
  await checkListener(t, portOf(node.url));
});
