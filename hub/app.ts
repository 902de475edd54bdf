/**
 * The composition root of the provincial hub: DB → stores → services → routes. Builds a Fastify
 * app over HTTPS (mutual TLS requested, never required at the handshake: the per-request client
 * check decides) and never listens (server.ts does); tests may also inject().
 */
import type { Server as TlsServer } from 'node:tls';
import { installProxyProtocol } from '../server/proxy-listener.js';
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import fastifyJwt from '@fastify/jwt';
import type { AuditEvent } from '../audit/types.js';
import type { Knex } from 'knex';
import type { DestinationStream } from 'pino';
import type { TLSSocket } from 'node:tls';
import { connect, engineOf, readerFor } from '../audit/knex-connect.js';
import { openAuditLog, signerForAlg, type AuditLog } from '../audit/index.js';
import { reportFrontierRejection } from '../audit/log.js';
import { readHashAlg } from '../audit/log-meta.js';
import { migrateParts, storeLabel } from '../audit/migration-plan.js';
import { attachKeyring, startAtRest } from '../server/at-rest-store.js';
import { assertSameSchema, replicaReader } from './replica.js';
import { atRestOptions } from '../server/config-schema.js';
import { HUB_AT_REST } from './at-rest.js';
import { probeStore } from '../audit/start-checks.js';
import { certFacts } from '../audit/crypto.js';
import { refusalAudit } from '../audit/refusals.js';
import { HUB_NODE_ID } from '../certs/issue.js';
import { tlsServerOptions } from '../certs/tls.js';
import { caTrust } from '../protocol/ca-trust.js';
import { serviceError } from '../protocol/service-errors.js';
import { openHubCa } from './ca-store.js';
import { reconcileJob } from './register-journal.js';
import { syncProvinceCatalog } from './catalog-service.js';
import type { HubConfig } from './config.js';
import { distributionService } from './distribution-service.js';
import { enrolmentService } from './enrolment-service.js';
import { clientErrorHandler, frameworkErrors, installErrorHandling, type ErrorBody } from './http-errors.js';
import { ensureHubIdentity } from './identity.js';
import { pgRateLimitStore } from './rate-limit-store.js';
import { ensureHubSm2Identity } from './sm2-identity.js';
import { assertHubCanSeal } from './suite-policy.js';
import { intakeService } from './intake-service.js';
import { hubLoggerOptions } from './logger.js';
import { installRequestLog } from './request-log.js';
import { createHubMetrics, installHubMetrics } from './metrics.js';
import { HUB_SCHEMA } from './migrations.js';
import { queryService } from './query-service.js';
import { noticeService } from './objections-service.js';
import { envelopeRoutes, renewRoutes } from './routes/exchange.js';
import { publicRoutes } from './routes/public.js';
import type { HubDeps } from './context.js';
import type { HubContext } from './route-context.js';
import { qualityRoutes } from './routes/quality.js';
import { reportVerifyRoutes } from './routes/report-verify.js';
import { registerHubQualityGauges } from './quality-metrics.js';
import { settingsStore, subjectHmacKey } from './settings-store.js';
import { WITNESS_FAILURES, witnessService } from './witness-service.js';
import { retentionJob } from '../audit/retention-job.js';
import { plannerStats, type PlannerStatsOptions } from './planner-stats.js';
import { pruneHubExchange } from './exchange-retention.js';
import { hubAccounts, hubLoginService, hubTotpKey, hubUsersService, operatorAuth, sessionSigningKey } from './accounts.js';
import { hubAccountRoutes, hubLoginRoutes } from './routes/accounts.js';
import { operatorRoutes } from './routes/operator.js';
import { installRequestContext, requestAwareAudit, withRequestSource } from '../server/request-context.js';
import { fastifyTrustProxy } from '../server/trust-proxy.js';
import { prepareDecoyHash } from '../server/credentials.js';
import { serviceError as configError } from '../protocol/service-errors.js';

export interface BuildHubOptions {
  config: HubConfig;
  /** The clock (tests move it); default: the system clock. */
  clock?: () => Date;
  /** Where logs go (default stdout). */
  logStream?: DestinationStream;
  /** An already-open store (tests); otherwise config.databaseTarget is opened and closed with the app. */
  db?: Knex;
  /** An already-open read replica (tests); otherwise config.databaseReadUrl, when set, is opened and closed with the app. */
  replicaDb?: Knex;
  /** When the hub refreshes its PostgreSQL planner statistics (hub/planner-stats.ts); tests lower the threshold. */
  plannerStats?: Pick<PlannerStatsOptions, 'minRows' | 'fraction'>;
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
  let replica: Knex | undefined = opts.replicaDb;
  try {
    if (!opts.db) await probeStore(db, config.databaseTarget); // ERR_DATABASE_UNREACHABLE
    await migrateParts(db, HUB_SCHEMA, storeLabel(config.databaseTarget)); // ERR_SCHEMA_TOO_NEW before anything changes
    // ERR_DATA_KEY_MISSING / ERR_DATA_KEY_WRONG before any record is read; then a clear store is sealed (docs/at-rest.md)
    const ring = await startAtRest(db, HUB_AT_REST, atRestOptions(config), (p) => process.stderr.write(`${JSON.stringify({ msg: 'sealing records at rest', ...p })}\n`));
    if (!replica && config.databaseReadUrl) {
      replica = await connect(config.databaseReadUrl);
      await probeStore(replica, config.databaseReadUrl); // ERR_DATABASE_UNREACHABLE, naming the replica
    }
    if (replica) {
      attachKeyring(replica, ring); // the replica's rows are sealed with the same data key
      await assertSameSchema(db, replica); // ERR_REPLICA_SCHEMA: not a copy of this store (or not caught up with its migrations)
    }
    const ca = openHubCa(db, config.caDir);
    const identity = await ensureHubIdentity(db, ca, { dataDir: config.dataDir, hosts: config.hosts, days: config.nodeCertDays, now: clock() });
    // the EC P-256 identity beside it (issue 23): made and shared the same way, used for EC nodes (hub/answer-keys.ts)
    const ec = await ensureHubIdentity(db, ca, { dataDir: config.dataDir, hosts: config.hosts, days: config.nodeCertDays, now: clock(), algorithm: 'p256' });
    const sm2 = await ensureHubSm2Identity(ca, { dataDir: config.dataDir, days: config.nodeCertDays, now: clock() });
    assertHubCanSeal(identity.keyPem, config.suites, sm2?.keyPem, ec.keyPem); // its own envelopes follow its policy too
    reader = await readerFor(db);
    // The log's algorithm (config audit.hashAlg when set, else what the log was created with) picks the checkpoint key: SM2 for sm3.
    const hashAlg = config.audit?.hashAlg ?? (await readHashAlg(db));
    const signer = signerForAlg(hashAlg, HUB_NODE_ID, { keyPem: identity.keyPem, certPem: identity.certPem, sm2 }, `run \`credit ca init --algorithm sm2 --dir ${config.caDir}\` (the hub then makes its SM2 identity at start) or set audit.hashAlg to sha256 for a new store`);
    audit = await openAuditLog(db, { signer, ...(config.audit?.hashAlg ? { hashAlg: config.audit.hashAlg } : {}) });
    await reportFrontierRejection(audit, 'svc:hub-start', HUB_NODE_ID);
    for (const made of [identity, ec]) {
      if (made.issued === null) continue;
      // The hub's own certificate was (re)issued at start: an operator-visible certificate event (issue 16).
      const facts = certFacts(made.certPem);
      await audit.record({ action: made.issued === 'no hub certificate yet' ? 'cert.issue' : 'cert.reissue', actor: 'svc:hub-start', actorNode: HUB_NODE_ID, object: `cert:${facts.serial}`, outcome: 'success', reason: `${made === ec ? 'EC P-256: ' : ''}${made.issued} notAfter=${facts.notAfter.toISOString()}`.slice(0, 2000) });
    }
    const metrics = createHubMetrics(db);
    const deps: HubDeps = {
      config, db, reader: reader.reader, audit, ca, clock,
      replica: replica
        ? replicaReader({ primary: reader.reader, replica, clock, maxLagMs: config.databaseReadMaxLagMs, timeoutMs: config.databaseReadTimeoutMs, onFallback: (reason) => metrics.replicaFallbacks.inc({ reason: reason === 'lag' ? 'lag' : 'error' }) })
        : null,
      identity: { keyPem: identity.keyPem, certPem: identity.certPem, ec: { keyPem: ec.keyPem, certPem: ec.certPem }, ...(sm2 ? { sm2: { keyPem: sm2.keyPem, certPem: sm2.certPem, caCertPem: sm2.caCertPem } } : {}) },
      trust: caTrust({ caCertPems: [ca.certPem, ...(ca.sm2 ? [ca.sm2.certPem] : [])] }),
      metrics,
      subjectKey: await subjectHmacKey(db),
      // logs through the app's logger, which exists before the first batch arrives
      plannerStats: plannerStats(db, { ...opts.plannerStats, log: { warn: (o, m) => app.log.warn(o, m), debug: (o, m) => app.log.debug(o, m) } }),
    };
    await syncProvinceCatalog(deps);
    let totpKey: Buffer;
    try {
      totpKey = hubTotpKey(config.dataDir);
    } catch (e) {
      throw configError('ERR_CONFIG_INVALID', `config key dataDir: totp.key: ${(e as Error).message}`, { key: 'dataDir' });
    }
    await hubAccounts.sealClearSecrets(db, totpKey); // TOTP secrets written in clear before they were sealed at rest
    await prepareDecoyHash(); // unknown names are checked against it from the first login on: same work as a known one
    const signingKey = sessionSigningKey(totpKey); // HKDF of totp.key, never in the store
    await settingsStore.remove(db, 'session_jwt_key'); // the key hubs before this one kept in the store: useless now, and not to be left lying there
    await settingsStore.remove(db, 'console_csrf_key'); // likewise the console's CSRF key (now consoleCsrfKey of totp.key)
    // entries of the operator routes carry the request's source and session (src= sid=); the node-facing routes' entries are unchanged
    const opsAudit = requestAwareAudit(audit);
    const accountDeps = { db, audit: opsAudit, accounts: config.accounts, totpKey, clock };
    // set once the app exists: @fastify/jwt verifies the operators' tokens (HS256, the hub's session key, issuer 430000)
    let verifyToken: (token: string) => Promise<Record<string, unknown>> = async () => {
      throw new Error('not ready');
    };
    const ctx: HubContext = {
      ...deps,
      intake: intakeService(deps),
      distributions: distributionService(deps),
      queries: queryService(deps),
      notices: noticeService(deps),
      enrolment: enrolmentService(deps),
      witness: witnessService(deps),
      refusals: refusalAudit(audit, { clock }),
      // logs through the app's logger, which exists by the time the job first runs (onReady)
      retention: retentionJob(() => pruneHubExchange(db, audit!, { now: clock(), days: config.retention.exchangeDays }), config.retention.intervalMinutes, { info: (o, m) => app.log.info(o, m), error: (o, m) => app.log.error(o, m) }),
      state: { closing: false },
      operators: {
        login: hubLoginService({ ...accountDeps, signingKey }),
        users: hubUsersService(accountDeps),
        auth: operatorAuth({ db, accounts: config.accounts, clock, verifyToken: (t) => verifyToken(t) }),
        audit: opsAudit,
      },
    };
    const app = Fastify({
      logger: hubLoggerOptions(config.logLevel, opts.logStream),
      bodyLimit: config.bodyLimitBytes,
      trustProxy: fastifyTrustProxy(config.trustProxy),
      https: { ...tlsServerOptions({ caCertPem: ca.certPem, certPem: identity.certPem, keyPem: identity.keyPem, requestCert: true }), rejectUnauthorized: false },
      ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true, allErrors: true } },
      return503OnClosing: true,
      forceCloseConnections: 'idle',
      frameworkErrors,
      clientErrorHandler,
      // hub/request-log.ts: one line per request, polls at debug (Fastify's own per-request lines off; the top-level disableRequestLogging is deprecated, FSTDEP023)
      logController: new LogController({ disableRequestLogging: true }),
    });
    // behind an L4 balancer: the client's address from its PROXY header, read only from trustProxy addresses
    if (config.trustProxy.length > 0) installProxyProtocol(app.server as unknown as TlsServer, config.trustProxy, app.log, { required: config.proxyProtocol === 'required' });
    installRequestLog(app);
    installRequestContext(app);
    app.decorate('hubCtx', ctx);
    await app.register(fastifyJwt, {
      secret: signingKey,
      sign: { algorithm: 'HS256' },
      verify: { algorithms: ['HS256'], allowedIss: HUB_NODE_ID, requiredClaims: ['sub', 'exp', 'iat', 'jti', 'role', 'clearance'] },
    });
    verifyToken = async (t) => app.jwt.verify<Record<string, unknown>>(t);
    if (identity.issued !== null) app.log.info({ reason: identity.issued }, 'issued a new hub certificate');

    installErrorHandling(app, async (request, body: ErrorBody, status) => {
      ctx.metrics.refusals.inc({ code: body.code });
      if (!AUDITED_STATUSES.has(status) && !AUDITED_CODES.has(body.code)) return;
      if (body.code === 'ERR_CLASSIFICATION_DENIED' || body.code === 'ERR_ENVELOPE_MALFORMED') return; // audited with the batch refusal
      if (WITNESS_FAILURES.has(body.code)) return; // audited as a failed checkpoint.cosign
      // an authenticated operator refused (ERR_ROLE_DENIED …) is audited as that user; src= still names the address
      const who = request.operator ? request.operator.actor : request.peer ? `node:${request.peer.nodeId}` : request.peerFingerprint ? `cert:${request.peerFingerprint}` : `addr:${request.ip}`;
      // one entry per source, route and code a minute, and a count of the rest (audit/refusals.ts)
      const refusal: AuditEvent = { action: 'request.refused', actor: who, ...(request.peer ? { actorNode: request.peer.nodeId } : {}), object: `${request.method} ${request.routeOptions.url ?? '(no route)'}`, outcome: 'failure', reason: body.code };
      await ctx.refusals.refused(who, request.operator ? withRequestSource(refusal) : refusal); // an operator's refusal keeps src= sid= as its other entries do
    });
    installHubMetrics(app, ctx.metrics);
    registerHubQualityGauges(ctx.metrics.registry, ctx.reader, clock);
    app.removeContentTypeParser('text/plain');
    if (config.rateLimit.enabled) {
      await app.register(rateLimit, {
        max: config.rateLimit.max,
        timeWindow: config.rateLimit.timeWindowMs,
        // several hub processes on one PostgreSQL share one budget per client
        ...(engineOf(db) === 'pg' ? { store: pgRateLimitStore(db) } : {}),
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
    await app.register(qualityRoutes, { ctx });
    await app.register(reportVerifyRoutes, { ctx });
    await app.register(hubLoginRoutes, { ctx }); // no token: both factors in the body
    await app.register(async (ops) => {
      ops.addHook('onRequest', ctx.operators.auth.hook);
      await ops.register(hubAccountRoutes, { ctx });
      await ops.register(operatorRoutes, { ctx });
    });

    // the register's committed facts kept outside the store (hub/register-journal.ts): what a restored store lost is applied again before the first request, then every minute
    ca.journal.onError = (e, facts) => app.log.error({ code: 'ERR_REGISTER_JOURNAL', facts: facts.length, file: ca.journal.file, error: e.message }, 'register journal: could not append committed register changes; they are not protected against a restore of the store (docs/scale.md "The register journal")');
    const reconcile = reconcileJob(db, ca.journal, audit, app.log);
    app.addHook('onReady', async () => {
      await reconcile.atStart(); // ERR_REGISTER_JOURNAL: the hub does not serve a store it could not reconcile
      reconcile.start();
      ctx.retention.start();
    });
    app.addHook('preClose', async () => {
      ctx.state.closing = true;
    });
    app.addHook('onSend', async (_request, reply) => {
      if (ctx.state.closing) void reply.header('connection', 'close');
    });
    app.addHook('onClose', async () => {
      await ctx.retention.stop();
      await reconcile.stop();
      await deps.plannerStats?.close(); // cancels an ANALYZE under way
      await ctx.refusals.close();
      await audit!.close();
      await reader!.close();
      if (replica && !opts.replicaDb) await replica.destroy();
      if (!opts.db) await db.destroy();
    });
    return app;
  } catch (e) {
    await audit?.close().catch(() => undefined);
    await reader?.close().catch(() => undefined);
    if (replica && !opts.replicaDb) await replica.destroy().catch(() => undefined);
    if (!opts.db) await db.destroy();
    throw e;
  }
}
