/**
 * The PROXY protocol on the hub's listener (server/proxy-listener.ts): read only from trustProxy
 * addresses, so behind an L4 balancer src= and the per-address limits see the client. Over real
 * loopback connections to the hub app (TLS passes through the header reader). Adversarial: a header
 * from an address not in trustProxy, malformed headers, a header that never ends.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { request as httpsRequest } from 'node:https';
import { connect as tlsConnect, createServer as tlsCreateServer } from 'node:tls';
import t, { type Test } from 'tap';
import { readProxyHeader, V2_SIGNATURE } from '../../server/proxy-protocol.js';
import { installProxyProtocol } from '../../server/proxy-listener.js';
import { hubAccountsFixture } from '../hub/accounts-fixture.js';

const wrong = { user: 'u1', password: 'Wrong-password-1', otp: '000000' };

function v2(cmd: number, fam: number, addr: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head[0] = 0x20 | cmd;
  head[1] = fam;
  head.writeUInt16BE(addr.length, 2);
  return Buffer.concat([V2_SIGNATURE, head, addr]);
}
const tcp4 = (src: number[], dst: number[]) => Buffer.from([...src, ...dst, 0x1f, 0x90, 0x01, 0xbb]);

t.test('the header reader: v1, v2, LOCAL/UNKNOWN, incomplete, malformed', async (t) => {
  t.same(readProxyHeader(Buffer.from('PROXY TCP4 203.0.113.7 10.0.0.1 5555 443\r\n\x16\x03')), { kind: 'header', length: 42, source: '203.0.113.7' });
  t.same(readProxyHeader(Buffer.from('PROXY TCP6 2001:db8::7 2001:db8::1 5555 443\r\n')), { kind: 'header', length: 45, source: '2001:db8::7' });
  t.same(readProxyHeader(Buffer.from('PROXY UNKNOWN\r\n')), { kind: 'header', length: 15, source: null });
  t.same(readProxyHeader(Buffer.from('PROXY TCP4 203.0.113.7')), { kind: 'more' });
  t.same(readProxyHeader(Buffer.from([0x16, 0x03, 0x01])), { kind: 'none' }, 'a TLS ClientHello is no header');
  t.same(readProxyHeader(v2(1, 0x11, tcp4([198, 51, 100, 20], [10, 0, 0, 1]))), { kind: 'header', length: 28, source: '198.51.100.20' });
  t.same(readProxyHeader(v2(0, 0x00, Buffer.alloc(0))), { kind: 'header', length: 16, source: null }, 'LOCAL: the balancer itself');
  t.same(readProxyHeader(v2(1, 0x11, tcp4([198, 51, 100, 20], [10, 0, 0, 1])).subarray(0, 20)), { kind: 'more' });
  const bad: Array<[string, Buffer]> = [
    ['bad v1 address', Buffer.from('PROXY TCP4 999.0.113.7 10.0.0.1 5555 443\r\n')],
    ['v1 address of the other family', Buffer.from('PROXY TCP4 2001:db8::7 10.0.0.1 5555 443\r\n')],
    ['bad v1 port', Buffer.from('PROXY TCP4 203.0.113.7 10.0.0.1 65536 443\r\n')],
    ['v1 protocol', Buffer.from('PROXY UDP4 203.0.113.7 10.0.0.1 5555 443\r\n')],
    ['v1 fields', Buffer.from('PROXY TCP4 203.0.113.7\r\n')],
    ['v1 line without end', Buffer.from(`PROXY TCP4 ${'1'.repeat(120)}`)],
    ['v2 version', Buffer.concat([V2_SIGNATURE, Buffer.from([0x11, 0x11, 0, 12]), Buffer.alloc(12)])],
    ['v2 command', Buffer.concat([V2_SIGNATURE, Buffer.from([0x22, 0x11, 0, 12]), Buffer.alloc(12)])],
    ['v2 short TCP4 block', v2(1, 0x11, Buffer.alloc(4))],
  ];
  for (const [what, buf] of bad) t.throws(() => readProxyHeader(buf), { code: 'ERR_PROXY_HEADER_INVALID' }, what);
});

/** The hub app listening on loopback with `trustProxy`; its warnings collected. */
async function listeningHub(t: Test, trustProxy: string[], config: Record<string, unknown> = {}) {
  const f = await hubAccountsFixture(t, { config: { trustProxy, ...config } });
  const warnings: Array<Record<string, unknown>> = [];
  f.app.log.warn = ((obj: Record<string, unknown>) => void warnings.push(obj)) as typeof f.app.log.warn;
  await f.app.listen({ host: '127.0.0.1', port: 0 });
  const port = (f.app.server.address() as { port: number }).port;
  /** POST /v1/login (wrong password) on a connection that first sends `prefix`; the src= of its audit entry. */
  const login = async (prefix?: Buffer, headers: Record<string, string> = {}, o: { byteByByte?: boolean } = {}): Promise<string> => {
    const raw = await new Promise<Socket>((resolve, reject) => {
      const s = netConnect(port, '127.0.0.1', () => resolve(s)).on('error', reject);
    });
    raw.setNoDelay(true);
    // one write per byte, each flushed before the next: the header arrives in as many reads as the kernel makes of it
    if (prefix && o.byteByByte) for (const b of prefix) await new Promise<void>((resolve, reject) => raw.write(Buffer.from([b]), (e) => (e ? reject(e) : resolve())));
    else if (prefix) raw.write(prefix);
    const status = await new Promise<number>((resolve, reject) => {
      const tls = tlsConnect({ socket: raw, rejectUnauthorized: false, servername: 'localhost' });
      const req = httpsRequest({ createConnection: () => tls, method: 'POST', path: '/v1/login', headers: { 'content-type': 'application/json', ...headers } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end(JSON.stringify(wrong));
    });
    t.equal(status, 401, 'answered (a refused login)');
    const e = await f.db('audit_log').where({ action: 'user.login' }).orderBy('seq', 'desc').first();
    return e.reason.match(/src=(\S+)$/)?.[1];
  };
  /** Sends `bytes` and resolves when the hub closes the connection (it never answers). */
  const closedAfter = (bytes: Buffer) => new Promise<void>((resolve, reject) => {
    const s = netConnect(port, '127.0.0.1', () => s.write(bytes));
    s.on('data', () => reject(new Error('the hub answered')));
    s.on('close', () => resolve());
    s.on('error', () => undefined);
  });
  return { f, warnings, login, closedAfter };
}

t.test('from a trusted proxy: the client address of a v1 or v2 header is src=; no header is the proxy itself', async (t) => {
  const h = await listeningHub(t, ['127.0.0.1']);
  t.equal(await h.login(Buffer.from('PROXY TCP4 203.0.113.7 10.0.0.1 5555 443\r\n')), '203.0.113.7', 'v1');
  t.equal(await h.login(v2(1, 0x11, tcp4([198, 51, 100, 20], [10, 0, 0, 1]))), '198.51.100.20', 'v2');
  t.equal(await h.login(v2(0, 0x00, Buffer.alloc(0))), '127.0.0.1', 'v2 LOCAL (a health check): the proxy');
  t.equal(await h.login(), '127.0.0.1', 'no header: TLS straight away, the peer is the client');
  t.same(h.warnings, []);
});

t.test('a PROXY header from an address not in trustProxy: connection closed, ERR_PROXY_UNTRUSTED logged, nothing answered', async (t) => {
  const h = await listeningHub(t, ['10.9.9.9']);
  await h.closedAfter(Buffer.from('PROXY TCP4 203.0.113.7 10.0.0.1 5555 443\r\n'));
  await h.closedAfter(v2(1, 0x11, tcp4([198, 51, 100, 20], [10, 0, 0, 1])));
  t.match(h.warnings, [{ code: 'ERR_PROXY_UNTRUSTED', peer: '127.0.0.1' }, { code: 'ERR_PROXY_UNTRUSTED', peer: '127.0.0.1' }]);
  t.equal(await h.login(), '127.0.0.1', 'a client without a header is served as before');
  t.equal(await h.f.db('audit_log').where({ action: 'user.login' }).count({ c: '*' }).first().then((r) => Number((r as { c: number }).c)), 1, 'the refused connections reached no route');
});

t.test('malformed or unfinished headers from a trusted proxy: connection closed, ERR_PROXY_HEADER_INVALID', async (t) => {
  const h = await listeningHub(t, ['127.0.0.0/8']);
  await h.closedAfter(Buffer.from('PROXY TCP4 999.0.113.7 10.0.0.1 5555 443\r\n'));
  await h.closedAfter(Buffer.from(`PROXY TCP4 ${'9'.repeat(200)}`));
  await h.closedAfter(Buffer.concat([V2_SIGNATURE, Buffer.from([0x11, 0x11, 0, 12]), Buffer.alloc(12)]));
  t.equal(h.warnings.length, 3);
  t.ok(h.warnings.every((w) => w.code === 'ERR_PROXY_HEADER_INVALID'), JSON.stringify(h.warnings));
});

// hostile read of the PROXY protocol code (branch h-sec)

t.test('IPv6 client addresses come out as Node writes a peer: compressed, lower case, IPv4-mapped as IPv4; a zone index is refused', async (t) => {
  const tcp6 = (src: number[]) => { const b = Buffer.alloc(36); Buffer.from(src).copy(b, 0); b.writeUInt16BE(443, 34); return b; };
  const v6 = (groups: number[]) => groups.flatMap((g) => [g >> 8, g & 0xff]);
  t.same(readProxyHeader(v2(1, 0x21, tcp6(v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 7])))), { kind: 'header', length: 52, source: '2001:db8::7' }, 'v2 TCP6');
  t.same(readProxyHeader(v2(1, 0x21, tcp6(v6([0, 0, 0, 0, 0, 0xffff, 0xc633, 0x6414])))), { kind: 'header', length: 52, source: '198.51.100.20' }, 'v2 TCP6, IPv4-mapped');
  t.same(readProxyHeader(Buffer.from('PROXY TCP6 2001:DB8:0::7 2001:db8::1 5555 443\r\n')), { kind: 'header', length: 47, source: '2001:db8::7' }, 'v1 TCP6 in another spelling');
  t.throws(() => readProxyHeader(Buffer.from('PROXY TCP6 fe80::7%eth0 fe80::1 5555 443\r\n')), { code: 'ERR_PROXY_HEADER_INVALID' }, 'v1 TCP6 with a zone index');
});

t.test('behind an L4 balancer X-Forwarded-For is the client\'s own: ignored on a connection that began with a PROXY header', async (t) => {
  // the balancer and an internal network (the clients' own addresses may lie in a listed range)
  const h = await listeningHub(t, ['127.0.0.1', '10.0.0.0/8']);
  const spoof = { 'x-forwarded-for': '203.0.113.99' };
  t.equal(await h.login(Buffer.from('PROXY TCP4 10.1.2.3 10.0.0.1 5555 443\r\n'), spoof), '10.1.2.3', 'v1: the client the balancer names, not the one it claims');
  t.equal(await h.login(v2(1, 0x11, tcp4([10, 1, 2, 3], [10, 0, 0, 1])), spoof), '10.1.2.3', 'v2');
  t.equal(await h.login(v2(0, 0x00, Buffer.alloc(0)), spoof), '127.0.0.1', 'v2 LOCAL: the balancer itself, no header believed');
  t.equal(await h.login(undefined, spoof), '203.0.113.99', 'control: a listed TLS gateway without a PROXY header is still believed (X-Forwarded-For)');
});

t.test('a trusted peer that closes before sending anything (a TCP health check) is not logged; one that sends half a header is', async (t) => {
  const server = tlsCreateServer({});
  const warnings: Array<Record<string, unknown>> = [];
  installProxyProtocol(server, ['127.0.0.1'], { warn: (obj) => void warnings.push(obj) }, { headerTimeoutMs: 50 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const port = (server.address() as { port: number }).port;
  const closed = (s: Socket) => new Promise<void>((resolve) => s.on('close', () => resolve()).on('error', () => undefined));
  const accepted = new Promise<void>((resolve) => server.once('connection', () => resolve()));
  const check = netConnect(port, '127.0.0.1', () => check.end());
  await accepted;
  await closed(check);
  // a second connection that stalls mid-header: refused when its timer fires, after the first one's would have
  const half = netConnect(port, '127.0.0.1', () => half.write('PROXY TCP4 '));
  await closed(half);
  t.equal(warnings.length, 1, JSON.stringify(warnings));
  t.match(warnings[0], { code: 'ERR_PROXY_HEADER_INVALID', reason: /no complete PROXY header within 50 ms/ }, 'only the stalled header');
});

t.test('proxyProtocol "required": a listed address must send a PROXY header, else the connection is closed (ERR_PROXY_HEADER_INVALID)', async (t) => {
  const h = await listeningHub(t, ['127.0.0.1'], { proxyProtocol: 'required' });
  t.equal(await h.login(Buffer.from('PROXY TCP4 203.0.113.7 10.0.0.1 5555 443\r\n')), '203.0.113.7', 'with a header: served');
  t.equal(await h.login(v2(0, 0x00, Buffer.alloc(0))), '127.0.0.1', 'LOCAL (the balancer\'s health check): served');
  // a client whose bytes the balancer passed through without a header, naming itself in X-Forwarded-For: never reaches a route
  const tls = tlsConnect({ port: (h.f.app.server.address() as { port: number }).port, host: '127.0.0.1', rejectUnauthorized: false, servername: 'localhost' });
  await new Promise<void>((resolve) => tls.on('close', () => resolve()).on('error', () => undefined));
  t.match(h.warnings, [{ code: 'ERR_PROXY_HEADER_INVALID', peer: '127.0.0.1', reason: /no PROXY header from 127\.0\.0\.1: proxyProtocol is "required"/ }]);
  t.equal(h.warnings.length, 1);
  t.equal(await h.f.db('audit_log').where({ action: 'user.login' }).count({ c: '*' }).first().then((r) => Number((r as { c: number }).c)), 2, 'only the two connections with a header reached the route');
});

t.test('a header split across TCP segments, a large v2 TLV block, a second header inside the stream', async (t) => {
  const h = await listeningHub(t, ['127.0.0.1']);
  t.equal(await h.login(Buffer.from('PROXY TCP4 203.0.113.7 10.0.0.1 5555 443\r\n'), {}, { byteByByte: true }), '203.0.113.7', 'v1, one byte per write');
  t.equal(await h.login(v2(1, 0x11, tcp4([198, 51, 100, 20], [10, 0, 0, 1])), {}, { byteByByte: true }), '198.51.100.20', 'v2, one byte per write');
  const tlv = Buffer.alloc(60_000);
  tlv[0] = 0xe0; // a custom TLV (PP2_TYPE_MIN_CUSTOM) of 59 997 bytes
  tlv.writeUInt16BE(tlv.length - 3, 1);
  t.equal(await h.login(v2(1, 0x11, Buffer.concat([tcp4([198, 51, 100, 21], [10, 0, 0, 1]), tlv]))), '198.51.100.21', 'v2 with a 60 kB TLV block: read whole, skipped');
  // a second header after the first is not read as one: it is the start of what should be TLS, and the handshake fails
  const before = await h.f.db('audit_log').where({ action: 'user.login' }).count({ c: '*' }).first().then((r) => Number((r as { c: number }).c));
  const header = Buffer.from('PROXY TCP4 203.0.113.7 10.0.0.1 5555 443\r\n');
  await new Promise<void>((resolve) => {
    const s = netConnect((h.f.app.server.address() as { port: number }).port, '127.0.0.1', () => s.write(Buffer.concat([header, Buffer.from('PROXY TCP4 192.0.2.66 10.0.0.1 5555 443\r\n')])));
    s.on('close', () => resolve()).on('error', () => undefined).resume();
  });
  t.equal(await h.f.db('audit_log').where({ action: 'user.login' }).count({ c: '*' }).first().then((r) => Number((r as { c: number }).c)), before, 'nothing reached a route');
  t.same(h.warnings, [], 'no PROXY warning: the TLS layer refused the second one');
});
