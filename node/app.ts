/**
 * The composition root of a city node: DB → stores → services → routes. Builds a Fastify app
 * and never listens (server.ts does); tests drive it with app.inject().
 */
import { readFileSync } from 'node:fs';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { Knex } from 'knex';
import type { DestinationStream } from 'pino';
import { connect } from '../audit/knex-connect.js';
import { openAuditLog, type AuditLog } from '../audit/index.js';
import { reportFrontierRejection } from '../audit/log.js';
import { readHashAlg } from '../audit/log-meta.js';
import { nodeAuditSigner } from './exchange/audit-signer.js';
import { migrateParts, storeLabel } from '../audit/migration-plan.js';
import { startAtRest } from '../server/at-rest-store.js';
import { atRestOptions } from '../server/config-schema.js';
import { NODE_AT_REST } from './at-rest.js';
import { probeStore } from '../audit/start-checks.js';
import { TLS_POLICY } from '../certs/tls.js';
import { refusalAudit } from '../audit/refusals.js';
import { authenticate, installAuth } from './auth.js';
import { loginService, type LoginService } from './login-service.js';
import { installRequestContext, requestAwareAudit } from '../server/request-context.js';
import { accountRoutes, loginRoutes } from './routes/accounts.js';
import { usersService } from './users-service.js';
import { sealClearSecrets } from './users-store.js';
import { fastifyTrustProxy } from '../server/trust-proxy.js';
import type { NodeConfig } from './config.js';
import type { NodeContext } from './context.js';
import { disclosureJob } from './disclosure-job.js';
import { retentionJob } from '../audit/retention-job.js';
import { pruneNodeExchange } from './exchange-retention.js';
import { createExchange, type Exchange, type WitnessableLog } from './exchange/exchange.js';
import { loadExchangeMaterial, type ExchangeMaterial } from './exchange/files.js';
import { provinceQuery } from './exchange/province-query.js';
import { emptyHooks, type RecordHooks } from './hooks.js';
import { clientErrorHandler, frameworkErrors, installErrorHandling } from './http-errors.js';
import { importService } from './import-service.js';
import { loggerOptions } from './logger.js';
import { createMetrics, installMetrics } from './metrics.js';
import { registerExchangeMetrics } from './exchange-metrics.js';
import { NODE_SCHEMA } from './migrations.js';
import { recordsService, type AuditWriter } from './records-service.js';
import { repairService } from './repair-service.js';
import { objectionsService } from './objections-service.js';
import { repairsService } from './repairs-service.js';
import { objectionRoutes } from './routes/objections.js';
import { healthRoutes } from './routes/health.js';
import { importRoutes } from './routes/import.js';
import { exchangeRoutes } from './routes/exchange.js';
import { recordRoutes } from './routes/records.js';
import { qualityRoutes } from './routes/quality.js';
import { reportRoutes } from './routes/report.js';
import { nodeReportSigner, reportService } from './report-service.js';
import { registerQualityGauges } from './quality-metrics.js';
import { createResultSchema } from './schemas.js';
import { prepareDecoyHash } from '../server/credentials.js';
import { serviceError } from '../protocol/service-errors.js';
import { nodePlannerStats } from './planner-stats.js';
import type { PlannerStatsOptions } from '../server/planner-stats.js';

declare module 'fastify' {
  interface FastifyInstance {
    nodeCtx: NodeContext;
    /** What the web console (node/console/) shares with the API: the login service and the session check of /v1. */
    nodeAccess: { login: LoginService; authenticate: (request: FastifyRequest) => Promise<void> };
  }
}

export interface BuildOptions {
  config: NodeConfig;
  /** The clock (tests move it); default: the system clock. */
  clock?: () => Date;
  /** Seams for the hub exchange (outbox rows written in the record's transaction). */
  hooks?: RecordHooks;
  /** Where logs go (default stdout). */
  logStream?: DestinationStream;
  /** An already-open store (tests); otherwise config.databaseTarget is opened and closed with the app. */
  db?: Knex;
  /**
   * An already-open audit log on that store (the caller closes it; wrap it in requestAwareAudit for
   * the source address and session of each entry); otherwise opened and closed with the app.
   */
  audit?: AuditWriter & { close(): Promise<void> };
  /** The clock of logins, sessions and token times (tests move it); default: the system clock. */
  authClock?: () => Date;
  /** When the node refreshes its PostgreSQL planner statistics (node/planner-stats.ts); tests lower the threshold. */
  plannerStats?: Pick<PlannerStatsOptions, 'minRows' | 'fraction'>;
}

/** The node's audit log, signed with the key of its algorithm (with a hub); ERR_AUDIT_ALGORITHM_MIXED before anything is written when key and algorithm disagree. */
async function openNodeAudit(db: Knex, config: NodeConfig, material: ExchangeMaterial | undefined): Promise<AuditLog> {
  const wanted = config.audit?.hashAlg;
  const signer = material ? nodeAuditSigner(wanted ?? (await readHashAlg(db)), material) : undefined;
  const log = await openAuditLog(db, { ...(signer ? { signer } : {}), ...(wanted ? { hashAlg: wanted } : {}) });
  await reportFrontierRejection(log, 'svc:node-start', config.nodeId);
  return log;
}

export async function buildApp(opts: BuildOptions): Promise<FastifyInstance> {
  const { config } = opts;
  const clock = opts.clock ?? (() => new Date());
  // With a hub, the exchange keys must be there before anything opens (ERR_CONFIG_INVALID, key hub).
  const material = config.hub ? loadExchangeMaterial(config.dataDir, config.nodeId) : undefined;
  const db = opts.db ?? (await connect(config.databaseTarget));
  try {
    if (!opts.db) await probeStore(db, config.databaseTarget); // ERR_DATABASE_UNREACHABLE
    await migrateParts(db, NODE_SCHEMA, storeLabel(config.databaseTarget)); // ERR_SCHEMA_TOO_NEW before anything changes
    await sealClearSecrets(db, config.totpKey); // TOTP secrets written in clear before they were sealed at rest
    // ERR_DATA_KEY_MISSING / ERR_DATA_KEY_WRONG before any record is read; then a clear store is sealed (docs/at-rest.md)
    await startAtRest(db, NODE_AT_REST, atRestOptions(config), (p) => process.stderr.write(`${JSON.stringify({ msg: 'sealing records at rest', ...p })}\n`));
  } catch (e) {
    if (!opts.db) await db.destroy();
    throw e;
  }
  // Connected to a hub, the audit log's checkpoints are signed with the node key (and witnessed by the hub).
  // Each entry written while a request is handled carries its source address and session (request-context.ts).
  // The log's algorithm (config audit.hashAlg when set, else what the log was created with) picks the key: SM2 for sm3.
  let audit: NonNullable<BuildOptions['audit']>;
  try {
    audit = opts.audit ?? requestAwareAudit(await openNodeAudit(db, config, material));
  } catch (e) {
    if (!opts.db) await db.destroy();
    throw e;
  }
  const authClock = opts.authClock ?? (() => new Date());

  const app = Fastify({
    logger: loggerOptions(config.logLevel, opts.logStream),
    bodyLimit: config.bodyLimitBytes,
    trustProxy: fastifyTrustProxy(config.trustProxy),
    ...(config.listen.tls ? { https: { cert: readFileSync(config.listen.tls.certFile), key: readFileSync(config.listen.tls.keyFile), ...TLS_POLICY } } : {}),
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true, allErrors: true } },
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    frameworkErrors,
    clientErrorHandler,
  });

  // PostgreSQL's planner statistics of the tables imports and the feed grow (node/planner-stats.ts; nothing on SQLite)
  const plannerStats = nodePlannerStats(db, { ...opts.plannerStats, log: { warn: (o, m) => app.log.warn(o, m), debug: (o, m) => app.log.debug(o, m) } });
  let exchange: Exchange | undefined;
  if (config.hub && material) {
    const witnessable = typeof (audit as Partial<WitnessableLog>).signerFingerprint === 'function' ? (audit as unknown as WitnessableLog) : undefined;
    exchange = await createExchange({ config: { ...config, hub: config.hub }, db, audit, clock, log: app.log, material, grew: (n) => plannerStats.grew(n), ...(witnessable ? { auditLog: witnessable } : {}) });
  }
  const refusals = refusalAudit(audit, { clock });
  const deps = { db, audit, refusals, hooks: mergeHooks(opts.hooks ?? emptyHooks(), exchange?.hooks), nodeId: config.nodeId, clock, subjectKey: config.subjectKey };
  const records = recordsService(deps);
  const repair = repairService(deps, records);
  const objections = objectionsService({ ...deps, onNotice: () => exchange?.notices.wake() }, records);
  const repairs = repairsService(deps, records);
  deps.hooks.onRecordWithdrawn.push((trx, r, reason) => objections.onRecordWithdrawn(trx, r, reason), (trx, r, reason) => repairs.onRecordWithdrawn(trx, r, reason));
  const ctx: NodeContext = {
    config, db, audit, records, repair, objections,
    repairs,
    refusals,
    imports: importService(deps, records),
    reports: reportService({ ...deps, records, signer: nodeReportSigner(config.dataDir, config.nodeId, exchange ? () => exchange!.identity.current() : undefined) }),
    metrics: createMetrics(db, config.nodeId),
    job: disclosureJob(() => repair.expireDue(), config.disclosureJob.intervalMinutes, app.log),
    retention: retentionJob(() => pruneNodeExchange(db, audit, { now: clock(), days: config.retention.exchangeDays }), config.retention.intervalMinutes, app.log),
    state: { closing: false },
    plannerStats,
    ...(exchange ? { exchange, province: provinceQuery({ identity: exchange.identity, client: exchange.client, audit, records, clock, subjectKey: config.subjectKey, db }) } : {}),
  };
  exchange?.notices.setApplier((trx, from, notice) => objections.applyNotice(trx, from, notice));
  app.decorate('nodeCtx', ctx);

  installRequestContext(app);
  installErrorHandling(app);
  installMetrics(app, ctx.metrics);
  if (exchange) registerExchangeMetrics(ctx.metrics.registry, db, exchange, clock);
  registerQualityGauges(ctx.metrics.registry, db, config.nodeId, clock);
  if (config.rateLimit.enabled) {
    await app.register(rateLimit, {
      max: config.rateLimit.max,
      timeWindow: config.rateLimit.timeWindowMs,
      errorResponseBuilder: (_req, c) => serviceError('ERR_RATE_LIMITED', `rate limit of ${c.max} requests reached; retry in ${c.after}`, { retryAfter: c.after }),
    });
  }
  await installAuth(app, { secret: config.jwtSecret, nodeId: config.nodeId, audit });
  await app.register(swagger, {
    openapi: {
      info: { title: `credit-federation city node ${config.nodeId}`, version: '1' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
      security: [{ bearer: [] }],
    },
  });
  const auth = authenticate({ nodeId: config.nodeId, refusals: ctx.refusals, db, accounts: config.accounts, clock: authClock });
  await prepareDecoyHash(); // unknown names are checked against it from the first login on: same work as a known one
  const login = loginService({ db, audit, nodeId: config.nodeId, secret: config.jwtSecret, totpKey: config.totpKey, accounts: config.accounts, clock: authClock });
  const users = usersService({ db, audit, nodeId: config.nodeId, accounts: config.accounts, totpKey: config.totpKey, clock: authClock });
  app.decorate('nodeAccess', { login, authenticate: auth });
  await app.register(swaggerUi, { routePrefix: '/docs', uiHooks: { onRequest: auth } }); // the API description needs a session too
  app.addSchema(createResultSchema);

  await app.register(healthRoutes, { ctx, clock });
  await app.register(
    async (v1) => {
      v1.addHook('onRequest', auth);
      await v1.register(recordRoutes, { ctx });
      await v1.register(objectionRoutes, { ctx });
      await v1.register(importRoutes, { ctx });
      await v1.register(exchangeRoutes, { ctx });
      await v1.register(qualityRoutes, { ctx, clock });
      await v1.register(accountRoutes, { ctx, login, users });
      await v1.register(reportRoutes, { ctx });
    },
    { prefix: '/v1' },
  );
  await app.register(loginRoutes, { prefix: '/v1', login }); // no token: both factors in the body

  app.addHook('onReady', async () => {
    ctx.job.start();
    ctx.retention.start();
    await ctx.exchange?.start();
  });
  app.addHook('preClose', async () => {
    ctx.state.closing = true;
  });
  // While shutting down, answer in-flight requests with Connection: close so keep-alive sockets end.
  app.addHook('onSend', async (_request, reply) => {
    if (ctx.state.closing) void reply.header('connection', 'close');
  });
  app.addHook('onClose', async () => {
    await ctx.exchange?.stop();
    await ctx.job.stop();
    await ctx.retention.stop();
    await ctx.refusals.close();
    await plannerStats.close(); // cancels an ANALYZE under way
    if (!opts.audit) await audit.close();
    if (!opts.db) await db.destroy();
  });
  return app;
}

function mergeHooks(a: RecordHooks, b: RecordHooks | undefined): RecordHooks {
  if (!b) return a;
  return {
    onRecordWritten: [...a.onRecordWritten, ...b.onRecordWritten],
    onRecordsWritten: [...(a.onRecordsWritten ?? []), ...(b.onRecordsWritten ?? [])],
    onRecordWithdrawn: [...a.onRecordWithdrawn, ...b.onRecordWithdrawn],
    onRecordVersioned: [...(a.onRecordVersioned ?? []), ...(b.onRecordVersioned ?? [])],
  };
}
