/**
 * Enrolment against a hub whose certificate is wrong (issue 17 item 7): a certificate from another
 * CA is ERR_HUB_CERT_UNTRUSTED and a certificate without the host name is ERR_HUB_NAME_MISMATCH,
 * each one line naming the fix — not ERR_HUB_UNAVAILABLE blaming the network. Nothing is written.
 * And the key type init picks without --algorithm: the one the config's own hub.suites admits.
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
import { parseCsr } from '../../certs/csr.js';

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

t.test("no --algorithm: the key type the config's own hub.suites admits (RSA at an RSA-only policy, else EC P-256)", async (t) => {
  const bodies: string[] = [];
  const identity = issue(ca, '430000', { hosts: ['127.0.0.1'] });
  // no client certificate asked for: enrolment is before the node has one
  const server = createServer({ cert: identity.certPem, key: identity.keyPem }, (req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      bodies.push(body);
      res.statusCode = 400;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ code: 'ERR_TOKEN_INVALID', message: 'test hub: refused' }));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const port = (server.address() as { port: number }).port;
  const keyTypeSent = async (suites: string[] | undefined): Promise<string> => {
    const sub = mkdtempSync(join(dir, 'alg-'));
    const file = join(sub, 'node.json');
    writeFileSync(file, JSON.stringify({ nodeId: '430100', dataDir: join(sub, 'data'), listen: { host: '127.0.0.1', port: 0 }, ...(suites ? { hub: { url: `https://127.0.0.1:${port}`, suites } } : {}) }));
    const c = capture();
    const code = await main(['node', 'init', '--config', file, '--hub', `https://127.0.0.1:${port}`, '--token', 'x'.repeat(43), '--ca', caFile], c.io);
    t.equal(code, 1, c.err.join(''));
    const csrPem = (JSON.parse(bodies.at(-1)!) as { csrPem: string }).csrPem;
    return (await parseCsr(csrPem)).keyType;
  };
  t.equal(await keyTypeSent(undefined), 'ec-p256', 'no policy: EC P-256');
  t.equal(await keyTypeSent(['RSA']), 'rsa', 'an RSA-only policy: RSA, which the hub can seal for');
  t.equal(await keyTypeSent(['EC', 'RSA']), 'ec-p256');
});
