/**
 * The composition root of the provincial hub: DB → stores → services → routes. Builds a Fastify
 * app over HTTPS (mutual TLS requested, never required at the handshake: the per-request client
 * check decides) and never listens (server.ts does); tests may also inject().
 */
import Fastify, { type FastifyInstance } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import type { Knex } from 'knex';
import type { DestinationStream } from 'pino';
import type { TLSSocket } from 'node:tls';
import { connect, readerFor } from '../audit/knex-connect.js';
import { migrateAudit, openAuditLog, type AuditLog } from '../audit/index.js';
import { refusalAudit, type RefusalAudit } from '../audit/refusals.js';
import { HUB_NODE_ID } from '../certs/issue.js';
import { tlsServerOptions } from '../certs/tls.js';
import { caTrust } from '../protocol/ca-trust.js';
import { serviceError } from '../protocol/service-errors.js';
import { openHubCa } from './ca-store.js';
import type { HubConfig } from './config.js';
import type { HubDeps } from './context.js';
import { distributionService, type DistributionService } from './distribution-service.js';
import { enrolmentService, type EnrolmentService } from './enrolment-service.js';
import { clientErrorHandler, frameworkErrors, installErrorHandling, type ErrorBody } from './http-errors.js';
import { ensureHubIdentity } from './identity.js';
import { intakeService, type IntakeService } from './intake-service.js';
import { hubLoggerOptions } from './logger.js';
import { createHubMetrics, installHubMetrics } from './metrics.js';
import { migrateHub } from './migrations.js';
import { queryService, type QueryService } from './query-service.js';
import { envelopeRoutes, renewRoutes } from './routes/exchange.js';
import { publicRoutes } from './routes/public.js';
import { subjectHmacKey } from './settings-store.js';
import { WITNESS_FAILURES, witnessService, type WitnessService } from './witness-service.js';

export interface HubContext extends HubDeps {
  intake: IntakeService;
  distributions: DistributionService;
  queries: QueryService;
  enrolment: EnrolmentService;
  witness: WitnessService;
  /** Refusals go to the audit log aggregated per source and minute (audit/refusals.ts). */
  refusals: RefusalAudit;
  state: { closing: boolean };
}

declare module 'fastify' {
  interface FastifyInstance {
    hubCtx: HubContext;
  }
}

export interface BuildHubOptions {
  config: HubConfig;
  /** The clock (tests move it); default: the system clock. */
  clock?: () => Date;
  /** Where logs go (default stdout). */
  logStream?: DestinationStream;
  /** An already-open store (tests); otherwise config.databaseTarget is opened and closed with the app. */
  db?: Knex;
}

/** Refusals that go into the hub's audit log (who was turned away, and why). */
const AUDITED_STATUSES = new Set([401, 403, 409]);
const AUDITED_CODES = new Set(['ERR_STALE_TIMESTAMP', 'ERR_WRONG_RECIPIENT', 'ERR_SIGNATURE_INVALID', 'ERR_ENVELOPE_TYPE']);

export async function buildHub(opts: BuildHubOptions): Promise<FastifyInstance> {
  const { config } = opts;
  const clock = opts.clock ?? (() => new Date());
  const db = opts.db ?? (await connect(config.databaseTarget));
  let audit: AuditLog | undefined;
  let reader: Awaited<ReturnType<typeof readerFor>> | undefined;
  try {
    await migrateAudit(db);
    await migrateHub(db);
    const ca = openHubCa(db, config.caDir);
    const identity = await ensureHubIdentity(ca, { dataDir: config.dataDir, hosts: config.hosts, days: config.nodeCertDays, now: clock() });
    reader = await readerFor(db);
    audit = await openAuditLog(db, { signer: { nodeId: HUB_NODE_ID, keyPem: identity.keyPem, certPem: identity.certPem } });
    const deps: HubDeps = {
      config, db, reader: reader.reader, audit, ca, clock,
      identity: { keyPem: identity.keyPem, certPem: identity.certPem },
      trust: caTrust({ caCertPems: [ca.certPem] }),
      metrics: createHubMetrics(db),
      subjectKey: await subjectHmacKey(db),
    };
    const ctx: HubContext = {
      ...deps,
      intake: intakeService(deps),
      distributions: distributionService(deps),
      queries: queryService(deps),
      enrolment: enrolmentService(deps),
      witness: witnessService(deps),
      refusals: refusalAudit(audit, { clock }),
      state: { closing: false },
    };
    const app = Fastify({
      logger: hubLoggerOptions(config.logLevel, opts.logStream),
      bodyLimit: config.bodyLimitBytes,
      https: { ...tlsServerOptions({ caCertPem: ca.certPem, certPem: identity.certPem, keyPem: identity.keyPem, requestCert: true }), rejectUnauthorized: false },
      ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true, allErrors: true } },
      return503OnClosing: true,
      forceCloseConnections: 'idle',
      frameworkErrors,
      clientErrorHandler,
    });
    app.decorate('hubCtx', ctx);
    if (identity.issued !== null) app.log.info({ reason: identity.issued }, 'issued a new hub certificate');

    installErrorHandling(app, async (request, body: ErrorBody, status) => {
      ctx.metrics.refusals.inc({ code: body.code });
      if (!AUDITED_STATUSES.has(status) && !AUDITED_CODES.has(body.code)) return;
      if (body.code === 'ERR_CLASSIFICATION_DENIED' || body.code === 'ERR_ENVELOPE_MALFORMED') return; // audited with the batch refusal
      if (WITNESS_FAILURES.has(body.code)) return; // audited as a failed checkpoint.cosign
      const who = request.peer ? `node:${request.peer.nodeId}` : request.peerFingerprint ? `cert:${request.peerFingerprint}` : `addr:${request.ip}`;
      // one entry per source, route and code a minute, and a count of the rest (audit/refusals.ts)
      await ctx.refusals.refused(who, { action: 'request.refused', actor: who, ...(request.peer ? { actorNode: request.peer.nodeId } : {}), object: `${request.method} ${request.routeOptions.url ?? '(no route)'}`, outcome: 'failure', reason: body.code });
    });
    installHubMetrics(app, ctx.metrics);
    app.removeContentTypeParser('text/plain');
    if (config.rateLimit.enabled) {
      await app.register(rateLimit, {
        max: config.rateLimit.max,
        timeWindow: config.rateLimit.timeWindowMs,
        keyGenerator: (request) => {
          const socket = request.raw.socket as TLSSocket;
          const cn = socket.authorized ? socket.getPeerX509Certificate?.()?.subject.match(/CN=(\d{6})/)?.[1] : undefined;
          return cn ? `node:${cn}` : `addr:${request.ip}`;
        },
        errorResponseBuilder: (_request, c) => serviceError('ERR_RATE_LIMITED', `rate limit of ${c.max} requests reached; retry in ${c.after}`, { retryAfter: c.after }),
      });
    }
    await app.register(publicRoutes, { ctx });
    await app.register(renewRoutes, { ctx });
    await app.register(envelopeRoutes, { ctx });

    app.addHook('preClose', async () => {
      ctx.state.closing = true;
    });
    app.addHook('onSend', async (_request, reply) => {
      if (ctx.state.closing) void reply.header('connection', 'close');
    });
    app.addHook('onClose', async () => {
      await ctx.refusals.close();
      await audit!.close();
      await reader!.close();
      if (!opts.db) await db.destroy();
    });
    return app;
  } catch (e) {
    await audit?.close().catch(() => undefined);
    await reader?.close().catch(() => undefined);
    if (!opts.db) await db.destroy();
    throw e;
  }
}
