/**
 * A scripted stand-in for the hub, for the node's exchange tests: real HTTPS with mutual TLS on
 * loopback, real envelopes (seal/open with the test CA's certificates), and switches for the
 * faults the real hub cannot be made to show on demand (an answer lost after the batch was
 * processed, 503 with Retry-After, a policy refusal, a receipt for another batch). Like the real hub
 * it holds an EC P-256 identity beside its RSA one and answers an EC node with it (issue 23).
 */
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { caTrust } from '../../protocol/ca-trust.js';
import { certFromPem, derB64ToPem } from '../../protocol/crypto.js';
import { open } from '../../protocol/open.js';
import { seal } from '../../protocol/seal.js';
import type { Envelope } from '../../protocol/envelope.js';
import type { BatchPayload, DistributionItem, EnrollResponse, QueryAnswerPayload, QueryPayload, ReceiptPayload, SeqRefusalPayload } from '../../protocol/exchange.js';
import { signCrl } from '../../certs/crl.js';
import { tlsServerOptions } from '../../certs/tls.js';
import { cosignCheckpoint } from '../../audit/cosign.js';
import type { CheckpointPayload } from '../../protocol/exchange.js';
import { parseCsr } from '../../certs/csr.js';
import { suitesForKeyType } from '../../protocol/suites.js';
import { generateEcKeyPair, randomSerial, signLeafCertificate } from '../../certs/pki-crypto.js';
import { DEFAULT_HOSTS } from '../../certs/issue.js';
import { issue, type TestCa, type TestIdentity } from '../helpers/pki.js';

export interface FakeBatch {
  id: string;
  seq: number;
  from: string;
  payload: BatchPayload;
  receipt: Envelope;
}

export interface FakeHub {
  url: string;
  port: number;
  identity: TestIdentity;
  /** The hub's EC P-256 identity: what EC nodes encrypt to and what answers them. */
  ecIdentity: { keyPem: string; certPem: string };
  /** Every batch processed, by envelope id (the ledger: a replay is answered from here). */
  batches: Map<string, FakeBatch>;
  /** Every POST /v1/batches received, processed or not. */
  posts: { id: string; seq: number; ts: string; signerSerial: string; tlsSerial: string; suite: string }[];
  lastSeq: Map<string, number>;
  distributions: DistributionItem[];
  queries: { payload: QueryPayload; from: string }[];
  answerQuery: (q: QueryPayload) => Pick<QueryAnswerPayload, 'records' | 'withheld'>;
  grade: number;
  /** The next N batch posts are processed, but the connection is cut before the answer. */
  loseAnswers: number;
  /** The next N requests (any route) get 503 ERR_NOT_READY with this Retry-After (seconds). */
  unavailable: number;
  retryAfterSeconds: number;
  /** The next N batch posts get 503 ERR_HUB_BUSY (reason nodes) with retryAfterSeconds, as a hub taking other nodes' batches. */
  busy: number;
  /**
   * The next batch post waits, once it has arrived, until another batch post has been answered;
   * then it is processed. An event, not a delay: the order holds however loaded the machine is.
   */
  holdNext: boolean;
  /** The next N query posts are read, then their connection is cut before any answer (a hub process killed under them). */
  loseQueries: number;
  /** While set, every batch post waits for it once it has arrived (and is recorded in `posts`). */
  gate: Promise<void> | null;
  /** The next N query posts are answered 503 before they reach the query route (other requests are served: background loops may run meanwhile). */
  busyQueries: number;
  /** The next N batch posts are refused by policy (403 ERR_CLASSIFICATION_DENIED, seq consumed). */
  refuse: number;
  /** The next N receipts name another batch id. */
  wrongReceipts: number;
  /** Rewrites the text of every answer (ambiguous JSON the real hub never writes); null: none. */
  rewriteAnswers: ((text: string) => string) | null;
  /** Rewrites each receipt payload before it is sealed (a hub naming ids the batch did not carry); null: none. */
  rewriteReceipt: ((p: ReceiptPayload) => ReceiptPayload) | null;
  /**
   * Seq refusals (ERR_SEQUENCE_GAP, ERR_OUT_OF_ORDER): 'signed' as the real hub of protocol 1.2
   * (details.refusal, hub/seq-refusal.ts), 'unsigned' without it (a hub before 1.2, or a proxy that
   * strips it), or a function that rewrites the signed payload before it is sealed (a lying hub).
   */
  seqRefusals: 'signed' | 'unsigned' | ((p: SeqRefusalPayload) => SeqRefusalPayload);
  /** Validity of certificates issued by /v1/renew and /v1/enroll (ms). */
  certLifetimeMs: number;
  enrolTokens: Map<string, { nodeId: string; grade: number }>;
  renewals: number;
  /** The CSRs /v1/renew received, in order. */
  renewCsrs: string[];
  /** Checkpoints cosigned, per node (the last is what GET /v1/checkpoints/latest reports). */
  cosigned: Map<string, CheckpointPayload[]>;
  close(): Promise<void>;
}

async function body(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? JSON.parse(text) : undefined;
}

function send(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(value));
}

/**
 * `rsaOnly`: a hub from before issue 23, answering every node with its RSA certificate. `suites`: the
 * hub's suite policy at /v1/renew, refused as the real hub does (400 ERR_SUITE_REFUSED, details
 * { keyType, allowed }; test/hub/ec-nodes.test.ts holds the real hub to that shape).
 */
export async function startFakeHub(ca: TestCa, opts: { port?: number; rsaOnly?: boolean; suites?: string[] } = {}): Promise<FakeHub> {
  const identity = issue(ca, '430000');
  const trust = caTrust({ caCertPems: [ca.certPem] });
  const hubKey = { keyPem: identity.keyPem, certPem: identity.certPem };
  const ecKeys = generateEcKeyPair();
  const ecIdentity = {
    keyPem: ecKeys.privateKeyPem,
    certPem: signLeafCertificate({ caCertPem: ca.certPem, caKeyPem: ca.keyPem, cn: '430000', publicKeyPem: ecKeys.publicKeyPem, serial: randomSerial(), notBefore: new Date(Date.now() - 1000), notAfter: new Date(Date.now() + 86_400_000), hosts: DEFAULT_HOSTS }),
  };
  /** The hub key and certificate for a peer certificate's key type. */
  const hubFor = (peerCertPem: string) => (certFromPem(peerCertPem).keyKind === 'ec-p256' && !opts.rsaOnly ? ecIdentity : hubKey);
  /** The hub key an envelope is encrypted to: the one of its suite's key type. */
  const keyFor = (raw: unknown) => ((raw as { suite?: unknown }).suite === 'CF1-ECDH-ES-A256KW-A256GCM-ES256' ? ecIdentity.keyPem : identity.keyPem);
  /** Releases a batch post held by `holdNext` (set while one is held). */
  let releaseHeld: (() => void) | null = null;
  const issueFor = async (csrPem: string): Promise<{ certPem: string; nodeId: string }> => {
    const csr = await parseCsr(csrPem);
    const now = Date.now();
    const certPem = signLeafCertificate({
      caCertPem: ca.certPem, caKeyPem: ca.keyPem, cn: csr.cn!, publicKeyPem: csr.publicKeyPem, serial: randomSerial(),
      notBefore: new Date(now - 1000), notAfter: new Date(now + hub.certLifetimeMs), hosts: DEFAULT_HOSTS,
    });
    return { certPem, nodeId: csr.cn! };
  };
  const enrollResponse = (certPem: string, nodeId: string): EnrollResponse => {
    const c = new X509Certificate(certPem);
    return {
      nodeId, grade: hub.grade, certPem, caCertPem: ca.certPem, hubCertPem: hubFor(certPem).certPem, serial: c.serialNumber,
      notBefore: new Date(c.validFrom).toISOString(), notAfter: new Date(c.validTo).toISOString(),
    };
  };

  const sealTo = (type: 'receipt' | 'distribution' | 'query-answer', toCertPem: string, to: string, payload: unknown) =>
    seal({ type, from: '430000', to, seq: 1, payload, sender: hubFor(toCertPem), recipientCertPem: toCertPem });

  /** A seq refusal's answer body, as the real hub gives it (hub/intake-service.ts, hub/seq-refusal.ts). */
  const seqRefusal = async (h: { id: string; seq: number; from: string }, digest: string, toCertPem: string, last: number) => {
    const gap = h.seq > last;
    const answer = gap
      ? { code: 'ERR_SEQUENCE_GAP', message: `seq ${h.seq}, expected ${last + 1}`, details: { expected: last + 1, seq: h.seq } as Record<string, unknown> }
      : { code: 'ERR_OUT_OF_ORDER', message: `seq ${h.seq}, expected ${last + 1}`, details: { lastSeq: last, seq: h.seq } as Record<string, unknown> };
    if (hub.seqRefusals === 'unsigned') return answer;
    const said: SeqRefusalPayload = { batchId: h.id, digest, seq: h.seq, code: gap ? 'ERR_SEQUENCE_GAP' : 'ERR_OUT_OF_ORDER', hubLastSeq: last, refusedAt: new Date().toISOString() };
    const payload = hub.seqRefusals === 'signed' ? said : hub.seqRefusals(said);
    answer.details.refusal = await seal({ type: 'seq-refusal', from: '430000', to: h.from, seq: h.seq, payload, sender: hubFor(toCertPem), recipientCertPem: toCertPem, extra: { re: payload.batchId, reDigest: payload.digest } });
    return answer;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'https://hub');
    const socket = req.socket as TLSSocket;
    const peer = socket.authorized ? socket.getPeerCertificate() : undefined;
    const peerPem = peer?.raw ? derB64ToPem(peer.raw.toString('base64')) : undefined;
    const cn = peer?.subject?.CN;
    const peerId = Array.isArray(cn) ? cn[0] : cn;
    if (hub.busy > 0 && req.method === 'POST' && url.pathname === '/v1/batches') {
      hub.busy--;
      return send(res, 503, { code: 'ERR_HUB_BUSY', message: 'this hub is taking batches of other nodes', details: { retryAfter: hub.retryAfterSeconds, reason: 'nodes' } }, { 'retry-after': String(hub.retryAfterSeconds) });
    }
    if (hub.unavailable > 0) {
      hub.unavailable--;
      return send(res, 503, { code: 'ERR_NOT_READY', message: 'hub is busy' }, { 'retry-after': String(hub.retryAfterSeconds) });
    }
    if (req.method === 'POST' && url.pathname === '/v1/enroll') {
      const r = (await body(req)) as { token: string; csrPem: string };
      const tok = hub.enrolTokens.get(r.token);
      if (!tok) return send(res, 401, { code: 'ERR_TOKEN_INVALID', message: 'no such token' });
      hub.enrolTokens.delete(r.token);
      const { certPem, nodeId } = await issueFor(r.csrPem);
      return send(res, 200, { ...enrollResponse(certPem, nodeId), grade: tok.grade });
    }
    if (url.pathname === '/v1/crl') {
      res.writeHead(200, { 'content-type': 'application/pkix-crl' });
      res.end(await signCrl({ caCertPem: ca.certPem, caKeyPem: ca.keyPem, entries: [], thisUpdate: new Date(), nextUpdate: new Date(Date.now() + 7 * 86_400_000) }));
      return;
    }
    if (url.pathname === '/v1/protocol') return send(res, 200, { hubNodeId: '430000', versions: ['1.0'], suites: ['CF1-RSA-OAEP-256-A256GCM-PS256', 'CF1-ECDH-ES-A256KW-A256GCM-ES256'], hubCertPem: identity.certPem, suiteCerts: { 'CF1-RSA-OAEP-256-A256GCM-PS256': identity.certPem, 'CF1-ECDH-ES-A256KW-A256GCM-ES256': ecIdentity.certPem }, caCertPem: ca.certPem, maxEnvelopeBytes: 16 << 20, windowMs: 300000 });
    if (!peerPem || !peerId) return send(res, 401, { code: 'ERR_CLIENT_CERT_REQUIRED', message: 'no client certificate' });
    if (req.method === 'POST' && url.pathname === '/v1/renew') {
      const r = (await body(req)) as { csrPem: string };
      hub.renewals++;
      hub.renewCsrs.push(r.csrPem);
      const keyType = (await parseCsr(r.csrPem)).keyType;
      if (opts.suites && suitesForKeyType(keyType, opts.suites).length === 0) return send(res, 400, { code: 'ERR_SUITE_REFUSED', message: `fake hub: no suite for a ${keyType} key`, details: { keyType, allowed: opts.suites } });
      const { certPem, nodeId } = await issueFor(r.csrPem);
      return send(res, 200, enrollResponse(certPem, nodeId));
    }
    if (req.method === 'POST' && url.pathname === '/v1/batches') {
      const raw = await body(req);
      const o = await open<BatchPayload>(raw, { trust, recipient: { nodeId: '430000', keyPem: keyFor(raw) }, freshness: false });
      const h = o.header;
      hub.posts.push({ id: h.id, seq: h.seq, ts: h.ts, signerSerial: o.signer.serial, tlsSerial: String(peer?.serialNumber ?? '').toUpperCase(), suite: String((raw as { suite?: unknown }).suite) });
      if (hub.gate) await hub.gate;
      if (hub.holdNext) {
        hub.holdNext = false;
        await new Promise<void>((r) => (releaseHeld = r));
      } else if (releaseHeld) {
        const release = releaseHeld;
        releaseHeld = null;
        res.once('finish', release);
      }
      const signerPem = derB64ToPem(h.x5c[0]!);
      const seen = hub.batches.get(h.id);
      if (seen) return send(res, 409, { code: 'ERR_REPLAY', message: `envelope ${h.id} has been seen before`, details: { id: h.id, receipt: seen.receipt } });
      const last = hub.lastSeq.get(h.from) ?? 0;
      // details as the real hub gives them (hub/intake-service.ts)
      if (h.seq !== last + 1) return send(res, 409, await seqRefusal(h, o.digest, signerPem, last));
      hub.lastSeq.set(h.from, h.seq);
      const refused = hub.refuse > 0 && hub.refuse-- > 0;
      const wrong = hub.wrongReceipts > 0 && hub.wrongReceipts-- > 0;
      const payload: ReceiptPayload = {
        batchId: wrong ? '01890000-0000-7000-8000-000000000000' : h.id, digest: o.digest, seq: h.seq, receivedAt: new Date().toISOString(),
        outcome: refused ? 'refused' : 'accepted', ...(refused ? { code: 'ERR_CLASSIFICATION_DENIED' } : {}),
        accepted: refused ? [] : o.payload.records.map((r) => r.id), rejected: [], withdrawn: refused ? [] : o.payload.withdrawals.map((w) => w.id),
      };
      const receipt = await sealTo('receipt', signerPem, h.from, hub.rewriteReceipt ? hub.rewriteReceipt(payload) : payload);
      if (!wrong) hub.batches.set(h.id, { id: h.id, seq: h.seq, from: h.from, payload: o.payload, receipt });
      else hub.lastSeq.set(h.from, last); // not stored: the node will send it again
      if (hub.loseAnswers > 0) {
        hub.loseAnswers--;
        socket.destroy();
        return;
      }
      if (refused) return send(res, 403, { code: 'ERR_CLASSIFICATION_DENIED', message: 'refused by policy', details: { receipt } });
      return send(res, 200, receipt);
    }
    if (req.method === 'GET' && url.pathname === '/v1/distributions') {
      const after = Number(url.searchParams.get('after') ?? 0);
      const limit = Number(url.searchParams.get('limit') ?? 1000);
      const items = hub.distributions.filter((d) => d.cursor > after && d.sourceNode !== peerId).slice(0, limit);
      const rest = hub.distributions.filter((d) => d.cursor > (items.at(-1)?.cursor ?? after) && d.sourceNode !== peerId);
      return send(res, 200, await sealTo('distribution', peerPem, peerId, { items, next: items.at(-1)?.cursor ?? after, more: rest.length > 0 }));
    }
    if (req.method === 'POST' && url.pathname === '/v1/queries') {
      if (hub.busyQueries > 0) {
        hub.busyQueries--;
        return send(res, 503, { code: 'ERR_NOT_READY', message: 'hub is busy' }, { 'retry-after': String(hub.retryAfterSeconds) });
      }
      const raw = await body(req);
      const o = await open<QueryPayload>(raw, { trust, recipient: { nodeId: '430000', keyPem: keyFor(raw) } });
      hub.queries.push({ payload: o.payload, from: o.header.from });
      if (hub.loseQueries > 0) {
        hub.loseQueries--;
        socket.destroy();
        return;
      }
      const a = hub.answerQuery(o.payload);
      return send(res, 200, await sealTo('query-answer', derB64ToPem(o.header.x5c[0]!), o.header.from, { subject: o.payload.subject, queryId: o.header.id, answeredAt: new Date().toISOString(), ...a }));
    }
    if (req.method === 'GET' && url.pathname === '/v1/checkpoints/latest') {
      const last = hub.cosigned.get(peerId)?.at(-1);
      return send(res, 200, { nodeId: peerId, treeSize: last?.checkpoint.treeSize ?? 0, rootHash: last?.checkpoint.rootHash ?? null, cosignedAt: last ? new Date().toISOString() : null });
    }
    if (req.method === 'POST' && url.pathname === '/v1/checkpoints') {
      const raw = await body(req);
      const o = await open<CheckpointPayload>(raw, { trust, recipient: { nodeId: '430000', keyPem: keyFor(raw) } });
      const list = hub.cosigned.get(o.header.from) ?? [];
      list.push(o.payload);
      hub.cosigned.set(o.header.from, list);
      return send(res, 200, cosignCheckpoint(o.payload.checkpoint, hubKey, new Date()));
    }
    return send(res, 404, { code: 'ERR_ROUTE_NOT_FOUND', message: `no route ${req.method} ${url.pathname}` });
  };

  const server: Server = createServer({ ...tlsServerOptions({ caCertPem: ca.certPem, certPem: identity.certPem, keyPem: identity.keyPem }), rejectUnauthorized: false }, (req, res) => {
    const rewrite = hub.rewriteAnswers;
    if (rewrite) {
      const end = res.end.bind(res) as (chunk: unknown) => ServerResponse;
      res.end = ((chunk: unknown) => end(typeof chunk === 'string' ? rewrite(chunk) : chunk)) as typeof res.end;
    }
    handle(req, res).catch((e: unknown) => send(res, 400, { code: (e as { code?: string }).code ?? 'ERR_INTERNAL', message: (e as Error).message }));
  });
  // Fastify's keep-alive timeout (72 s), not node:https's 5 s: with 5 s a loaded machine could hand the
  // client a kept-alive socket the server was closing at that moment (ECONNRESET on renewNow).
  server.keepAliveTimeout = 72_000;
  server.listen(opts.port ?? 0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  const hub: FakeHub = {
    url: `https://127.0.0.1:${port}`, port, identity, ecIdentity, batches: new Map(), posts: [], lastSeq: new Map(), distributions: [], queries: [],
    answerQuery: () => ({ records: [], withheld: [] }), rewriteAnswers: null, rewriteReceipt: null, grade: 3, loseAnswers: 0, loseQueries: 0, busyQueries: 0, holdNext: false, gate: null, unavailable: 0, busy: 0, retryAfterSeconds: 0, refuse: 0, wrongReceipts: 0, seqRefusals: 'signed',
    certLifetimeMs: 365 * 86400_000, enrolTokens: new Map(), renewals: 0, renewCsrs: [], cosigned: new Map(),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return hub;
}
