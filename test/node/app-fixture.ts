/** Builds a city node app on a fresh store for inject() tests, with token and clock helpers. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Knex } from 'knex';
import type { DestinationStream } from 'pino';
import { exampleRecord } from '../../protocol/catalog.js';
import type { Classification } from '../../protocol/classification.js';
import type { AuditEvent } from '../../audit/types.js';
import { migrateAudit, openAuditLog, type AuditLog } from '../../audit/index.js';
import { buildApp } from '../../node/app.js';
import { buildConfig, type NodeConfig } from '../../node/config.js';
import type { Role } from '../../node/access.js';
import { mintServiceToken } from '../../node/tokens.js';
import { requestAwareAudit } from '../../server/request-context.js';
import type { AuditSigner } from '../../audit/index.js';
import type { RecordHooks } from '../../node/hooks.js';
import { sqliteEngine, type Engine } from '../helpers/db.js';

export interface Fixture {
  app: FastifyInstance;
  db: Knex;
  config: NodeConfig;
  /** Every audit event the node emitted (recorded on the way to the real audit log). */
  events: AuditEvent[];
  /** Moves the node's clock. */
  setNow(iso: string): void;
  token(role: Role, clearance: Classification, opts?: { user?: string; ttlSeconds?: number; now?: Date }): Promise<string>;
  auth(role: Role, clearance: Classification): Promise<{ authorization: string }>;
}

export interface FixtureOptions {
  engine?: Engine;
  now?: string;
  config?: Record<string, unknown>;
  logStream?: DestinationStream;
  hooks?: RecordHooks;
  /** The clock of logins and sessions (default: the system clock). */
  authClock?: () => Date;
  /** Signs the audit log's checkpoints (for exports). */
  auditSigner?: AuditSigner;
  /** Planner-statistics thresholds (node/planner-stats.ts). */
  plannerStats?: { minRows?: number; fraction?: number };
}

export async function nodeFixture(t: { teardown(fn: () => unknown): void }, opts: FixtureOptions = {}): Promise<Fixture> {
  const dir = mkdtempSync(join(tmpdir(), 'node-app-'));
  const store = await (opts.engine ?? sqliteEngine).open();
  let app: FastifyInstance | undefined;
  let real: AuditLog | undefined;
  t.teardown(async () => {
    await app?.close();
    await real?.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const config = buildConfig({ nodeId: '430100', dataDir: dir, listen: { host: '127.0.0.1', port: 0 }, rateLimit: { enabled: false }, disclosureJob: { intervalMinutes: 0 }, logLevel: 'silent', ...opts.config }, {});
  let now = new Date(opts.now ?? '2026-11-28T08:00:00.000Z');
  await migrateAudit(store.db);
  real = await openAuditLog(store.db, opts.auditSigner ? { signer: opts.auditSigner, checkpointIntervalMs: 0 } : {});
  // entries in the store carry src= and sid= (request-context.ts); `events` keeps them as the services emitted them
  const log = requestAwareAudit(real);
  const events: AuditEvent[] = [];
  const audit = {
    record: (e: AuditEvent) => (events.push(e), log.record(e)),
    recordIn: (trx: Knex.Transaction, e: AuditEvent) => (events.push(e), log.recordIn(trx, e)),
    checkpoint: () => real!.checkpoint(),
    close: () => real!.close(),
  };
  app = await buildApp({ config, db: store.db, clock: () => now, audit, ...(opts.logStream ? { logStream: opts.logStream } : {}), ...(opts.hooks ? { hooks: opts.hooks } : {}), ...(opts.authClock ? { authClock: opts.authClock } : {}), ...(opts.plannerStats ? { plannerStats: opts.plannerStats } : {}) });
  await app.ready();
  await app.nodeCtx.job.runNow();
  // service tokens (their jti recorded in the store), as `credit node token` mints them
  const token: Fixture['token'] = async (role, clearance, o = {}) =>
    (await mintServiceToken(store.db, config.jwtSecret, config.nodeId, { user: o.user ?? `${role}-${clearance}`, role, clearance, ttlSeconds: o.ttlSeconds ?? 3600 }, o.now ?? new Date())).token;
  return {
    app, db: store.db, config, events,
    setNow: (iso) => void (now = new Date(iso)),
    token,
    auth: async (role, clearance) => ({ authorization: `Bearer ${await token(role, clearance)}` }),
  };
}

/** The catalog example of `type` with some fields replaced (and an optional raised class). */
export function record(type: string, fields: Record<string, unknown> = {}, classification?: Classification) {
  const e = exampleRecord(type);
  return { type, ...(classification ? { classification } : {}), fields: { ...e.fields, ...fields } };
}

/** The value of one sample in Prometheus text, matching `name` and every given label (any order). */
export function metricValue(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)\{([^}]*)\} (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...m[2]!.matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return undefined;
}
