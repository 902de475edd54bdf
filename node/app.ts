/**
 * The composition root of a city node: DB → stores → services → routes. Builds a Fastify app
 * and never listens (server.ts does); tests drive it with app.inject().
 */
import { readFileSync } from 'node:fs';
import Fastify, { type FastifyInstance } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { Knex } from 'knex';
import type { DestinationStream } from 'pino';
import { connect } from '../audit/knex-connect.js';
import { migrateAudit, openAuditLog } from '../audit/index.js';
import { TLS_POLICY } from '../certs/tls.js';
import { refusalAudit } from '../audit/refusals.js';
import { authenticate, installAuth } from './auth.js';
import type { NodeConfig } from './config.js';
import type { NodeContext } from './context.js';
import { disclosureJob } from './disclosure-job.js';
import { createExchange, type Exchange, type WitnessableLog } from './exchange/exchange.js';
import { loadExchangeMaterial } from './exchange/files.js';
import { provinceQuery } from './exchange/province-query.js';
import { emptyHooks, type RecordHooks } from './hooks.js';
import { clientErrorHandler, frameworkErrors, installErrorHandling } from './http-errors.js';
import { importService } from './import-service.js';
import { loggerOptions } from './logger.js';
import { createMetrics, installMetrics } from './metrics.js';
import { migrateNode } from './migrations.js';
import { recordsService, type AuditWriter } from './records-service.js';
import { repairService } from './repair-service.js';
import { healthRoutes } from './routes/health.js';
import { importRoutes } from './routes/import.js';
import { exchangeRoutes } from './routes/exchange.js';
import { recordRoutes } from './routes/records.js';
import { createResultSchema } from './schemas.js';
import { serviceError } from '../protocol/service-errors.js';

declare module 'fastify' {
  interface FastifyInstance {
    nodeCtx: NodeContext;
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
  /** An already-open audit log on that store (the caller closes it); otherwise opened and closed with the app. */
  audit?: AuditWriter & { close(): Promise<void> };
}

export async function buildApp(opts: BuildOptions): Promise<FastifyInstance> {
  const { config } = opts;
  const clock = opts.clock ?? (() => new Date());
  // With a hub, the exchange keys must be there before anything opens (ERR_CONFIG_INVALID, key hub).
  const material = config.hub ? loadExchangeMaterial(config.dataDir, config.nodeId) : undefined;
  const db = opts.db ?? (await connect(config.databaseTarget));
  await migrateAudit(db);
  await migrateNode(db);
  // Connected to a hub, the audit log's checkpoints are signed with the node key (and witnessed by the hub).
  const audit = opts.audit ?? (await openAuditLog(db, material ? { signer: { nodeId: config.nodeId, keyPem: material.keyPem, certPem: material.certPem } } : {}));

  const app = Fastify({
    logger: loggerOptions(config.logLevel, opts.logStream),
    bodyLimit: config.bodyLimitBytes,
    ...(config.listen.tls ? { https: { cert: readFileSync(config.listen.tls.certFile), key: readFileSync(config.listen.tls.keyFile), ...TLS_POLICY } } : {}),
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true, allErrors: true } },
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    frameworkErrors,
    clientErrorHandler,
  });

  let exchange: Exchange | undefined;
  if (config.hub && material) {
    const witnessable = typeof (audit as Partial<WitnessableLog>).signerFingerprint === 'function' ? (audit as unknown as WitnessableLog) : undefined;
    exchange = await createExchange({ config: { ...config, hub: config.hub }, db, audit, clock, log: app.log, material, ...(witnessable ? { auditLog: witnessable } : {}) });
  }
  const refusals = refusalAudit(audit, { clock });
  const deps = { db, audit, refusals, hooks: mergeHooks(opts.hooks ?? emptyHooks(), exchange?.hooks), nodeId: config.nodeId, clock, subjectKey: config.subjectKey };
  const records = recordsService(deps);
  const repair = repairService(deps, records);
  const ctx: NodeContext = {
    config, db, audit, records, repair,
    refusals,
    imports: importService(deps, records),
    metrics: createMetrics(db, config.nodeId),
    job: disclosureJob(() => repair.expireDue(), config.disclosureJob.intervalMinutes, app.log),
    state: { closing: false },
    ...(exchange ? { exchange, province: provinceQuery({ identity: exchange.identity, client: exchange.client, audit, records, clock, subjectKey: config.subjectKey }) } : {}),
  };
  app.decorate('nodeCtx', ctx);

  installErrorHandling(app);
  installMetrics(app, ctx.metrics);
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
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.addSchema(createResultSchema);

  await app.register(healthRoutes, { ctx });
  await app.register(
    async (v1) => {
      v1.addHook('onRequest', authenticate(config.nodeId, ctx.refusals));
      await v1.register(recordRoutes, { ctx });
      await v1.register(importRoutes, { ctx });
      await v1.register(exchangeRoutes, { ctx });
    },
    { prefix: '/v1' },
  );

  app.addHook('onReady', async () => {
    ctx.job.start();
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
    await ctx.refusals.close();
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
  };
}
