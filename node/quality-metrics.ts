/**
 * Prometheus gauges of the node's headline quality rates for the current month (China time),
 * read from node_quality_agg at scrape time: credit_node_quality_rate{indicator}. A rate without
 * data is not exported (no sample rather than a false 0).
 */
import type { Knex } from 'knex';
import { Gauge, type Registry } from 'prom-client';
import { monthInChina } from '../protocol/quality-facts.js';
import { nodeQuality } from './quality-service.js';

export const HEADLINE = { complianceRate: 'compliance', usccErrorRate: 'uscc_error', requiredFillRate: 'required_fill', correctionRate: 'correction' } as const;

export function registerQualityGauges(registry: Registry, db: Knex, nodeId: string, clock: () => Date): void {
  new Gauge({
    name: 'credit_node_quality_rate',
    help: 'data-quality rates of this month (docs/quality.md): compliance 数据合规率, uscc_error 统一社会信用代码错码率, required_fill 必填字段完整率, correction 纠正率',
    labelNames: ['indicator'],
    registers: [registry],
    async collect() {
      const now = clock();
      const r = await nodeQuality(db, { nodeId, now, month: monthInChina(now.toISOString()) });
      this.reset();
      for (const [k, label] of Object.entries(HEADLINE)) {
        const v = r.totals.indicators[k as keyof typeof HEADLINE];
        if (v !== null) this.set({ indicator: label }, v);
      }
    },
  });
}
