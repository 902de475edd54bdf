/**
 * Fixtures for the node's exchange tests: an enrolled node directory (test CA, node and hub
 * certificates in DATADIR/exchange/), its store on a chosen engine, the exchange and the record
 * services wired as app.ts wires them — without the loops, so a test drives each step itself.
 * `nodeApp` builds the real app (loops running) on a store file it owns, for restart tests.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Knex } from 'knex';
import { migrateAudit, openAuditLog, type AuditLog } from '../../audit/index.js';
import type { Classification } from '../../protocol/classification.js';
import { buildApp } from '../../node/app.js';
import type { Caller, Role } from '../../node/access.js';
import { buildConfig, type HubConfig, type NodeConfig } from '../../node/config.js';
import { createExchange, type Exchange } from '../../node/exchange/exchange.js';
import { loadExchangeMaterial, writeEnrolment, type ExchangeMaterial } from '../../node/exchange/files.js';
import type { Log } from '../../node/exchange/loop.js';
import { emptyHooks, type RecordHooks } from '../../node/hooks.js';
import { migrateNode } from '../../node/migrations.js';
import { recordsService, type RecordsService } from '../../node/records-service.js';
import { repairService, type RepairService } from '../../node/repair-service.js';
import { mintServiceToken } from '../../node/tokens.js';
import { sqliteEngine, type Engine } from '../helpers/db.js';
import { issue, makeCa, type TestCa } from '../helpers/pki.js';

/** The code of the error `p` rejects with; undefined when it resolves. */
export async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
}

export const silentLog: Log = { info() {}, warn() {}, error() {}, debug() {} };

/** Writes DATADIR/exchange/ as `credit node init` would, from test certificates. */
export function enrolDir(dataDir: string, o: { ca: TestCa; nodeId?: string; grade?: number; hubCertPem?: string; hubUrl?: string; notBefore?: Date; notAfter?: Date }): ExchangeMaterial {
  const nodeId = o.nodeId ?? '430100';
  const node = issue(o.ca, nodeId, { ...(o.notBefore ? { notBefore: o.notBefore } : {}), ...(o.notAfter ? { notAfter: o.notAfter } : {}) });
  const m: ExchangeMaterial = {
    nodeId, keyPem: node.keyPem, certPem: node.certPem, caCertPem: o.ca.certPem, hubCertPem: o.hubCertPem ?? issue(o.ca, '430000').certPem,
    enrolment: { nodeId, grade: o.grade ?? 3, hubUrl: o.hubUrl ?? 'https://127.0.0.1:1', serial: node.serial, notBefore: new Date().toISOString(), notAfter: new Date(Date.now() + 365 * 86400_000).toISOString(), enrolledAt: new Date().toISOString() },
  };
  writeEnrolment(dataDir, m);
  return m;
}

export function nodeConfig(dataDir: string, hub: Partial<HubConfig> & { url: string }, nodeId = '430100', extra: Record<string, unknown> = {}): NodeConfig {
  return buildConfig({ nodeId, dataDir, listen: { host: '127.0.0.1', port: 0 }, rateLimit: { enabled: false }, disclosureJob: { intervalMinutes: 0 }, logLevel: 'silent', hub, ...extra }, {});
}

export interface ExchangeSetup {
  dataDir: string;
  db: Knex;
  config: NodeConfig;
  ca: TestCa;
  audit: AuditLog;
  exchange: Exchange;
  records: RecordsService;
  repair: RepairService;
  /** Moves the node's clock by `ms` from the real time. */
  advance(ms: number): void;
  caller(role: Role, clearance: Classification, user?: string): Caller;
}

export interface SetupOptions {
  engine?: Engine;
  ca?: TestCa;
  grade?: number;
  nodeId?: string;
  hubUrl?: string;
  hubCertPem?: string;
  /** Validity of the node certificate written at enrolment. */
  notBefore?: Date;
  notAfter?: Date;
  hub?: Partial<HubConfig>;
  /** Hooks that run after the exchange's (e.g. one that fails). */
  extraHooks?: RecordHooks;
  /** Reuse a data directory and store (a restart); the caller tears them down. */
  reuse?: { dataDir: string; db: Knex };
}

export async function exchangeSetup(t: { teardown(fn: () => unknown): void }, o: SetupOptions = {}): Promise<ExchangeSetup> {
  const ca = o.ca ?? makeCa();
  const dataDir = o.reuse?.dataDir ?? mkdtempSync(join(tmpdir(), 'node-exchange-'));
  const store = o.reuse ? undefined : await (o.engine ?? sqliteEngine).open();
  const db = o.reuse?.db ?? store!.db;
  if (!o.reuse) enrolDir(dataDir, { ca, nodeId: o.nodeId, grade: o.grade, hubCertPem: o.hubCertPem, hubUrl: o.hubUrl, notBefore: o.notBefore, notAfter: o.notAfter });
  const config = nodeConfig(dataDir, { url: o.hubUrl ?? 'https://127.0.0.1:1', ...o.hub }, o.nodeId);
  let offset = 0;
  const clock = () => new Date(Date.now() + offset);
  await migrateAudit(db);
  await migrateNode(db);
  const material = loadExchangeMaterial(dataDir, config.nodeId);
  const audit = await openAuditLog(db, { signer: { nodeId: config.nodeId, keyPem: material.keyPem, certPem: material.certPem }, checkpointIntervalMs: 0 });
  const exchange = await createExchange({ config: { ...config, hub: config.hub! }, db, audit, auditLog: audit, clock, log: silentLog, material });
  const extra = o.extraHooks ?? emptyHooks();
  const hooks: RecordHooks = {
    onRecordWritten: [...exchange.hooks.onRecordWritten, ...extra.onRecordWritten],
    onRecordsWritten: [...(exchange.hooks.onRecordsWritten ?? []), ...(extra.onRecordsWritten ?? [])],
    onRecordWithdrawn: [...exchange.hooks.onRecordWithdrawn, ...extra.onRecordWithdrawn],
    onRecordVersioned: [...(exchange.hooks.onRecordVersioned ?? []), ...(extra.onRecordVersioned ?? [])],
  };
  const deps = { db, audit, hooks, nodeId: config.nodeId, clock, subjectKey: config.subjectKey };
  const records = recordsService(deps);
  const repair = repairService(deps, records);
  t.teardown(async () => {
    await exchange.stop();
    await audit.close();
    if (store) {
      await store.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
  return {
    dataDir, db, config, ca, audit, exchange, records, repair,
    advance: (ms) => void (offset += ms),
    caller: (role, clearance, user = 'alice') => ({ actor: `user:${user}`, role, clearance }),
  };
}

export interface NodeApp {
  app: FastifyInstance;
  config: NodeConfig;
  auth(role: Role, clearance: Classification, user?: string): Promise<{ authorization: string }>;
  close(): Promise<void>;
}

/** The real app (loops running) for a data directory whose store is DATADIR/node.sqlite. */
export async function nodeApp(dataDir: string, hub: Partial<HubConfig> & { url: string }, nodeId = '430100', extra: Record<string, unknown> = {}): Promise<NodeApp> {
  const config = nodeConfig(dataDir, hub, nodeId, extra);
  const app = await buildApp({ config });
  await app.ready();
  let closed = false;
  return {
    app, config,
    auth: async (role, clearance, user = 'alice') => ({ authorization: `Bearer ${(await mintServiceToken(app.nodeCtx.db, config.jwtSecret, nodeId, { user, role, clearance, ttlSeconds: 3600 })).token}` }),
    close: async () => {
      if (closed) return;
      closed = true;
      await app.close();
    },
  };
}

/** Polls `fn` until it returns a value other than undefined (every 25 ms, up to `ms`). */
export async function eventually<T>(what: string, fn: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
