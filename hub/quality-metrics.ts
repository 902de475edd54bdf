/**
 * Prometheus gauges of the province's headline quality rates for the current month (China time),
 * read from hub_quality_agg at scrape time: credit_hub_quality_rate{indicator} and, per node,
 * credit_hub_node_quality_rate{peer,indicator}. A rate without data is not exported.
 */
import type { Knex } from 'knex';
import { Gauge, type Registry } from 'prom-client';
import { monthInChina } from '../protocol/quality-facts.js';
import type { QualityIndicators } from '../protocol/quality-indicators.js';
import { provinceQuality } from './quality-service.js';

const HEADLINE: Partial<Record<keyof QualityIndicators, string>> = {
  complianceRate: 'compliance', timelyRate: 'timely', usccErrorRate: 'uscc_error', requiredFillRate: 'required_fill', duplicateRate: 'duplicate', correctionRate: 'correction', exchangeSuccessRate: 'exchange_success',
};

export function registerHubQualityGauges(registry: Registry, db: Knex, clock: () => Date): void {
  const report = () => {
    const now = clock();
    return provinceQuality(db, { now, month: monthInChina(now.toISOString()) });
  };
  new Gauge({
    name: 'credit_hub_quality_rate',
    help: 'province data-quality rates of this month (docs/quality.md): compliance, timely, uscc_error, required_fill, duplicate, correction, exchange_success, interconnection',
    labelNames: ['indicator'],
    registers: [registry],
    async collect() {
      const r = await report();
      this.reset();
      for (const [k, label] of Object.entries(HEADLINE)) {
        const v = r.totals.indicators[k as keyof QualityIndicators];
        if (typeof v === 'number') this.set({ indicator: label }, v);
      }
      if (typeof r.interconnection?.rate === 'number') this.set({ indicator: 'interconnection' }, r.interconnection.rate);
    },
  });
  new Gauge({
    name: 'credit_hub_node_quality_rate',
    help: 'data-quality rates of this month per node (docs/quality.md)',
    labelNames: ['peer', 'indicator'],
    registers: [registry],
    async collect() {
      const r = await report();
      this.reset();
      for (const n of r.nodes) {
        for (const [k, label] of Object.entries(HEADLINE)) {
          const x = n.indicators[k as keyof QualityIndicators];
          if (typeof x === 'number') this.set({ peer: n.node, indicator: label }, x);
        }
      }
    },
  });
}
