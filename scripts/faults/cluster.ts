/**
 * The federation the fault harness breaks: a provincial CA, a real hub process (`credit hub start`)
 * on a fixed loopback port (a restarted hub answers where the nodes look for it), and real city
 * node processes (`credit node start`), each with its own SQLite file. Setup that is not under
 * test (CA, enrolment tokens, `node init`, local user tokens) runs in this process through the same
 * functions the `credit` commands call, so a run does not pay a process start for each step.
 * Processes are killed with SIGKILL (`kill()`): no shutdown code runs.
 */
import { createReadStream, mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { request } from 'undici';
import { connect } from '../../audit/knex-connect.js';
import { initCaDir } from '../../certs/ca-dir.js';
import { openHubCa } from '../../hub/ca-store.js';
import { makeToken } from '../../hub/enrolment-service.js';
import { migrateHub } from '../../hub/migrations.js';
import { buildConfig } from '../../node/config.js';
import { enrollNode } from '../../node/exchange/enroll.js';
import { mintServiceTokenFor } from '../../node/service-tokens.js';
import { startServer, type ServerProcess } from '../demo/processes.js';
import { waitFor } from '../demo/federation.js';

export { waitFor };

export interface NodeSpec {
  id: string;
  name: string;
  grade: number;
}

export const CHANGSHA: NodeSpec = { id: '430100', name: '长沙市', grade: 3 };
export const CHANGDE: NodeSpec = { id: '430700', name: '常德市', grade: 2 };

/** Fast exchange loops: the harness does not wait on production intervals. */
// batches of 1,000 (the node's default was 1,000 until it rose to 5,000): the crash harness counts batches by it
export const FAST_HUB_KEYS = { pollIntervalMs: 200, batchMaxRecords: 1000, batchMaxAgeMs: 50, checkpointIntervalMs: 1000, timeoutMs: 5000 };

export interface ExchangeStatus {
  outbox: { pending: number };
  batches: { pending: number; accepted: number; refused: number; lastSeq: number };
  inbox: { cursor: number; applied: number };
  certificate: { serial: string; notAfter: string; renewFrom: string };
  lastError: { loop: string; code: string; message: string; at: string } | null;
}

export interface ClusterNode extends NodeSpec {
  dir: string;
  dataDir: string;
  configFile: string;
  config: Record<string, unknown>;
  token: string;
  process?: ServerProcess;
}

/** A free TCP port on 127.0.0.1 (asked of the kernel, then released). */
export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

export class Cluster {
  readonly caDir: string;
  readonly hubDir: string;
  readonly hubConfigFile: string;
  hubPort = 0;
  hub?: ServerProcess;
  readonly nodes = new Map<string, ClusterNode>();
  readonly env: NodeJS.ProcessEnv;

  constructor(
    readonly dir: string,
    private hubConfig: Record<string, unknown> = {},
  ) {
    this.caDir = join(dir, 'ca');
    this.hubDir = join(dir, 'hub');
    this.hubConfigFile = join(this.hubDir, 'hub.json');
    this.env = { ...process.env, CREDIT_LOG_LEVEL: 'info' };
    delete this.env.DATABASE_URL;
    delete this.env.NODE_OPTIONS;
  }

  get caCertFile(): string {
    return join(this.caDir, 'ca.pem');
  }
  get hubUrl(): string {
    return `https://127.0.0.1:${this.hubPort}`;
  }
  get hubDb(): string {
    return join(this.hubDir, 'data', 'hub.sqlite');
  }

  /** The CA (in process, as `credit ca init` does) and the hub config on a port of its own. */
  async init(): Promise<void> {
    mkdirSync(this.hubDir, { recursive: true });
    await initCaDir(this.caDir);
    this.hubPort = await freePort();
    this.writeHubConfig();
  }

  /** Adds hub config keys (e.g. { nodeCertSeconds: 15 }); they take effect at the hub's next start. */
  reconfigureHub(keys: Record<string, unknown>): void {
    this.hubConfig = { ...this.hubConfig, ...keys };
    this.writeHubConfig();
  }

  private writeHubConfig(): void {
    const config = { dataDir: join(this.hubDir, 'data'), caDir: this.caDir, listen: { host: '127.0.0.1', port: this.hubPort }, ...this.hubConfig };
    writeFileSync(this.hubConfigFile, JSON.stringify(config, null, 2) + '\n');
  }

  async startHub(): Promise<ServerProcess> {
    this.hub = await startServer('hub', ['hub', 'start', '--config', this.hubConfigFile], { logFile: join(this.hubDir, 'hub.log'), env: this.env, timeoutMs: 120_000 });
    return this.hub;
  }

  /** A one-time enrolment token, made as `credit hub token` makes it (beside the running hub). */
  async hubToken(spec: NodeSpec): Promise<string> {
    const db = await connect(this.hubDb);
    try {
      await migrateHub(db);
      return (await makeToken(db, openHubCa(db, this.caDir), { nodeId: spec.id, grade: spec.grade, ttlMs: 3_600_000, name: spec.name })).token;
    } finally {
      await db.destroy();
    }
  }

  /**
   * Writes the node's config, enrols it with the running hub (as `credit node init` does) and
   * issues a service token (officer, internal clearance) for its API; the node is not started. `hubUrl` overrides where the node
   * looks for the hub (a fault proxy), `hubKeys` adds `hub.*` config keys.
   */
  async addNode(spec: NodeSpec, o: { hubUrl?: string; hubKeys?: Record<string, unknown> } = {}): Promise<ClusterNode> {
    const dir = join(this.dir, 'nodes', spec.id);
    mkdirSync(dir, { recursive: true });
    const dataDir = join(dir, 'data');
    const configFile = join(dir, 'node.json');
    const base = { nodeId: spec.id, dataDir, listen: { host: '127.0.0.1', port: 0 }, rateLimit: { enabled: false } };
    writeFileSync(configFile, JSON.stringify(base, null, 2) + '\n');
    const built = buildConfig(base, {}, dir); // creates DATADIR and jwt.secret, as the first start would
    await enrollNode({ dataDir, nodeId: spec.id, hubUrl: this.hubUrl, token: await this.hubToken(spec), caCertPem: await this.caPem() });
    const config = { ...base, hub: { url: o.hubUrl ?? this.hubUrl, ...FAST_HUB_KEYS, ...o.hubKeys } };
    writeFileSync(configFile, JSON.stringify(config, null, 2) + '\n');
    const { token } = await mintServiceTokenFor(built, { user: 'faults', role: 'officer', clearance: 'internal', ttlSeconds: 86_400 });
    const node: ClusterNode = { ...spec, dir, dataDir, configFile, config, token };
    this.nodes.set(spec.id, node);
    return node;
  }

  /**
   * A new service token for node `id`, issued at `now` (a node started with a moved clock refuses a
   * token issued in its future: mint it on the node's own clock, as the CLI beside it would).
   */
  async remintToken(id: string, now: Date): Promise<void> {
    const n = this.node(id);
    const built = buildConfig({ nodeId: n.id, dataDir: n.dataDir, listen: { host: '127.0.0.1', port: 0 }, rateLimit: { enabled: false } }, {}, n.dir);
    n.token = (await mintServiceTokenFor(built, { user: 'faults', role: 'officer', clearance: 'internal', ttlSeconds: 86_400 }, now)).token;
  }

  private async caPem(): Promise<string> {
    const { readFile } = await import('node:fs/promises');
    return readFile(this.caCertFile, 'utf8');
  }

  node(id: string): ClusterNode {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  nodeDb(id: string): string {
    return join(this.node(id).dataDir, 'node.sqlite');
  }

  /** `credit node start`; `env` is added to the process environment (e.g. a clock preload). */
  async startNode(id: string, env: NodeJS.ProcessEnv = {}): Promise<ServerProcess> {
    const n = this.node(id);
    n.process = await startServer(`node ${id}`, ['node', 'start', '--config', n.configFile], { logFile: join(n.dir, 'node.log'), env: { ...this.env, ...env }, timeoutMs: 120_000 });
    return n.process;
  }

  /** Rewrites the node's config file (takes effect at its next start). */
  setNodeConfig(id: string, config: Record<string, unknown>): void {
    const n = this.node(id);
    n.config = config;
    writeFileSync(n.configFile, JSON.stringify(config, null, 2) + '\n');
  }

  /** The node's local API as its service account (officer, internal clearance: records and the exchange status). */
  async api<T = unknown>(id: string, method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; body: T }> {
    const n = this.node(id);
    if (!n.process || n.process.exited) throw new Error(`node ${id} is not running`);
    const res = await request(n.process.url + path, {
      method,
      headers: { authorization: `Bearer ${n.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.body.text();
    return { status: res.statusCode, body: (text ? JSON.parse(text) : null) as T };
  }

  /** POST /v1/records/import of a file, streamed; resolves with the status and report, rejects if the connection dies. */
  async importFile<T = { lines: number; accepted: number; duplicates: number; rejected: number }>(id: string, file: string, o: { type?: string; format?: 'csv' | 'ndjson' } = {}): Promise<{ status: number; body: T }> {
    const n = this.node(id);
    if (!n.process || n.process.exited) throw new Error(`node ${id} is not running`);
    const csv = (o.format ?? 'csv') === 'csv';
    const res = await request(`${n.process.url}/v1/records/import${csv ? `?type=${o.type ?? 'CF'}` : ''}`, {
      method: 'POST',
      body: createReadStream(file),
      headersTimeout: 0,
      bodyTimeout: 0,
      headers: { authorization: `Bearer ${n.token}`, 'content-type': csv ? 'text/csv' : 'application/x-ndjson' },
    });
    const text = await res.body.text();
    return { status: res.statusCode, body: (text ? JSON.parse(text) : null) as T };
  }

  async status(id: string): Promise<ExchangeStatus> {
    const r = await this.api<ExchangeStatus>(id, 'GET', '/v1/exchange/status');
    if (r.status !== 200) throw new Error(`status of ${id}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  }

  /** Waits until the node has nothing left to send. */
  drained(id: string, timeoutMs = 120_000): Promise<ExchangeStatus> {
    return waitFor(`${id}'s outbox to drain`, async () => {
      const s = await this.status(id);
      return s.outbox.pending === 0 && s.batches.pending === 0 ? s : undefined;
    }, { timeoutMs, everyMs: 250 });
  }

  /** Stops every process still running (nodes first, then the hub); a graceful stop. */
  async close(): Promise<void> {
    await Promise.all([...this.nodes.values()].map((n) => n.process?.stop()));
    await this.hub?.stop();
  }
}
