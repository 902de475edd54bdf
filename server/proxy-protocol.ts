/**
 * The PROXY protocol header (HAProxy's spec, versions 1 and 2) that an L4 balancer puts before the
 * client's bytes on each connection, so the server sees the client's address behind it. Pure: no
 * I/O. `readProxyHeader` is given the first bytes of a connection and says whether they hold a
 * header (and where it ends), do not (a TLS ClientHello), or are not enough yet.
 *
 *   v1: "PROXY TCP4|TCP6|UNKNOWN <src> <dst> <sport> <dport>\r\n", at most 107 bytes, ASCII
 *   v2: 12-byte signature \r\n\r\n\0\r\nQUIT\n, ver/cmd (0x21 PROXY, 0x20 LOCAL), family/transport
 *       (0x11 TCP4, 0x21 TCP6, others carry no address we use), uint16 length, addresses, TLVs
 *
 * A LOCAL (v2) or UNKNOWN (v1) header names no client (the balancer's own health check): the
 * connection keeps its socket peer. IPv6 client addresses come out as Node writes a peer address
 * (canonicalIPv6: compressed, lower case; IPv4-mapped as IPv4). Anything else that starts like a header but is not one is
 * ERR_PROXY_HEADER_INVALID.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { serviceError } from '../protocol/service-errors.js';

export const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V1_PREFIX = Buffer.from('PROXY ', 'latin1');
const V1_MAX = 107;

export type ProxyRead =
  | { kind: 'more' }
  | { kind: 'none' }
  | { kind: 'header'; length: number; source: string | null };

function invalid(reason: string): never {
  throw serviceError('ERR_PROXY_HEADER_INVALID', `PROXY protocol header: ${reason}`, { reason });
}

/** Whether `buf` is a prefix of `sig` or starts with it. */
function startsLike(buf: Buffer, sig: Buffer): boolean {
  const n = Math.min(buf.length, sig.length);
  return buf.subarray(0, n).equals(sig.subarray(0, n));
}

/** Whether these first bytes could begin a PROXY header (either version). */
export function looksLikeProxyHeader(buf: Buffer): boolean {
  return buf.length > 0 && (startsLike(buf, V1_PREFIX) || startsLike(buf, V2_SIGNATURE));
}

export function readProxyHeader(buf: Buffer): ProxyRead {
  if (!looksLikeProxyHeader(buf)) return { kind: 'none' };
  if (startsLike(buf, V1_PREFIX)) return readV1(buf);
  return readV2(buf);
}

/**
 * An IPv6 address as Node writes a socket's peer: compressed, lower case (RFC 5952), and an
 * IPv4-mapped one (::ffff:a.b.c.d, a dual-stack balancer's IPv4 client) as the IPv4 address — so the
 * same client has one spelling in src= and one rate-limit key, whichever way the balancer wrote it.
 * Null when it is no plain IPv6 address (a zone index such as %eth0 names no client).
 */
export function canonicalIPv6(addr: string): string | null {
  if (!isIPv6(addr) || addr.includes('%')) return null;
  let host: string;
  try {
    host = new URL(`http://[${addr}]/`).hostname.slice(1, -1);
  } catch {
    return null;
  }
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(host);
  if (!mapped) return host;
  const hi = parseInt(mapped[1]!, 16);
  const lo = parseInt(mapped[2]!, 16);
  return `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
}

function readV1(buf: Buffer): ProxyRead {
  const end = buf.subarray(0, V1_MAX + 1).indexOf('\r\n', 0, 'latin1');
  if (end < 0) {
    if (buf.length >= V1_MAX) invalid(`v1 line longer than ${V1_MAX} bytes`);
    return { kind: 'more' };
  }
  const line = buf.subarray(0, end).toString('latin1');
  const parts = line.split(' ');
  if (parts[1] === 'UNKNOWN') return { kind: 'header', length: end + 2, source: null };
  if (parts.length !== 6) invalid('v1 line needs PROXY, a protocol, two addresses and two ports');
  const [, proto, src, dst, sport, dport] = parts as [string, string, string, string, string, string];
  const isAddr = proto === 'TCP4' ? isIPv4 : proto === 'TCP6' ? isIPv6 : undefined;
  if (!isAddr) invalid(`v1 protocol ${JSON.stringify(proto.slice(0, 16))} is not TCP4, TCP6 or UNKNOWN`);
  if (!isAddr(src) || !isAddr(dst)) invalid(`v1 addresses are not ${proto} addresses`);
  for (const p of [sport, dport]) if (!/^(0|[1-9]\d{0,4})$/.test(p) || Number(p) > 65535) invalid('v1 port is not 0–65535');
  if (proto === 'TCP4') return { kind: 'header', length: end + 2, source: src };
  const source = canonicalIPv6(src);
  if (source === null || canonicalIPv6(dst) === null) invalid('v1 TCP6 addresses must be plain IPv6 addresses (no zone index)');
  return { kind: 'header', length: end + 2, source };
}

function readV2(buf: Buffer): ProxyRead {
  if (buf.length < 16) return { kind: 'more' };
  const verCmd = buf[12]!;
  if (verCmd >> 4 !== 2) invalid(`v2 version ${verCmd >> 4} (only 2 exists)`);
  const cmd = verCmd & 0x0f;
  if (cmd > 1) invalid(`v2 command ${cmd} (0 LOCAL or 1 PROXY)`);
  const length = 16 + buf.readUInt16BE(14);
  if (buf.length < length) return { kind: 'more' };
  if (cmd === 0) return { kind: 'header', length, source: null };
  const fam = buf[13]!;
  if (fam === 0x11 || fam === 0x12) {
    if (length < 16 + 12) invalid('v2 TCP4 address block shorter than 12 bytes');
    return { kind: 'header', length, source: [...buf.subarray(16, 20)].join('.') };
  }
  if (fam === 0x21 || fam === 0x22) {
    if (length < 16 + 36) invalid('v2 TCP6 address block shorter than 36 bytes');
    const groups: string[] = [];
    for (let i = 0; i < 8; i++) groups.push(buf.readUInt16BE(16 + 2 * i).toString(16));
    return { kind: 'header', length, source: canonicalIPv6(groups.join(':')) };
  }
  return { kind: 'header', length, source: null }; // UNSPEC or UNIX: no IP address to use
}
