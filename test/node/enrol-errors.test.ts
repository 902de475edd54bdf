/**
 * Enrolment against a hub whose certificate is wrong (issue 17 item 7): a certificate from another
 * CA is ERR_HUB_CERT_UNTRUSTED and a certificate without the host name is ERR_HUB_NAME_MISMATCH,
 * each one line naming the fix — not ERR_HUB_UNAVAILABLE blaming the network. Nothing is written.
 */
import t, { type Test } from 'tap';
import { createServer } from 'node:https';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../scripts/cli.js';
import { tlsServerOptions } from '../../certs/tls.js';
import { issue, makeCa } from '../helpers/pki.js';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { stdout: (s: string) => void out.push(s), stderr: (s: string) => void err.push(s) }, out, err };
}

const dir = mkdtempSync(join(tmpdir(), 'enrol-errors-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const ca = makeCa();
const caFile = join(dir, 'ca.pem');
writeFileSync(caFile, ca.certPem);
const configFile = join(dir, 'node.json');
writeFileSync(configFile, JSON.stringify({ nodeId: '430100', dataDir: join(dir, 'data'), listen: { host: '127.0.0.1', port: 0 } }));

async function fakeHub(t: Test, identity: { certPem: string; keyPem: string }): Promise<number> {
  const server = createServer(tlsServerOptions({ caCertPem: ca.certPem, certPem: identity.certPem, keyPem: identity.keyPem }), (_req, res) => res.end('{}'));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  return (server.address() as { port: number }).port;
}

async function init(hubUrl: string): Promise<{ code: number; err: string }> {
  const c = capture();
  const code = await main(['node', 'init', '--config', configFile, '--hub', hubUrl, '--token', 'x'.repeat(43), '--ca', caFile], c.io);
  return { code, err: c.err.join('') };
}

t.test("a hub certificate from another CA: ERR_HUB_CERT_UNTRUSTED naming ca.pem", async (t) => {
  const port = await fakeHub(t, issue(makeCa('Some other CA'), '430000', { hosts: ['127.0.0.1'] }));
  const r = await init(`https://127.0.0.1:${port}`);
  t.equal(r.code, 1);
  t.match(r.err, /^error ERR_HUB_CERT_UNTRUSTED: the hub's certificate is not from the CA in ca\.pem \(\w+\): check that --ca/);
  t.equal(r.err.trim().split('\n').length, 1, 'one line, no stack');
  t.notOk(existsSync(join(dir, 'data', 'exchange', 'node.pem')), 'not enrolled');
});

t.test("a hub certificate without the host name: ERR_HUB_NAME_MISMATCH asking to add it to hosts", async (t) => {
  const port = await fakeHub(t, issue(ca, '430000', { hosts: ['127.0.0.1'] }));
  const r = await init(`https://localhost:${port}`);
  t.equal(r.code, 1);
  t.match(r.err, /^error ERR_HUB_NAME_MISMATCH: the hub's certificate does not name 'localhost' .* ask the operator to add 'localhost' to hosts/);
  t.equal(r.err.trim().split('\n').length, 1);
  t.notOk(existsSync(join(dir, 'data', 'exchange', 'node.pem')), 'not enrolled');
});
