/**
 * Prometheus metrics with a registry per app (never prom-client's global one, so tests can build
 * several apps): records by status (read from the store at scrape time), import lines by outcome,
 * HTTP request durations by route.
 */
import type { FastifyInstance } from 'fastify';
import type { Knex } from 'knex';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { recordsStore } from './records-store.js';

export interface NodeMetrics {
  registry: Registry;
  importLines: Counter<'outcome'>;
  httpDuration: Histogram<'method' | 'route' | 'status'>;
}

export function createMetrics(db: Knex, nodeId: string): NodeMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ node: nodeId });
  collectDefaultMetrics({ register: registry, prefix: 'credit_node_' });
  new Gauge({
    name: 'credit_node_records',
    help: 'credit records held by this node, by status',
    labelNames: ['status'],
    registers: [registry],
    async collect() {
      const counts = await recordsStore.countByStatus(db);
      this.reset();
      for (const status of ['active', 'withdrawn']) this.set({ status }, counts[status] ?? 0);
    },
  });
  const importLines = new Counter({ name: 'credit_node_import_lines_total', help: 'import lines processed, by outcome', labelNames: ['outcome'] as const, registers: [registry] });
  const httpDuration = new Histogram({
    name: 'credit_node_http_request_duration_seconds',
    help: 'HTTP request durations by route',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60, 300],
    registers: [registry],
  });
  return { registry, importLines, httpDuration };
}

export function installMetrics(app: FastifyInstance, m: NodeMetrics): void {
  app.addHook('onResponse', async (request, reply) => {
    m.httpDuration.observe({ method: request.method, route: request.routeOptions.url ?? 'unknown', status: String(reply.statusCode) }, reply.elapsedTime / 1000);
  });
}
