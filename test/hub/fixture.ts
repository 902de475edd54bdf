/**
 * A real hub on loopback for test/hub: a fresh CA directory (credit ca init), a store per engine
 * (SQLite file or a PostgreSQL schema), HTTPS on port 0, and helpers that enrol nodes over the
 * real /v1/enroll route and talk to the hub with undici over mutual TLS.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request, type Dispatcher } from 'undici';
import type { DestinationStream } from 'pino';
import type { Knex } from 'knex';
import { exampleRecord } from '../../protocol/catalog.js';
import type { Classification } from '../../protocol/classification.js';
import { uuidv7 } from '../../protocol/crypto.js';
import type { Envelope, EnvelopeType } from '../../protocol/envelope.js';
import type { EnrollResponse, WireRecord } from '../../protocol/exchange.js';
import { open, type Opened } from '../../protocol/open.js';
import { seal } from '../../protocol/seal.js';
import { caTrust } from '../../protocol/ca-trust.js';
import { initCaDir } from '../../certs/ca-dir.js';
import { createNodeKeys } from '../../certs/node-keys.js';
import type { NodeKeyAlgorithm } from '../../certs/pki-crypto.js';
import { tlsClientOptions } from '../../certs/tls.js';
import { buildHubConfig, type HubConfig } from '../../hub/config.js';
import { makeToken } from '../../hub/enrolment-service.js';
import { startHub, type RunningHub } from '../../hub/server.js';
import type { BuildHubOptions } from '../../hub/app.js';
import { sqliteEngine, type Engine } from '../helpers/db.js';

export interface TestNode extends EnrollResponse {
  keyPem: string;
  /** mTLS agent (keep-alive) presenting this node's certificate. */
  agent: Agent;
  /** Next batch seq. */
  seq: number;
}

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export interface HubFixture {
  hub: RunningHub;
  url: string;
  config: HubConfig;
  dir: string;
  caDir: string;
  caCertPem: string;
  hubCertPem: string;
  /** An agent that trusts the CA but presents no client certificate. */
  anonymous: Agent;
  /** Enrols over /v1/enroll with a fresh key: RSA unless `algorithm` says p256. */
  enrol(nodeId: string, grade: number, o?: { name?: string; algorithm?: NodeKeyAlgorithm }): Promise<TestNode>;
  token(nodeId: string, grade: number, o?: { name?: string; ttlMs?: number }): Promise<string>;
  call(dispatcher: Dispatcher, method: 'GET' | 'POST', path: string, body?: unknown, headers?: Record<string, string>): Promise<Reply>;
  /** Seals a batch (or another type) from `node` to the hub. */
  sealFrom(node: TestNode, type: EnvelopeType, payload: unknown, o?: { seq?: number; ts?: string; to?: string; recipientCertPem?: string; id?: string }): Promise<Envelope>;
  openAs<P>(node: TestNode, env: unknown): Promise<Opened<P>>;
  /** Moves the hub's clock by `ms` from real time (0 puts it back). */
  shiftClock(ms: number): void;
}

export function wire(type: string, o: { classification?: Classification; fields?: Record<string, unknown>; id?: string } = {}): WireRecord {
  const e = exampleRecord(type);
  const now = new Date().toISOString();
  return { id: o.id ?? uuidv7(), type, classification: o.classification ?? (type === 'SXBZX' ? 'shared' : 'public'), fields: { ...e.fields, ...o.fields }, createdAt: now, updatedAt: now };
}

export async function hubFixture(t: { teardown(fn: () => unknown): void }, o: { engine?: Engine; config?: Record<string, unknown>; logStream?: DestinationStream; replicaDb?: Knex; prepare?: (config: HubConfig) => void; plannerStats?: BuildHubOptions['plannerStats'] } = {}): Promise<HubFixture> {
  const dir = mkdtempSync(join(tmpdir(), 'hub-test-'));
  const caDir = join(dir, 'ca');
  const { certPem: caCertPem } = await initCaDir(caDir, { cn: 'Test Provincial Credit CA (hub)' });
  const store = await (o.engine ?? sqliteEngine).open();
  const config = buildHubConfig({ dataDir: join(dir, 'data'), caDir, listen: { host: '127.0.0.1', port: 0 }, rateLimit: { enabled: false }, logLevel: 'silent', ...o.config }, {});
  const agents: Agent[] = [];
  let hub: RunningHub | undefined;
  t.teardown(async () => {
    for (const a of agents) await a.close().catch(() => undefined);
    await hub?.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  let offset = 0;
  o.prepare?.(config);
  hub = await startHub({ config, db: store.db, clock: () => new Date(Date.now() + offset), ...(o.logStream ? { logStream: o.logStream } : {}), ...(o.replicaDb ? { replicaDb: o.replicaDb } : {}), ...(o.plannerStats ? { plannerStats: o.plannerStats } : {}) });
  const ctx = hub.app.hubCtx;
  const hubCertPem = ctx.identity.certPem;
  const anonymous = new Agent({ connect: { ca: [caCertPem], rejectUnauthorized: true } });
  agents.push(anonymous);

  const call: HubFixture['call'] = async (dispatcher, method, path, body, headers = {}) => {
    const res = await request(`${hub!.url}${path}`, {
      method,
      dispatcher,
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'content-type': 'application/json', ...headers } }),
    });
    const text = await res.body.text();
    let json: unknown = text;
    try {
      json = JSON.parse(text);
    } catch {
      /* not JSON (CRL, metrics) */
    }
    return { status: res.statusCode, headers: res.headers, json };
  };

  const token: HubFixture['token'] = async (nodeId, grade, x = {}) => (await makeToken(ctx.db, ctx.ca, { nodeId, grade, ttlMs: x.ttlMs ?? 3_600_000, ...(x.name ? { name: x.name } : {}) })).token;

  return {
    hub, url: hub.url, config, dir, caDir, caCertPem, hubCertPem, anonymous, call, token,
    shiftClock: (ms) => void (offset = ms),
    async enrol(nodeId, grade, x = {}) {
      const tok = await token(nodeId, grade, x);
      const { keyPem, csrPem } = createNodeKeys(nodeId, x.algorithm ?? 'rsa');
      const r = await call(anonymous, 'POST', '/v1/enroll', { token: tok, csrPem });
      if (r.status !== 200) throw new Error(`enrolment of ${nodeId} failed: ${JSON.stringify(r.json)}`);
      const res = r.json as EnrollResponse;
      const agent = new Agent({ connect: tlsClientOptions({ caCertPem, certPem: res.certPem, keyPem, expectNodeId: '430000' }) });
      agents.push(agent);
      return { ...res, keyPem, agent, seq: 1 };
    },
    async sealFrom(node, type, payload, x = {}) {
      const seq = x.seq ?? (type === 'batch' ? node.seq++ : 1);
      return seal({ type, from: node.nodeId, to: x.to ?? '430000', seq, payload, sender: { keyPem: node.keyPem, certPem: node.certPem }, recipientCertPem: x.recipientCertPem ?? node.hubCertPem, ...(x.ts ? { ts: x.ts } : {}), ...(x.id ? { id: x.id } : {}) });
    },
    async openAs<P>(node: TestNode, env: unknown) {
      return open<P>(env, { trust: caTrust({ caCertPems: [caCertPem] }), recipient: { nodeId: node.nodeId, keyPem: node.keyPem } });
    },
  };
}
