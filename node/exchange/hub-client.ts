/**
 * The node's one HTTP client to the hub: an undici Pool over mutual TLS (the provincial CA is the
 * only trust anchor, the server must be node 430000), keep-alive, connect/headers/body timeouts.
 * Every answer that is not 2xx becomes a HubError carrying the hub's code, its HTTP status and
 * Retry-After; no answer at all is ERR_HUB_UNAVAILABLE with status 0. Swapping the identity
 * (renewal) opens a new pool; the old one closes once its in-flight requests are done.
 * With `checkHubCert`, every new connection's server certificate also goes through it (the
 * node's trust policy: CRL revocation, CRL staleness): a refusal ends the handshake and the request
 * fails with that code (ERR_CERT_REVOKED, ERR_CRL_STALE …, status 0). The CRL itself is fetched on
 * a separate anonymous connection without that check — it is signed by the CA, and a node whose
 * CRL went stale must still be able to fetch the next one.
 */
import type { PeerCertificate } from 'node:tls';
import { Pool } from 'undici';
import { tlsClientOptions } from '../../certs/tls.js';
import { HUB_NODE_ID } from '../../certs/issue.js';
import { ENVELOPE_SCHEMA, type Envelope } from '../../protocol/envelope.js';
import { CATALOG_LIMITS } from '../../protocol/catalog-document.js';
import { derB64ToPem } from '../../protocol/crypto.js';
import { CreditError, isCreditError } from '../../protocol/errors.js';
import { jsonTextProblems, scanJsonText } from '../../protocol/strict-json.js';
import { NOTICE_ROUTES } from '../../protocol/notices.js';
import { EXCHANGE_ROUTES, type EnrollRequest, type EnrollResponse, type ProtocolInfo, type RenewRequest, type WitnessState } from '../../protocol/exchange.js';

export class HubError extends CreditError {
  /** HTTP status of the hub's answer; 0 when there was none (network, timeout, TLS). */
  readonly status: number;
  /** From Retry-After, when the hub sent one. */
  readonly retryAfterMs: number | undefined;

  constructor(code: string, message: string, details: unknown, status: number, retryAfterMs?: number) {
    super(code, message, details);
    this.name = 'HubError';
    this.status = status;
    this.retryAfterMs = retryAfterMs;
  }
}

export interface HubClientOptions {
  /** The hub's origin (https://host:port). */
  url: string;
  caCertPem: string;
  /** The node's certificate and key; absent for enrolment (no client certificate). */
  certPem?: string;
  keyPem?: string;
  timeoutMs: number;
  /** Largest answer read, bytes (default 64 MiB). */
  maxResponseBytes?: number;
  /** Parallel connections (default 4). */
  connections?: number;
  /** Checks the hub's certificate (PEM) on every new connection; throws a CreditError to refuse it. */
  checkHubCert?: (certPem: string) => void;
  /** Runs before every request (not the CRL fetch); throws a CreditError to refuse it (e.g. ERR_CRL_STALE on an open connection). */
  beforeRequest?: () => void;
  /** The node's SM2 certificate (PEM) when it speaks the SM suite: named in `x-cf-sm2-cert` so the hub seals its feeds to it. */
  sm2CertPem?: () => string | undefined;
}

export interface HubClient {
  enroll(req: EnrollRequest, signal?: AbortSignal): Promise<EnrollResponse>;
  renew(req: RenewRequest, signal?: AbortSignal): Promise<EnrollResponse>;
  postBatch(envelope: Envelope, signal?: AbortSignal): Promise<unknown>;
  /** `mark`: the feed mark the hub gave with `next` = `after` (ERR_FEED_DIVERGED when its feed row there changed); limit 0 only checks it. */
  getDistributions(after: number, limit: number, signal?: AbortSignal, mark?: string): Promise<unknown>;
  postQuery(envelope: Envelope, signal?: AbortSignal): Promise<unknown>;
  /** With `before` (ISO): also WitnessState.resetFrom, the largest head the hub cosigned before that time. */
  /** `before`: also resetFrom (a restored node's reset); `hubFrom`: the hub's checkpoint with a proof from that tree size (protocol 1.3, a hub-log reset). */
  getWitnessState(signal?: AbortSignal, before?: string, hubFrom?: number): Promise<WitnessState>;
  postCheckpoint(envelope: Envelope, signal?: AbortSignal): Promise<unknown>;
  getProtocol(signal?: AbortSignal): Promise<ProtocolInfo>;
  /** GET /v1/crl: the CRL PEM as the hub sends it (the caller checks its signature). */
  getCrl(signal?: AbortSignal): Promise<string>;
  /** GET /v1/crl/sm2: the SM2 root's CRL PEM, or null when the hub has none (404: no SM2 root, or a hub older than the route). */
  getSm2Crl(signal?: AbortSignal): Promise<string | null>;
  /** GET /v1/catalog: the signed province catalog as the hub sends it (the caller verifies it); null on 404 (none published, or a hub without the route). */
  getCatalog(signal?: AbortSignal): Promise<string | null>;
  /** POST /v1/notices (protocol 1.1): an objection, objection result or dispute mark; answers a notice-receipt envelope. */
  postNotice(envelope: Envelope, signal?: AbortSignal): Promise<unknown>;
  /** GET /v1/notices?after=&limit= (protocol 1.1): the notices routed to this node; answers a notice-feed envelope. */
  /** `mark`, limit 0: as getDistributions. */
  getNotices(after: number, limit: number, signal?: AbortSignal, mark?: string): Promise<unknown>;
  /** Drops the open connections (e.g. after a new CRL): the next requests check the hub's certificate again. */
  reconnect(): void;
  /** New client certificate and key (renewal): later requests use a new pool. */
  setIdentity(id: { certPem: string; keyPem: string }): void;
  close(): Promise<void>;
}

/** Seconds or an HTTP date → ms from now; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined || v.trim() === '') return undefined;
  if (/^\d+$/.test(v.trim())) return Number(v.trim()) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Codes of a refused hub certificate: the request failed because of the hub's identity, not the network. */
const TRUST_CODES = new Set(['ERR_CERT_REVOKED', 'ERR_CRL_STALE', 'ERR_CERT_EXPIRED', 'ERR_CERT_UNTRUSTED']);

/** OpenSSL's codes for a certificate chain that does not lead to the CA we were given. */
const CHAIN_CODES = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
]);

/**
 * What a failed request says about the hub: its certificate refused (a TLS chain or name problem is
 * not the network's fault, and the fix is different), else the hub cannot be reached.
 */
function unavailable(e: unknown, host = ''): HubError {
  if (isCreditError(e) && TRUST_CODES.has(e.code)) return new HubError(e.code, `the hub's certificate is refused: ${e.message}`, e.details, 0);
  const err = e as { code?: string; name?: string; message?: string };
  const cause = err.code ?? err.name ?? 'error';
  if (CHAIN_CODES.has(cause)) {
    return new HubError('ERR_HUB_CERT_UNTRUSTED', `the hub's certificate is not from the CA in ca.pem (${cause}): check that --ca is the provincial CA certificate the hub operator gave you, and --hub the right hub`, { cause }, 0);
  }
  if (cause === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return new HubError('ERR_HUB_NAME_MISMATCH', `the hub's certificate does not name '${host}' (${cause}): connect with a name it carries, or ask the operator to add '${host}' to hosts in the hub config (the hub then re-issues its certificate at start)`, { cause, host }, 0);
  }
  return new HubError('ERR_HUB_UNAVAILABLE', `the hub cannot be reached: ${cause}`, { cause }, 0);
}

async function readLimited(body: AsyncIterable<Uint8Array> & { destroy?: (e?: Error) => unknown }, max: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of body) {
    size += c.byteLength;
    if (size > max) {
      body.destroy?.();
      throw new HubError('ERR_HUB_ANSWER_INVALID', `the hub's answer is larger than ${max} bytes`, { maxBytes: max }, 200);
    }
    chunks.push(Buffer.from(c));
  }
  return Buffer.concat(chunks).toString('utf8');
}

export function createHubClient(opts: HubClientOptions): HubClient {
  const maxBytes = opts.maxResponseBytes ?? 64 * 1024 * 1024;
  const hubHost = new URL(opts.url).hostname.replace(/^\[|\]$/g, '');
  const makePool = (id: { certPem?: string; keyPem?: string }, check = opts.checkHubCert, connections = opts.connections ?? 4) => {
    const tls = tlsClientOptions({ caCertPem: opts.caCertPem, certPem: id.certPem ?? '', keyPem: id.keyPem ?? '', expectNodeId: HUB_NODE_ID });
    const { cert, key, ...anonymous } = tls;
    const connect = id.certPem && id.keyPem ? { ...anonymous, cert, key } : anonymous;
    const standard = connect.checkServerIdentity!;
    const checkServerIdentity = check
      ? (host: string, peer: PeerCertificate): Error | undefined => {
          const e = standard(host, peer);
          if (e) return e;
          try {
            check(derB64ToPem(peer.raw.toString('base64')));
            return undefined;
          } catch (err) {
            return err as Error;
          }
        }
      : standard;
    return new Pool(opts.url, {
      connect: { ...connect, checkServerIdentity, timeout: opts.timeoutMs },
      connections,
      keepAliveTimeout: 30_000,
      headersTimeout: opts.timeoutMs,
      bodyTimeout: opts.timeoutMs,
    });
  };
  let identity: { certPem?: string; keyPem?: string } = opts;
  let pool = makePool(identity);
  let crlPool: Pool | undefined;
  const retired: Promise<void>[] = [];
  const replacePool = () => {
    const old = pool;
    pool = makePool(identity);
    retired.push(old.close().catch(() => undefined));
  };

  /** GET of a signed document (CRL, catalog) as text; an answer with status `absent` means "none" (→ null). */
  async function getSigned(path: string, from: Pool, signal: AbortSignal | undefined, limit: number, absent?: number): Promise<string | null> {
    let res;
    try {
      res = await from.request({ method: 'GET', path, ...(signal ? { signal } : {}) });
    } catch (e) {
      throw unavailable(e, hubHost);
    }
    let text: string;
    try {
      text = await readLimited(res.body, limit);
    } catch (e) {
      if (e instanceof HubError) throw e;
      throw unavailable(e, hubHost);
    }
    if (absent !== undefined && res.statusCode === absent) return null;
    if (res.statusCode !== 200) throw new HubError(res.statusCode >= 500 ? 'ERR_HUB_UNAVAILABLE' : 'ERR_HUB_ANSWER_INVALID', `the hub answered GET ${path} with HTTP ${res.statusCode}`, { status: res.statusCode }, res.statusCode);
    return text;
  }

  async function getCrl(signal?: AbortSignal): Promise<string> {
    crlPool ??= makePool({}, undefined, 1);
    return (await getSigned(EXCHANGE_ROUTES.crl, crlPool, signal, maxBytes))!;
  }

  async function getSm2Crl(signal?: AbortSignal): Promise<string | null> {
    crlPool ??= makePool({}, undefined, 1);
    return getSigned(EXCHANGE_ROUTES.sm2Crl, crlPool, signal, maxBytes, 404);
  }

  /** Over the checked pool (the hub's certificate against the CRL); never reads more than a catalog may be (ERR_CATALOG_TOO_LARGE). */
  async function getCatalog(signal?: AbortSignal): Promise<string | null> {
    try {
      opts.beforeRequest?.();
    } catch (e) {
      throw unavailable(e);
    }
    const max = CATALOG_LIMITS.maxDocumentBytes;
    try {
      return await getSigned(EXCHANGE_ROUTES.catalog, pool, signal, max, 404); // ERR_CATALOG_NOT_PUBLISHED, or a hub older than the route: no province catalog
    } catch (e) {
      if (e instanceof HubError && e.status === 200 && (e.details as { maxBytes?: number } | undefined)?.maxBytes === max) {
        throw new HubError('ERR_CATALOG_TOO_LARGE', `the hub's province catalog is larger than ${max} bytes; it is not read`, { maxBytes: max }, 200);
      }
      throw e;
    }
  }

  /**
   * `envelope`: the answer is an envelope. Its text is checked for what JSON.parse hides (I-JSON,
   * as open() checks envelopes it is given as text): a member name twice anywhere in the answer,
   * and in an envelope an integer header field written 7.0 → ERR_HUB_ANSWER_INVALID.
   */
  const sm2Header = (): Record<string, string> => {
    const pem = opts.sm2CertPem?.();
    return pem === undefined ? {} : { 'x-cf-sm2-cert': pem.replace(/-----[^-]+-----|\s/g, '') };
  };

  async function call<T>(method: 'GET' | 'POST', path: string, body?: unknown, signal?: AbortSignal, envelope = false): Promise<T> {
    let res;
    try {
      opts.beforeRequest?.();
      res = await pool.request({
        method,
        path,
        headers: { accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...sm2Header() },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        ...(signal ? { signal } : {}),
      });
    } catch (e) {
      throw unavailable(e, hubHost);
    }
    let text: string;
    try {
      text = await readLimited(res.body, maxBytes);
    } catch (e) {
      if (e instanceof HubError) throw e;
      throw unavailable(e, hubHost);
    }
    let json: unknown;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (json !== undefined) {
      const problems = jsonTextProblems(scanJsonText(text, envelope && res.statusCode < 300 ? ENVELOPE_SCHEMA : undefined));
      if (problems.length > 0) {
        throw new HubError('ERR_HUB_ANSWER_INVALID', `the hub's answer to ${method} ${path} is not I-JSON: ${problems.map((p) => `${p.field} ${p.message}`).join('; ')}`, problems, res.statusCode);
      }
    }
    if (res.statusCode >= 200 && res.statusCode < 300) {
      if (json === undefined) throw new HubError('ERR_HUB_ANSWER_INVALID', `the hub answered ${method} ${path} with something that is not JSON`, { status: res.statusCode }, res.statusCode);
      return json as T;
    }
    const retryAfterMs = parseRetryAfter(res.headers['retry-after']);
    const e = json as { code?: unknown; message?: unknown; details?: unknown } | undefined;
    if (e && typeof e.code === 'string' && /^ERR_[A-Z0-9_]+$/.test(e.code)) {
      throw new HubError(e.code, typeof e.message === 'string' ? e.message : e.code, e.details, res.statusCode, retryAfterMs);
    }
    const code = res.statusCode >= 500 || res.statusCode === 429 ? 'ERR_HUB_UNAVAILABLE' : 'ERR_HUB_ANSWER_INVALID';
    throw new HubError(code, `the hub answered ${method} ${path} with HTTP ${res.statusCode}`, { status: res.statusCode }, res.statusCode, retryAfterMs);
  }

  return {
    enroll: (req, signal) => call('POST', EXCHANGE_ROUTES.enroll, req, signal),
    renew: (req, signal) => call('POST', EXCHANGE_ROUTES.renew, req, signal),
    postBatch: (env, signal) => call('POST', EXCHANGE_ROUTES.batches, env, signal, true),
    getDistributions: (after, limit, signal, mark) => call('GET', `${EXCHANGE_ROUTES.distributions}?after=${after}&limit=${limit}${mark !== undefined ? `&mark=${encodeURIComponent(mark)}` : ''}`, undefined, signal, true),
    postQuery: (env, signal) => call('POST', EXCHANGE_ROUTES.queries, env, signal, true),
    getWitnessState: (signal, before, hubFrom) => {
      const q = [...(before ? [`before=${encodeURIComponent(before)}`] : []), ...(hubFrom ? [`hubFrom=${hubFrom}`] : [])];
      return call('GET', q.length ? `${EXCHANGE_ROUTES.checkpointLatest}?${q.join('&')}` : EXCHANGE_ROUTES.checkpointLatest, undefined, signal);
    },
    postCheckpoint: (env, signal) => call('POST', EXCHANGE_ROUTES.checkpoints, env, signal),
    getProtocol: (signal) => call('GET', EXCHANGE_ROUTES.protocol, undefined, signal),
    getCrl,
    getSm2Crl,
    getCatalog,
    postNotice: (env, signal) => call('POST', NOTICE_ROUTES.notices, env, signal, true),
    getNotices: (after, limit, signal, mark) => call('GET', `${NOTICE_ROUTES.notices}?after=${after}&limit=${limit}${mark !== undefined ? `&mark=${encodeURIComponent(mark)}` : ''}`, undefined, signal, true),
    reconnect: replacePool,
    setIdentity(id) {
      identity = id;
      replacePool();
    },
    async close() {
      await Promise.all([...retired, pool.close().catch(() => undefined), crlPool?.close().catch(() => undefined)]);
    },
  };
}
