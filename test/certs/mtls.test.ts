/**
 * Mutual TLS on loopback with real node:tls and certificates from certs/: a good client is let in
 * and identified; a revoked (server holds the CRL), an expired, a foreign-CA client and a client
 * without a certificate are refused in the handshake. The client also refuses a revoked server.
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import tls from 'node:tls';
import t, { type Test } from 'tap';
import { buildCrl, createNodeKeys, issueCertificate, peerIdentity, revoke, tlsClientOptions, tlsServerOptions } from '../../certs/index.js';
import { createMemoryCa, enrolled, type NodeIdentity } from './support.js';

const ca = createMemoryCa({ cn: 'Test Provincial Credit CA' });

interface Outcome {
  /** What the server said after the handshake ("hello <nodeId>"), or null when refused. */
  greeting: string | null;
  clientError: string | null;
}

interface Server {
  port: number;
  /** Why the server refused handshakes: the socket's authorizationError (OpenSSL's verify code). */
  refusals: string[];
  identities: ReturnType<typeof peerIdentity>[];
}

async function startServer(t: Test, opts: Parameters<typeof tlsServerOptions>[0]): Promise<Server> {
  const refusals: string[] = [];
  const identities: ReturnType<typeof peerIdentity>[] = [];
  const server = tls.createServer(tlsServerOptions(opts), (socket) => {
    const id = peerIdentity(socket);
    identities.push(id);
    socket.end(`hello ${id?.nodeId ?? 'nobody'}\n`);
  });
  server.on('tlsClientError', (e: Error, socket: tls.TLSSocket) => refusals.push(String(socket.authorizationError ?? e.message)));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('no port');
  return { port: addr.port, refusals, identities };
}

async function talk(port: number, opts: tls.ConnectionOptions): Promise<Outcome> {
  return new Promise((resolve) => {
    let data = '';
    let clientError: string | null = null;
    const socket = tls.connect({ host: '127.0.0.1', port, ...opts });
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (data += d));
    socket.on('error', (e: Error & { code?: string }) => (clientError = `${e.code ?? ''} ${e.message}`));
    socket.on('close', () => resolve({ greeting: data === '' ? null : data.trim(), clientError }));
  });
}

function client(who: NodeIdentity, extra: Partial<Parameters<typeof tlsClientOptions>[0]> = {}): tls.ConnectionOptions {
  return tlsClientOptions({ caCertPem: ca.certPem, certPem: who.certPem, keyPem: who.keyPem, ...extra });
}

t.test('mutual TLS between hub and node', async (t) => {
  const hub = await enrolled(ca, '430000', { hosts: ['hub.credit.example.cn'] });
  const good = await enrolled(ca, '430100');
  const revoked = await enrolled(ca, '430200');
  const { csrPem: oldCsr, keyPem: oldKey } = createNodeKeys('430300');
  const now = Date.now();
  const oldIssued = await issueCertificate(ca, oldCsr, { notBefore: new Date(now - 30 * 86_400_000), notAfter: new Date(now - 86_400_000) });
  const expired: NodeIdentity = { nodeId: '430300', keyPem: oldKey, csrPem: oldCsr, certPem: oldIssued.certPem, serial: oldIssued.serial };
  const otherCa = createMemoryCa({ cn: 'Rogue CA' });
  const foreign = await enrolled(otherCa, '430400');
  await revoke(ca, { serial: revoked.serial, reason: 'keyCompromise' });
  const crlPem = await buildCrl(ca);

  const server = await startServer(t, { caCertPem: ca.certPem, certPem: hub.certPem, keyPem: hub.keyPem, crlPem });

  t.test('a node with a valid certificate completes the handshake and is identified', async (t) => {
    const r = await talk(server.port, client(good, { expectNodeId: '430000' }));
    t.equal(r.greeting, 'hello 430100', String(r.clientError));
    const id = server.identities.at(-1);
    t.equal(id?.nodeId, '430100');
    t.equal(id?.serial, good.serial);
    const der = Buffer.from(good.certPem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    t.equal(id?.fingerprint, createHash('sha256').update(der).digest('hex'), 'fingerprint = SHA-256 of the DER certificate');
  });

  t.test('a revoked node certificate is refused (server holds the CRL)', async (t) => {
    const before = server.refusals.length;
    const r = await talk(server.port, client(revoked));
    t.equal(r.greeting, null, 'no application data for a revoked client');
    t.ok(server.refusals.length > before, 'server reports a refused handshake');
    t.equal(server.refusals.at(-1), 'CERT_REVOKED');
  });

  t.test('an expired node certificate is refused', async (t) => {
    const before = server.refusals.length;
    const r = await talk(server.port, client(expired));
    t.equal(r.greeting, null);
    t.ok(server.refusals.length > before);
    t.equal(server.refusals.at(-1), 'CERT_HAS_EXPIRED');
  });

  t.test('a certificate from another CA is refused', async (t) => {
    const before = server.refusals.length;
    const r = await talk(server.port, tlsClientOptions({ caCertPem: ca.certPem, certPem: foreign.certPem, keyPem: foreign.keyPem }));
    t.equal(r.greeting, null);
    t.ok(server.refusals.length > before);
    t.match(server.refusals.at(-1) ?? '', /^(UNABLE_TO_GET_ISSUER_CERT_LOCALLY|UNABLE_TO_VERIFY_LEAF_SIGNATURE)$/);
  });

  t.test('a client without a certificate is refused', async (t) => {
    const before = server.refusals.length;
    const r = await talk(server.port, { ca: [ca.certPem], rejectUnauthorized: true });
    t.equal(r.greeting, null);
    t.ok(server.refusals.length > before, 'server reports a refused handshake');
  });

  t.test('the client refuses a server whose CN is not the expected node id', async (t) => {
    const r = await talk(server.port, client(good, { expectNodeId: '430900' }));
    t.equal(r.greeting, null);
    t.match(r.clientError ?? '', /430900/);
  });

  t.test('the client refuses a server that does not chain to the provincial CA', async (t) => {
    const rogueHub = await enrolled(otherCa, '430000');
    const rogue = await startServer(t, { caCertPem: ca.certPem, certPem: rogueHub.certPem, keyPem: rogueHub.keyPem });
    const r = await talk(rogue.port, client(good));
    t.equal(r.greeting, null);
    t.match(r.clientError ?? '', /UNABLE_TO_VERIFY_LEAF_SIGNATURE|unable to verify|self.signed/i);
  });

  t.test('the client refuses a revoked server when it holds the CRL', async (t) => {
    const badHub = await enrolled(ca, '430000');
    await revoke(ca, { serial: badHub.serial, reason: 'keyCompromise' });
    const crl2 = await buildCrl(ca);
    const s = await startServer(t, { caCertPem: ca.certPem, certPem: badHub.certPem, keyPem: badHub.keyPem, crlPem: crl2 });
    const r = await talk(s.port, client(good, { crlPem: crl2 }));
    t.equal(r.greeting, null);
    t.match(r.clientError ?? '', /CERT_REVOKED|revoked/i);
  });
});
