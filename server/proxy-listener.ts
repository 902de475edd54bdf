/**
 * The PROXY protocol on a TLS listener (the hub's), read only from the addresses in `trustProxy`:
 * an L4 balancer in front of several hub processes passes TLS through untouched, so without it every
 * client would be the balancer's address (`src=` in the audit log, the per-address rate limit of
 * clients without a certificate). Installed only when `trustProxy` is not empty.
 *
 * Per connection, before TLS: the first bytes are read (server/proxy-protocol.ts).
 * - From a trusted address: a header is taken (its client address becomes the connection's
 *   `remoteAddress`, which Fastify's request.ip and so `src=` and the rate limits use; a LOCAL/UNKNOWN
 *   header keeps the balancer's address); no header is fine too (a TLS gateway that sends
 *   X-Forwarded-For instead) unless `required` (hub config proxyProtocol: "required", for L4
 *   balancers: without it a client whose bytes pass through could send its own header or
 *   X-Forwarded-For); a malformed or (required) missing header closes the connection, logged
 *   ERR_PROXY_HEADER_INVALID.
 * - From any other address: a PROXY header closes the connection, logged ERR_PROXY_UNTRUSTED (a
 *   client must not choose its own address); other bytes go on to TLS as before.
 * A header not complete within `headerTimeoutMs` closes the connection (ERR_PROXY_HEADER_INVALID);
 * a peer that closes before (a TCP health check) is not logged. On a connection that began with a
 * PROXY header, X-Forwarded-For/-Host/-Proto and Forwarded are removed from every request: behind an
 * L4 balancer they are bytes the client wrote, never a gateway's.
 */
import { BlockList, isIPv6, type Socket } from 'node:net';
import type { IncomingMessage } from 'node:http';
import type { Server as TlsServer, TLSSocket } from 'node:tls';
import { serviceError } from '../protocol/service-errors.js';
import { looksLikeProxyHeader, readProxyHeader } from './proxy-protocol.js';

export interface ProxyLog {
  warn(obj: Record<string, unknown>, msg: string): void;
}

/** A BlockList of the trustProxy entries (addresses and CIDR ranges, checked by config). */
export function trustList(entries: readonly string[]): BlockList {
  const list = new BlockList();
  for (const e of entries) {
    const [addr, bits] = e.split('/') as [string, string | undefined];
    const type = isIPv6(addr) ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(addr, type);
    else list.addSubnet(addr, Number(bits), type);
  }
  return list;
}

function isTrusted(list: BlockList, addr: string | undefined): boolean {
  if (!addr) return false;
  const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(addr)?.[1];
  if (v4) return list.check(v4, 'ipv4');
  return list.check(addr, isIPv6(addr) ? 'ipv6' : 'ipv4');
}

const CLIENT = Symbol('proxy-protocol header');
/** A connection that began with a PROXY header; `client` null: LOCAL/UNKNOWN, the balancer itself. */
type Marked = Socket & { [CLIENT]?: { client: string | null } };
const PROXIED = Symbol('proxy-protocol connection');

/** Headers only a TLS-terminating gateway can write; through an L4 balancer they are the client's own. */
const FORWARDED_HEADERS = ['x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto', 'forwarded'] as const;

export function installProxyProtocol(server: TlsServer, trustProxy: readonly string[], log: ProxyLog, o: { headerTimeoutMs?: number; required?: boolean } = {}): void {
  const list = trustList(trustProxy);
  const tlsListeners = server.listeners('connection') as ((s: Socket) => void)[];
  server.removeAllListeners('connection');
  const handOn = (raw: Socket) => {
    for (const l of tlsListeners) l.call(server, raw);
  };
  const refuse = (raw: Socket, code: 'ERR_PROXY_UNTRUSTED' | 'ERR_PROXY_HEADER_INVALID', reason: string) => {
    const e = serviceError(code, reason);
    log.warn({ code: e.code, peer: raw.remoteAddress, reason }, `connection closed: ${e.message} [${code}]`);
    raw.destroy();
  };
  server.on('connection', (raw: Socket) => {
    const peer = raw.remoteAddress;
    const trusted = isTrusted(list, peer);
    let buf: Buffer = Buffer.alloc(0);
    // a trusted proxy sends its header at once; any other client is left to TLS's own handshake timeout
    const timer = setTimeout(() => (trusted ? refuse(raw, 'ERR_PROXY_HEADER_INVALID', `no complete PROXY header within ${o.headerTimeoutMs ?? 5000} ms`) : done(buf)), o.headerTimeoutMs ?? 5000);
    timer.unref();
    // a peer that closes first (a balancer's TCP health check) holds nothing until the timer and is not logged
    const onClose = () => clearTimeout(timer);
    raw.once('close', onClose);
    const done = (rest: Buffer, header?: { client: string | null }) => {
      clearTimeout(timer);
      raw.removeListener('close', onClose);
      raw.removeListener('data', onData);
      if (raw.destroyed) return;
      raw.pause();
      if (rest.length) raw.unshift(rest);
      if (header) (raw as Marked)[CLIENT] = header;
      handOn(raw);
    };
    const onData = (chunk: Buffer) => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      if (!trusted) {
        if (looksLikeProxyHeader(buf)) {
          if (buf.length < (buf[0] === 0x50 ? 6 : 12)) return; // "PROXY " or the 12-byte v2 signature, whole
          clearTimeout(timer);
          refuse(raw, 'ERR_PROXY_UNTRUSTED', `PROXY header from ${String(peer)}, which is not in trustProxy`);
          return;
        }
        done(buf);
        return;
      }
      let r;
      try {
        r = readProxyHeader(buf);
      } catch (e) {
        clearTimeout(timer);
        refuse(raw, 'ERR_PROXY_HEADER_INVALID', (e as Error).message);
        return;
      }
      if (r.kind === 'more') return;
      if (r.kind === 'none' && o.required) {
        clearTimeout(timer);
        refuse(raw, 'ERR_PROXY_HEADER_INVALID', `no PROXY header from ${String(peer)}: proxyProtocol is "required", so a listed address must send one (a client's bytes passed through without it could name their own address)`);
        return;
      }
      if (r.kind === 'none') done(buf);
      else done(buf.subarray(r.length), { client: r.source });
    };
    raw.on('data', onData);
    raw.on('error', () => raw.destroy());
  });
  // the TLS socket wraps the raw one (`_parent`, Node's TLSSocket): it answers with the client's address from now on
  server.on('secureConnection', (tls: TLSSocket) => {
    const header = (tls as TLSSocket & { _parent?: Marked })._parent?.[CLIENT];
    if (!header) return;
    (tls as TLSSocket & { [PROXIED]?: true })[PROXIED] = true;
    if (header.client) Object.defineProperty(tls, 'remoteAddress', { value: header.client, configurable: true });
  });
  // TLS passed through the balancer untouched, so every byte after the header is the client's: an
  // X-Forwarded-For there is the client naming itself (and, were its address in trustProxy, Fastify
  // would believe it). Dropped before any listener (Fastify's) sees the request.
  server.prependListener('request', (req: IncomingMessage) => {
    if (!(req.socket as Socket & { [PROXIED]?: true })[PROXIED]) return;
    for (const h of FORWARDED_HEADERS) delete req.headers[h];
  });
}
