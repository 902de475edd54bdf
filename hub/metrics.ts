/**
 * Prometheus metrics with a registry per app (never prom-client's global one): batches by outcome,
 * records by outcome, distribution items, queries, refusals by code, nodes by status and records
 * held (read from the store at scrape time), per active node its last contact and its feed lag,
 * HTTP request durations by route, CRLs signed for the CRL routes.
 */
import type { FastifyInstance } from 'fastify';
import type { Knex } from 'knex';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { nodesStore } from './nodes-store.js';
import { recordsStore } from './records-store.js';
import { feedCursorsStore, type FeedLag } from './feed-cursors-store.js';
import { receivableClasses } from './release-policy.js';

export interface HubMetrics {
  registry: Registry;
  batches: Counter<'outcome'>;
  records: Counter<'outcome'>;
  distributed: Counter<string>;
  queries: Counter<string>;
  /** Reads meant for the read replica that went to the primary: `lag` (behind databaseReadMaxLagMs) or `error` (failed or slow). */
  replicaFallbacks: Counter<string>;
  refusals: Counter<'code'>;
  /** Seq refusals (hub/seq-refusal.ts), by `signed` ("yes") or why not (the code in details.refusalUnavailable). */
  seqRefusals: Counter<'signed'>;
  crlBuilds: Counter<'crl'>;
  httpDuration: Histogram<'method' | 'route' | 'status'>;
}

export function createHubMetrics(db: Knex): HubMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ node: '430000' });
  collectDefaultMetrics({ register: registry, prefix: 'credit_hub_' });
  new Gauge({
    name: 'credit_hub_nodes',
    help: 'nodes in the registry, by status',
    labelNames: ['status'],
    registers: [registry],
    async collect() {
      const counts = await nodesStore.countByStatus(db);
      this.reset();
      for (const status of ['pending', 'active', 'revoked']) this.set({ status }, counts[status] ?? 0);
    },
  });
  new Gauge({
    name: 'credit_hub_records',
    help: 'province-wide record copies held by the hub, by status',
    labelNames: ['status'],
    registers: [registry],
    async collect() {
      const counts = await recordsStore.countByStatus(db);
      this.reset();
      for (const status of ['active', 'withdrawn']) this.set({ status }, counts[status] ?? 0);
    },
  });
  new Gauge({
    name: 'credit_hub_node_last_contact_seconds',
    help: 'seconds since each active node last reached the hub (label peer; -1: never)',
    labelNames: ['peer'],
    registers: [registry],
    async collect() {
      const now = Date.now();
      this.reset();
      for (const n of await nodesStore.list(db)) {
        if (n.status !== 'active') continue;
        this.set({ peer: n.nodeId }, n.lastSeenAt === null ? -1 : Math.max(0, (now - Date.parse(n.lastSeenAt)) / 1000));
      }
    },
  });
  // one read of every active node's lag per scrape, shared by the two gauges below
  let lagRead: Promise<Map<string, FeedLag>> | undefined;
  const lags = (): Promise<Map<string, FeedLag>> => {
    lagRead ??= (async () => {
      const out = new Map<string, FeedLag>();
      for (const n of await nodesStore.list(db)) {
        if (n.status === 'active') out.set(n.nodeId, await feedCursorsStore.lag(db, n.nodeId, receivableClasses(n.grade)));
      }
      return out;
    })().finally(() => setImmediate(() => (lagRead = undefined)));
    return lagRead;
  };
  new Gauge({
    name: 'credit_hub_node_feed_lag_items',
    help: 'distribution feed items each active node may receive after the cursor it last pulled from (label peer)',
    labelNames: ['peer'],
    registers: [registry],
    async collect() {
      const all = await lags();
      this.reset();
      for (const [peer, l] of all) this.set({ peer }, l.items);
    },
  });
  new Gauge({
    name: 'credit_hub_node_feed_lag_seconds',
    help: 'age of the oldest feed item each active node has not pulled yet (label peer; 0: none waits)',
    labelNames: ['peer'],
    registers: [registry],
    async collect() {
      const all = await lags();
      const now = Date.now();
      this.reset();
      for (const [peer, l] of all) this.set({ peer }, l.oldestAt === null ? 0 : Math.max(0, (now - Date.parse(l.oldestAt)) / 1000));
    },
  });
  return {
    registry,
    batches: new Counter({ name: 'credit_hub_batches_total', help: 'batches processed, by outcome (accepted, refused)', labelNames: ['outcome'] as const, registers: [registry] }),
    records: new Counter({ name: 'credit_hub_batch_records_total', help: 'records and withdrawals in batches, by outcome (accepted, rejected, withdrawn)', labelNames: ['outcome'] as const, registers: [registry] }),
    distributed: new Counter({ name: 'credit_hub_distribution_items_total', help: 'distribution items sent to nodes', registers: [registry] }),
    queries: new Counter({ name: 'credit_hub_queries_total', help: 'province-wide queries answered', registers: [registry] }),
    replicaFallbacks: new Counter({ name: 'credit_hub_replica_fallbacks_total', help: 'reads meant for the read replica (databaseReadUrl) that went to the primary, by reason (lag, error)', labelNames: ['reason'] as const, registers: [registry] }),
    refusals: new Counter({ name: 'credit_hub_refusals_total', help: 'requests refused, by error code', labelNames: ['code'] as const, registers: [registry] }),
    seqRefusals: new Counter({ name: 'credit_hub_seq_refusals_total', help: 'batches refused for their seq (ERR_SEQUENCE_GAP, ERR_OUT_OF_ORDER with the last seq): signed="yes", or the code of why the refusal went unsigned (ERR_STALE_TIMESTAMP, ERR_RATE_LIMITED, a store failure)', labelNames: ['signed'] as const, registers: [registry] }),
    crlBuilds: new Counter({ name: 'credit_hub_crl_builds_total', help: 'CRLs signed for GET /v1/crl (crl="rsa") and GET /v1/crl/sm2 (crl="sm2"): at most one per cache period and process', labelNames: ['crl'] as const, registers: [registry] }),
    httpDuration: new Histogram({
      name: 'credit_hub_http_request_duration_seconds',
      help: 'HTTP request durations by route',
      labelNames: ['method', 'route', 'status'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60],
      registers: [registry],
    }),
  };
}

export function installHubMetrics(app: FastifyInstance, m: HubMetrics): void {
  app.addHook('onResponse', async (request, reply) => {
    m.httpDuration.observe({ method: request.method, route: request.routeOptions.url ?? 'unknown', status: String(reply.statusCode) }, reply.elapsedTime / 1000);
  });
}
