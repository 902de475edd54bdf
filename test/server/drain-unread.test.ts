/**
 * An answer sent before the request's body was read to its end (server/http-errors.ts drainUnread,
 * installed by both servers' error handling): the client reads the answer, and its next request on
 * the same kept-alive connection is served — before, the rest of the body stayed unread and that
 * request waited for ever. A body that goes on past the bound, or too long, has its connection
 * closed instead.
 */
import t, { type Test } from 'tap';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { drainUnread } from '../../server/http-errors.js';
import { nodeFixture } from '../node/app-fixture.js';

t.test('a node refusing an import mid-upload: the answer arrives and the same connection serves the next request', async (t) => {
  const f = await nodeFixture(t, { config: { importLimitBytes: 64 * 1024 } });
  await f.app.listen({ port: 0, host: '127.0.0.1' });
  const port = (f.app.server.address() as { port: number }).port;
  const { authorization } = await f.auth('submitter', 'shared');
  const up = await upload(port, `/v1/records/import?type=CF`, { authorization, 'content-type': 'text/csv' });
  const line = '行政相对人名称,统一社会信用代码\n'.repeat(100);
  for (let i = 0; i < 30; i++) up.socket.write(chunk(line)); // ≈ 135 KB: past the limit, the answer comes mid-upload
  t.match(await up.answer, /^HTTP\/1\.1 413[^]*ERR_BODY_TOO_LARGE/);
  t.notOk(/connection: close/i.test(await up.answer), 'kept alive');
  for (let i = 0; i < 30; i++) up.socket.write(chunk(line));
  up.socket.write('0\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
  t.match(await up.next('"status":"ok"'), /HTTP\/1\.1 200/, 'the next request on the same connection is answered (it waited for ever)');
  up.socket.destroy();
});

t.test('a refusal that is not the size limit (a header row without the required columns, 422): the rest is dropped too', async (t) => {
  const f = await nodeFixture(t, { config: { importLimitBytes: 64 * 1024 * 1024 } });
  await f.app.listen({ port: 0, host: '127.0.0.1' });
  const port = (f.app.server.address() as { port: number }).port;
  const { authorization } = await f.auth('submitter', 'shared');
  const up = await upload(port, `/v1/records/import?type=CF`, { authorization, 'content-type': 'text/csv' });
  up.socket.write(chunk('foo,bar\n' + 'x,y\n'.repeat(20_000)));
  t.match(await up.answer, /^HTTP\/1\.1 422[^]*ERR_IMPORT_HEADER_INVALID/);
  for (let i = 0; i < 20; i++) up.socket.write(chunk('x,y\n'.repeat(16_000))); // ≈ 1.3 MB more: the import's own stream, abandoned, fills and would pause the body
  up.socket.write('0\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
  t.match(await up.next('"status":"ok"'), /HTTP\/1\.1 200/, 'the next request on the same connection is answered at once (it waited for the 10 s bound, then the connection was closed)');
  up.socket.destroy();
});

/** A plain HTTP server that reads the body's first chunk, answers 413 and drains with `limits` (as a refusal mid-upload does). */
async function refusing(t: Test, limits: { bytes: number; ms: number }): Promise<number> {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.method === 'GET') return void res.writeHead(413, { 'content-length': '3' }).end('no\n');
    req.once('data', () => {
      req.pause();
      res.writeHead(413, { 'content-type': 'text/plain', 'content-length': '3' });
      res.end('no\n', () => drainUnread(req, limits));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  return (server.address() as { port: number }).port;
}

/** A chunked upload's head, sent by hand; `answer` resolves with what came back once `marker` (default the test server's body) has. */
async function upload(port: number, path = '/up', headers: Record<string, string> = {}): Promise<{ socket: Socket; answer: Promise<string>; next(marker: string): Promise<string> }> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.on('error', () => {});
  const head = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
  socket.write(`POST ${path} HTTP/1.1\r\nHost: x\r\n${head}Transfer-Encoding: chunked\r\n\r\n`);
  let got = '';
  const waiting: { marker: string; resolve(s: string): void }[] = [];
  socket.on('data', (c: Buffer) => {
    got += c.toString();
    for (const w of [...waiting]) {
      if (got.includes(w.marker)) {
        waiting.splice(waiting.indexOf(w), 1);
        const upTo = got.slice(0, got.indexOf(w.marker) + w.marker.length);
        got = got.slice(upTo.length);
        w.resolve(upTo);
      }
    }
  });
  const next = (marker: string) => new Promise<string>((resolve) => waiting.push({ marker, resolve }));
  return { socket, answer: next(path === '/up' ? 'no\n' : '}'), next };
}
const chunk = (s: string | number): string => {
  const text = typeof s === 'number' ? 'x'.repeat(s) : s;
  return `${Buffer.byteLength(text).toString(16)}\r\n${text}\r\n`;
};

t.test('drainUnread: the body dropped to its end keeps the connection; past the byte bound or the time bound it is closed', async (t) => {
  const port = await refusing(t, { bytes: 1024 * 1024, ms: 60_000 });
  const a = await upload(port);
  a.socket.write(chunk(1000));
  t.match(await a.answer, /^HTTP\/1\.1 413/);
  a.socket.write(chunk(100_000) + chunk(100_000) + '0\r\n\r\n');
  a.socket.write('GET /again HTTP/1.1\r\nHost: x\r\n\r\n');
  t.match(await a.next('no\n'), /^HTTP\/1\.1 413/, 'the next request is answered');
  t.notOk(a.socket.destroyed, 'a body within the bound: the connection stays and answers the next request');
  a.socket.destroy();

  const b = await upload(port);
  b.socket.write(chunk(1000));
  await b.answer;
  const closed = new Promise((r) => b.socket.once('close', r)); // (events.once would reject on the reset)
  const big = chunk(64 * 1024);
  for (let i = 0; i < 40 && !b.socket.destroyed; i++) b.socket.write(big);
  await closed;
  t.pass('past the byte bound: closed');

  const slowPort = await refusing(t, { bytes: 1024 * 1024, ms: 50 });
  const c = await upload(slowPort);
  c.socket.write(chunk(1000));
  await c.answer;
  c.socket.write(chunk(10)); // and nothing more: a client that stalls
  await new Promise((r) => c.socket.once('close', r));
  t.pass('past the time bound: closed');
});

t.test("app.inject's stand-in socket: nothing to drain, nothing armed (its timer once called a destroy() that socket lacks and ended the test process)", async (t) => {
  let resumed = false;
  const raw = { complete: false, destroyed: false, socket: { destroyed: false }, resume: () => (resumed = true), on: () => raw, once: () => raw };
  drainUnread(raw as unknown as IncomingMessage, { bytes: 1, ms: 1 });
  t.notOk(resumed, 'left alone');
  const f = await nodeFixture(t, { config: { importLimitBytes: 1024 } });
  const res = await f.app.inject({ method: 'POST', url: '/v1/records/import?type=CF', headers: { ...(await f.auth('submitter', 'shared')), 'content-type': 'text/csv' }, payload: 'x'.repeat(4096) });
  t.equal(res.statusCode, 413, 'an injected refusal answers as before');
});
