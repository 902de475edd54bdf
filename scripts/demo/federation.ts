/**
 * A whole federation on one machine, as real processes on loopback: a provincial CA directory, a
 * hub (`credit hub start`) and city nodes (`credit node init` + `credit node start`), each with its
 * own directory and SQLite file. The demo and the end-to-end tests drive it; every step is a
 * `credit` command an operator could type.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { creditOk, startServer, type ServerProcess } from './processes.js';

export interface NodeSpec {
  id: string;
  name: string;
  grade: number;
}

export interface NodeHandle extends NodeSpec {
  dir: string;
  configFile: string;
  process?: ServerProcess;
  /** A service token (officer, internal clearance: the owning node's own records officer), for driving the node's records API. */
  token?: string;
}

export interface ApiResponse<T = unknown> {
  status: number;
  body: T;
}

export interface FederationOptions {
  /** Extra hub config keys (e.g. { nodeCertDays: 1 }). */
  hubConfig?: Record<string, unknown>;
  /** Extra `hub` keys in every node config (e.g. { pollIntervalMs: 200 }). */
  nodeHubConfig?: Record<string, unknown>;
  /** Extra top-level keys in every node config (e.g. { audit: { hashAlg: 'sm3' } }). */
  nodeConfig?: Record<string, unknown>;
  /** Give every node a web console on loopback (HTTPS with the node's certificate from the provincial CA). */
  consoles?: boolean;
  /** Also `credit ca init --algorithm sm2` in the CA directory (the national suite). */
  sm2Ca?: boolean;
  env?: NodeJS.ProcessEnv;
}

export class Federation {
  readonly caDir: string;
  readonly hubDir: string;
  readonly hubConfigFile: string;
  hub?: ServerProcess;
  readonly nodes = new Map<string, NodeHandle>();
  readonly env: NodeJS.ProcessEnv;

  constructor(
    readonly dir: string,
    private readonly opts: FederationOptions = {},
  ) {
    this.caDir = join(dir, 'ca');
    this.hubDir = join(dir, 'hub');
    this.hubConfigFile = join(this.hubDir, 'hub.json');
    this.env = { ...(opts.env ?? process.env), CREDIT_LOG_LEVEL: 'info' };
    delete this.env.DATABASE_URL;
  }

  get caCertFile(): string {
    return join(this.caDir, 'ca.pem');
  }

  /** `credit ca init` and the hub's config file. */
  async init(): Promise<void> {
    mkdirSync(this.dir, { recursive: true });
    await creditOk(['ca', 'init', '--dir', this.caDir], { env: this.env });
    if (this.opts.sm2Ca) await creditOk(['ca', 'init', '--algorithm', 'sm2', '--dir', this.caDir], { env: this.env });
    mkdirSync(this.hubDir, { recursive: true });
    this.writeHubConfig(0);
  }

  /** The hub's config file; with consoles, its operator console on a port of its own (HTTPS with the hub's certificate). */
  private writeHubConfig(port: number): void {
    const hubConfig = {
      dataDir: join(this.hubDir, 'data'), caDir: this.caDir, listen: { host: '127.0.0.1', port },
      ...(this.opts.consoles ? { console: { listen: { host: '127.0.0.1', port: 0 } } } : {}),
      ...this.opts.hubConfig,
    };
    writeFileSync(this.hubConfigFile, JSON.stringify(hubConfig, null, 2) + '\n');
  }

  async startHub(port?: number): Promise<ServerProcess> {
    if (port !== undefined) this.setHubPort(port);
    this.hub = await startServer('hub', ['hub', 'start', '--config', this.hubConfigFile], { logFile: join(this.hubDir, 'hub.log'), env: this.env });
    return this.hub;
  }

  /** Pins the hub's port in its config, so a restarted hub answers at the URL the nodes know. */
  setHubPort(port: number): void {
    this.writeHubConfig(port);
  }

  get hubUrl(): string {
    if (!this.hub) throw new Error('the hub is not running');
    return this.hub.url;
  }

  /** `credit hub token` → `credit node init` → writes the node's config; the node is not started. */
  async enrolNode(spec: NodeSpec): Promise<NodeHandle> {
    const dir = join(this.dir, 'nodes', spec.id);
    mkdirSync(dir, { recursive: true });
    const configFile = join(dir, 'node.json');
    const config = {
      nodeId: spec.id,
      dataDir: join(dir, 'data'),
      listen: { host: '127.0.0.1', port: 0 },
      rateLimit: { enabled: false },
      hub: { url: this.hubUrl, ...this.opts.nodeHubConfig },
      ...this.opts.nodeConfig,
      // the demo's console serves the node certificate the provincial CA issued at enrolment (SANs localhost and
      // 127.0.0.1); a real deployment gives the console a certificate of its own (console.listen.tls or listen.tls)
      ...(this.opts.consoles ? { console: { listen: { host: '127.0.0.1', port: 0, tls: { certFile: join(dir, 'data', 'exchange', 'node.pem'), keyFile: join(dir, 'data', 'exchange', 'node.key') } } } } : {}),
    };
    writeFileSync(configFile, JSON.stringify(config, null, 2) + '\n');
    const token = (await creditOk(['hub', 'token', '--config', this.hubConfigFile, '--node', spec.id, '--grade', String(spec.grade), '--name', spec.name], { env: this.env })).trim();
    await creditOk(['node', 'init', '--config', configFile, '--hub', this.hubUrl, '--token', token, '--ca', this.caCertFile], { env: this.env });
    const handle: NodeHandle = { ...spec, dir, configFile };
    this.nodes.set(spec.id, handle);
    return handle;
  }

  node(id: string): NodeHandle {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`no node ${id} in this federation`);
    return n;
  }

  async startNode(id: string): Promise<ServerProcess> {
    const n = this.node(id);
    n.process = await startServer(`node ${id}`, ['node', 'start', '--config', n.configFile], { logFile: join(n.dir, 'node.log'), env: this.env });
    n.token ??= (await creditOk(['node', 'token', '--config', n.configFile, '--user', 'demo', '--role', 'officer', '--clearance', 'internal', '--ttl', '1d'], { env: this.env })).trim();
    return n.process;
  }

  async stopNode(id: string): Promise<void> {
    await this.node(id).process?.stop();
  }

  /** Calls a node's local API as its service account, the officer (records and the exchange status; no admin role gets a service token). */
  async api<T = unknown>(id: string, method: 'GET' | 'POST', path: string, body?: unknown): Promise<ApiResponse<T>> {
    const n = this.node(id);
    if (!n.process || !n.token) throw new Error(`node ${id} is not running`);
    const bearer = n.token;
    const res = await request(n.process.url + path, {
      method,
      headers: { authorization: `Bearer ${bearer}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.body.text();
    return { status: res.statusCode, body: (text ? JSON.parse(text) : null) as T };
  }

  /** Stops every process (nodes first, then the hub). */
  async close(): Promise<void> {
    await Promise.all([...this.nodes.values()].map((n) => n.process?.stop()));
    await this.hub?.stop();
  }
}

/** Polls `check` every `everyMs` until it returns a value other than undefined, or times out. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined>, o: { timeoutMs?: number; everyMs?: number } = {}): Promise<T> {
  const deadline = Date.now() + (o.timeoutMs ?? 90_000); // generous: a shared 2-core machine under load is slow, and a wait ends as soon as it holds
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, o.everyMs ?? 200));
  }
}
