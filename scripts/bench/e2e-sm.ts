/**
 * Bench: the exchange (exchange.ts) on the national suite — an SM2 root beside the RSA one, the
 * node enrolled with an SM2 certificate (`credit node init` on a config whose hub.suites is ["SM"]),
 * hub and node with suites ["SM"] so every batch and receipt is CF1-SM2-SM4GCM-SM3, and both audit
 * logs on SM3 (as `credit demo --suite sm`). Same two processes, same prefilled outbox, same timing
 * by the hub's receipt times as e2e_rps; e2e_sm_vs_rsa (report.ts) is the ratio of the two.
 */
import { runExchange } from './exchange.js';
import { SM_SUITE } from '../../protocol/suites.js';
import type { BenchResult, Scenario } from './scenario.js';

/** Records of the SM run: as e2e's (BENCH_EXCHANGE_RECORDS overrides both), 1,000,000 or 20,000 with --quick. */
export function smRecords(quick: boolean): number {
  return Number(process.env.BENCH_EXCHANGE_RECORDS) || (quick ? 10_000 : 1_000_000);
}

export const e2eSmScenario: Scenario = {
  name: 'e2e-sm',
  async run({ quick, log }): Promise<BenchResult[]> {
    const n = smRecords(quick);
    const f = await runExchange({ records: n, queries: 0, sm: true, log });
    if (f.suites.join() !== SM_SUITE) throw new Error(`the hub kept batches and receipts in ${f.suites.join(', ')}, not only ${SM_SUITE}`);
    return [{ label: `end to end on the national suite CF1-SM2-SM4GCM-SM3 (${n} records)`, key: 'e2e_sm_rps', value: f.rps, unit: 'records/s', note: `SM2 certificates, SM audit logs; ${f.batches} batches in ${f.span.toFixed(1)} s` }];
  },
};
