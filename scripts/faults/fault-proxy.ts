/**
 * A fault-injecting proxy between one city node and the real hub, on loopback. The node's `hub.url`
 * points here; the mode decides what a new connection meets:
 *
 *   pass         TCP straight through to the hub (end-to-end mutual TLS, as if the proxy were not there)
 *   http500      TLS with the hub's own certificate, every request answered 500 ERR_INTERNAL as the hub's error handler does
 *   hang         TLS, the request is read and never answered (the node's headers timeout must fire)
 *   blackhole    the TCP connection is accepted and nothing is ever said (the node's connect timeout must fire)
 *   lose-answer  TLS; POST /v1/batches is forwarded to the hub under the node's identity and the hub's answer
 *                dropped (connection destroyed), so the hub has committed a batch the node never heard of;
 *                other requests are relayed
 *
 * Changing the mode destroys every open connection (the hub went away), so kept-alive connections
 * meet the new mode too. Every connection and request is recorded with its time for the tests.
 */
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { connect as netConnect, createServer, type Socket } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Pool } from 'undici';
import { tlsClientOptions } from '../../certs/tls.js';

export type ProxyMode = 'pass' | 'http500' | 'hang' | 'blackhole' | 'lose-answer';

export interface ProxyEvent {
  at: number;
  mode: ProxyMode;
  kind: 'connection' | 'request' | 'lost-answer';
  method?: string;
  path?: string;
}

export interface FaultProxyOptions {
  upstreamPort: number;
  /** The hub's key and certificate (the proxy impersonates the hub when it terminates TLS). */
  hubKeyPem: string;
  hubCertPem: string;
  caCertPem: string;
  port?: number;
}

export interface FaultProxy {
  readonly url: string;
  readonly port: number;
  readonly mode: ProxyMode;
  setMode(mode: ProxyMode): void;
  /** The node's key and certificate: lose-answer forwards to the hub under the node's identity. */
  setNodeIdentity(id: { keyPem: string; certPem: string }): void;
  readonly events: ProxyEvent[];
  /** Connections open right now. */
  openConnections(): number;
  /** Requests seen for `method path` (path without the query), optionally only in `mode`. */
  requests(method: string, path: string, mode?: ProxyMode): ProxyEvent[];
  close(): Promise<void>;
}

const INTERNAL = JSON.stringify({ code: 'ERR_INTERNAL', message: 'internal error; see the hub log' });

export async function startFaultProxy(o: FaultProxyOptions): Promise<FaultProxy> {
  let mode: ProxyMode = 'pass';
  const events: ProxyEvent[] = [];
  const sockets = new Set<Socket>();
  let upstream: Pool | undefined;

  async function relay(req: IncomingMessage, res: ServerResponse, body: Buffer, drop: boolean): Promise<void> {
    if (!upstream) throw new Error('lose-answer needs the node key and certificate (setNodeIdentity)');
    const up = await upstream.request({ method: req.method as 'GET' | 'POST', path: req.url ?? '/', headers: { 'content-type': String(req.headers['content-type'] ?? 'application/json') }, ...(body.length ? { body } : {}) });
    const answer = Buffer.from(await up.body.arrayBuffer());
    if (drop) {
      events.push({ at: Date.now(), mode, kind: 'lost-answer', method: req.method ?? '', path: (req.url ?? '').split('?')[0]! });
      req.socket.destroy();
      return;
    }
    res.writeHead(up.statusCode, { 'content-type': String(up.headers['content-type'] ?? 'application/json') });
    res.end(answer);
  }

  const tlsSide: HttpsServer = createHttpsServer({ key: o.hubKeyPem, cert: o.hubCertPem, ca: [o.caCertPem], requestCert: true, rejectUnauthorized: false }, (req, res) => {
    const seenIn = mode;
    const path = (req.url ?? '').split('?')[0]!;
    events.push({ at: Date.now(), mode: seenIn, kind: 'request', method: req.method ?? '', path });
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      if (seenIn === 'http500') {
        res.writeHead(500, { 'content-type': 'application/json; charset=utf-8' });
        res.end(INTERNAL);
      } else if (seenIn === 'lose-answer') {
        relay(req, res, body, req.method === 'POST' && path === '/v1/batches').catch(() => req.socket.destroy());
      }
      // hang: never answer; the client gives up and closes the connection
    });
  });
  tlsSide.on('tlsClientError', () => undefined);

  const front = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    events.push({ at: Date.now(), mode, kind: 'connection' });
    if (mode === 'pass') {
      const up = netConnect(o.upstreamPort, '127.0.0.1');
      up.on('error', () => socket.destroy());
      socket.on('error', () => up.destroy());
      socket.on('close', () => up.destroy());
      up.on('close', () => socket.destroy());
      socket.pipe(up);
      up.pipe(socket);
    } else if (mode === 'blackhole') {
      socket.resume(); // read and ignore: no TLS handshake ever completes
    } else {
      tlsSide.emit('connection', socket);
    }
  });
  await new Promise<void>((r) => front.listen(o.port ?? 0, '127.0.0.1', r));
  const port = (front.address() as { port: number }).port;

  return {
    url: `https://127.0.0.1:${port}`,
    port,
    get mode() {
      return mode;
    },
    setNodeIdentity(id) {
      void upstream?.close();
      upstream = new Pool(`https://127.0.0.1:${o.upstreamPort}`, { connect: tlsClientOptions({ caCertPem: o.caCertPem, certPem: id.certPem, keyPem: id.keyPem, expectNodeId: '430000' }), connections: 2 });
    },
    setMode(next) {
      mode = next;
      for (const s of sockets) s.destroy();
    },
    events,
    openConnections: () => sockets.size,
    requests: (method, path, m) => events.filter((e) => e.kind === 'request' && e.method === method && e.path === path && (m === undefined || e.mode === m)),
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => front.close(() => r()));
      tlsSide.close();
      await upstream?.close();
    },
  };
}
