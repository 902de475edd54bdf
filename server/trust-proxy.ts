/**
 * `trustProxy` (both servers): the addresses of the TLS gateways in front of the server, as IP
 * addresses or CIDR ranges. Off by default (absent or empty: `X-Forwarded-For` is ignored and the
 * socket's peer is the client). A request whose socket peer is one of them is taken to come from
 * the address its `X-Forwarded-For` names (Fastify's trustProxy given the address list, which
 * @fastify/proxy-addr evaluates: the rightmost address not itself a trusted proxy), and that address
 * is what src= in the audit log, the login rate and the request rate limit see. Strict: never
 * `true` or a hop count, and no header is parsed by hand anywhere; a peer not in the list is the
 * client whatever its headers say.
 */
import { isIP } from 'node:net';
import { serviceError } from '../protocol/service-errors.js';

function bad(key: string, message: string): never {
  throw serviceError('ERR_CONFIG_INVALID', `config key ${key}: ${message}`, { key });
}

/** Whether `s` is an IPv4/IPv6 address or a CIDR range of one. */
export function isAddressOrCidr(s: string): boolean {
  const [addr, bits, more] = s.split('/');
  if (more !== undefined || !addr) return false;
  const family = isIP(addr);
  if (family === 0) return false;
  if (bits === undefined) return true;
  if (!/^[0-9]{1,3}$/.test(bits)) return false;
  return Number(bits) <= (family === 4 ? 32 : 128);
}

/** The checked `trustProxy` list (ERR_CONFIG_INVALID naming trustProxy[i] otherwise); [] when absent. */
export function checkTrustProxy(v: unknown): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) bad('trustProxy', 'must be a list of proxy addresses or CIDR ranges, e.g. ["10.0.0.5", "10.1.0.0/16"]');
  v.forEach((a, i) => {
    if (typeof a !== 'string' || !isAddressOrCidr(a)) bad(`trustProxy[${i}]`, `${JSON.stringify(a)} is not an IP address or CIDR range`);
  });
  return [...(v as string[])];
}

/** Fastify's `trustProxy` option for the list: false when it is empty (the default). */
export function fastifyTrustProxy(list: readonly string[]): false | string[] {
  return list.length === 0 ? false : [...list];
}
