/**
 * The simulated province: one provincial CA, H hub processes (`credit hub start`, spawned with
 * `node bin/credit.js`) on one store behind a round-robin TCP balancer, and N city nodes run in this
 * process through the node's own start code (`startNode`: its Fastify app, SQLite store, outbox,
 * sender, puller and witness loops), each enrolled with a one-time token and a CSR like
 * `credit node init`, so every exchange is the real protocol with real certificates over mutual TLS.
 */
import { createWriteStream, mkdirSync, readFileSync, writeFileSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import { connect } from '../../audit/knex-connect.js';
import { initCaDir } from '../../certs/ca-dir.js';
import { openHubCa } from '../../hub/ca-store.js';
import { makeToken } from '../../hub/enrolment-service.js';
import { HUB_SCHEMA } from '../../hub/migrations.js';
import { migrateParts } from '../../audit/migration-plan.js';
import { buildConfig, readConfig } from '../../node/config.js';
import { enrollNode } from '../../node/exchange/enroll.js';
import { startNode, type RunningNode } from '../../node/server.js';
import { mintServiceTokenFor } from '../../node/service-tokens.js';
import { createKeyFile, fileKeyWrapper } from '../../server/at-rest-keys.js';
import { startServer, type ServerProcess } from '../demo/processes.js';
import { freePort } from '../faults/cluster.js';
import { RoundRobinBalancer } from './balancer.js';

/** Hunan's 14 市州 (GB/T 2260); county-level units are numbered under them (430101, 430102, …). */
const CITIES = ['430100', '430200', '430300', '430400', '430500', '430600', '430700', '430800', '430900', '431000', '431100', '431200', '431300', '433100'];

/** N node ids: the 14 cities first, then county-level units under each city in turn. */
export function provinceNodeIds(n: number): string[] {
  const ids = CITIES.slice(0, n);
  for (let k = 1; ids.length < n; k++) {
    for (const c of CITIES) {
      if (ids.length >= n) break;
      ids.push(String(Number(c) + k));
    }
  }
  return ids;
}

export interface SimNode {
  id: string;
  dir: string;
  dataDir: string;
  token: string;
  running: RunningNode;
  logStream: WriteStream;
  stopped?: boolean;
}

export interface ProvinceOptions {
  dir: string;
  nodes: number;
  hubs: number;
  /** PostgreSQL URL of the hubs' store (a schema of its own is made per run); absent: SQLite, one hub. */
  database?: string | undefined;
  log(line: string): void;
}

export class Province {
  readonly caDir: string;
  caCertPem = '';
  /** The hubs' store, as this process sees it (tokens, checks). */
  hubDb!: Knex;
  schema?: string;
  readonly hubs: ServerProcess[] = [];
  readonly hubLogs: string[] = [];
  balancer!: RoundRobinBalancer;
  readonly nodes: SimNode[] = [];
  private readonly env: NodeJS.ProcessEnv;

  constructor(readonly o: ProvinceOptions) {
    this.caDir = join(o.dir, 'ca');
    this.env = { ...process.env, CREDIT_LOG_LEVEL: 'info' };
    delete this.env.DATABASE_URL;
    delete this.env.NODE_OPTIONS;
  }

  /** The CA, the store (migrated once, before any hub starts), H hub processes and the balancer. */
  async startHubs(): Promise<void> {
    const { dir, hubs, database, log } = this.o;
    this.caCertPem = (await initCaDir(this.caDir)).certPem;
    let databaseUrl: string | undefined;
    if (database) {
      this.schema = `sim_${process.pid}_${randomBytes(4).toString('hex')}`;
      this.hubDb = await connect(database, { schema: this.schema, poolMax: 4 });
      // the whole hub schema, audit part included, before any hub starts: hub processes starting at
      // the same moment on a store with pending migrations race each other in knex's migrator (seen:
      // one fails with 'relation "knex_migrations_audit_lock" already exists')
      await migrateParts(this.hubDb, HUB_SCHEMA, `schema ${this.schema}`);
      databaseUrl = `${database}${database.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${this.schema}`)}`;
      log(`store: PostgreSQL, schema ${this.schema}`);
    } else {
      log('store: SQLite (hub 1 data directory)');
    }
    // one data key for every hub process (docs/at-rest.md § Several hub processes)
    const keyFile = join(dir, 'hub-data.key');
    await createKeyFile(keyFile, fileKeyWrapper);
    const configs = await Promise.all(Array.from({ length: hubs }, async (_, i) => {
      const hubDir = join(dir, `hub${i + 1}`);
      mkdirSync(hubDir, { recursive: true });
      const file = join(hubDir, 'hub.json');
      const config = {
        dataDir: join(hubDir, 'data'), caDir: this.caDir, atRest: { keyFile },
        ...(databaseUrl ? { databaseUrl } : {}),
        listen: { host: '127.0.0.1', port: await freePort() },
        // the limiter is per node certificate; the simulation measures the exchange, not the limiter
        rateLimit: { enabled: true, max: 1_000_000, timeWindowMs: 60_000 },
        logLevel: 'info', // the "listening" line is at info; polled routes log at debug
      };
      writeFileSync(file, JSON.stringify(config, null, 2) + '\n');
      return { file, log: join(hubDir, 'hub.log'), port: config.listen.port };
    }));
    log(`hubs: starting ${hubs} process(es)`);
    this.hubLogs.push(...configs.map((c) => c.log));
    const starts = await Promise.allSettled(configs.map((c, i) => startServer(`hub ${i + 1}`, ['hub', 'start', '--config', c.file], { logFile: c.log, env: this.env, timeoutMs: 180_000 })));
    for (const s of starts) if (s.status === 'fulfilled') this.hubs.push(s.value); // stopped by the caller even when another failed
    const failed = starts.find((s) => s.status === 'rejected');
    if (failed) throw failed.reason;
    const started = this.hubs;
    if (!database) this.hubDb = await connect(join(dir, 'hub1', 'data', 'hub.sqlite'));
    this.balancer = new RoundRobinBalancer(configs.map((c) => ({ host: '127.0.0.1', port: c.port })));
    await this.balancer.listen();
    log(`hubs: ${started.map((h) => `${h.url} (pid ${h.pid})`).join(', ')} behind ${this.balancer.url}`);
  }

  /** Enrols and starts the nodes, `parallel` at a time. */
  async startNodes(hubKeys: Record<string, unknown>, parallel = 4): Promise<void> {
    const ids = provinceNodeIds(this.o.nodes);
    const ca = openHubCa(this.hubDb, this.caDir);
    let next = 0;
    const worker = async () => {
      while (next < ids.length) {
        const id = ids[next++]!;
        this.nodes.push(await this.startNode(id, ca, hubKeys));
        if (this.nodes.length % 10 === 0 || this.nodes.length === ids.length) this.o.log(`nodes: ${this.nodes.length}/${ids.length} enrolled and running`);
      }
    };
    await Promise.all(Array.from({ length: parallel }, worker));
    this.nodes.sort((a, b) => a.id.localeCompare(b.id));
  }

  private async startNode(id: string, ca: ReturnType<typeof openHubCa>, hubKeys: Record<string, unknown>): Promise<SimNode> {
    const dir = join(this.o.dir, 'nodes', id);
    mkdirSync(dir, { recursive: true });
    const dataDir = join(dir, 'data');
    const base = { nodeId: id, dataDir, listen: { host: '127.0.0.1', port: 0 }, rateLimit: { enabled: false }, logLevel: 'warn' };
    const built = buildConfig(base, {}, dir); // creates DATADIR and jwt.secret, as the first start would
    const { token: enrolToken } = await makeToken(this.hubDb, ca, { nodeId: id, grade: 3, ttlMs: 3_600_000, name: `模拟节点 ${id}` });
    await enrollNode({ dataDir, nodeId: id, hubUrl: this.balancer.url, token: enrolToken, caCertPem: this.caCertPem });
    const { token } = await mintServiceTokenFor(built, { user: 'sim', role: 'officer', clearance: 'internal', ttlSeconds: 86_400 });
    const raw = { ...base, hub: { url: this.balancer.url, ...hubKeys } };
    writeFileSync(join(dir, 'node.json'), JSON.stringify(raw, null, 2) + '\n');
    const logStream = createWriteStream(join(dir, 'node.log'), { flags: 'a' });
    const running = await startNode({ config: readConfig(raw, {}, dir), logStream });
    return { id, dir, dataDir, token, running, logStream };
  }

  /** SIGKILL of hub `i` (no shutdown code runs); the balancer finds it down at the next connection. */
  async killHub(i: number): Promise<void> {
    await this.hubs[i]!.kill();
  }

  /** 5xx answers the hubs logged as failures (hub/request-log.ts: at error level; a 503 ERR_HUB_BUSY is a warning and not counted). */
  hub5xx(): number {
    let n = 0;
    for (const f of this.hubLogs) {
      for (const l of readFileSync(f, 'utf8').split('\n')) {
        const m = /"res":\{"statusCode":(\d{3})\}/.exec(l);
        if (m && Number(m[1]) >= 500 && l.includes('"level":50')) n++;
      }
    }
    return n;
  }

  /** Response times (ms) the hubs logged for a route, e.g. POST /v1/queries: the hub's share of a query's time. */
  hubResponseTimes(url: string): number[] {
    const out: number[] = [];
    for (const f of this.hubLogs) {
      for (const l of readFileSync(f, 'utf8').split('\n')) {
        if (!l.includes(`"url":"${url}"`)) continue;
        const m = /"responseTime":(\d+)/.exec(l);
        if (m) out.push(Number(m[1]));
      }
    }
    return out;
  }

  async stopNodes(): Promise<void> {
    await Promise.all(this.nodes.filter((n) => !n.stopped).map(async (n) => {
      n.stopped = true;
      await n.running.close();
      await new Promise<void>((r) => n.logStream.end(() => r()));
    }));
  }

  /** SIGTERM to the hubs still running: each signs a final checkpoint. */
  async stopHubs(): Promise<void> {
    await Promise.all(this.hubs.map((h) => h.stop()));
    await this.balancer?.close();
  }

  /** Drops the run's schema (PostgreSQL) and closes this process's connection to the store. */
  async closeStore(keep: boolean): Promise<void> {
    if (!this.hubDb) return;
    if (this.schema && !keep) await this.hubDb.raw('DROP SCHEMA IF EXISTS ?? CASCADE', [this.schema]);
    await this.hubDb.destroy();
  }
}
