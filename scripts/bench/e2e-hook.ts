/**
 * PLACEHOLDER HOOK in the scenario registry for the end-to-end exchange and province-wide query
 * figures of issue #7 (e2e_rps, query_p50_ms, query_p99_ms, query_vs_raw). It measures nothing:
 * the bench skips it with a note, and those keys stay null in the JSON line.
 *
 * The scenario itself belongs to the exchange work: scripts/bench/exchange.ts (`exchangeScenario`,
 * written alongside the hub, not registered yet). To wire it, replace `e2eHook` in scenarios.ts
 * with that scenario once hub/ and the node's exchange have landed and its --quick size fits the
 * one-minute quick run. The CLI then derives e2e_vs_naive (e2e_rps / naive_rps) and e2e_vs_insert
 * (e2e_rps / raw_insert_rps) from the same run by itself (report.ts).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { BenchResult, Scenario } from './scenario.js';

const HUB_DIR = fileURLToPath(new URL('../../hub/', import.meta.url));

export const e2eHook: Scenario = {
  name: 'e2e',
  unavailable() {
    if (!existsSync(HUB_DIR)) return 'hub/ does not exist yet; e2e_rps and query_* stay null';
    return 'placeholder hook: the exchange scenario (scripts/bench/exchange.ts) is not registered yet; e2e_rps and query_* stay null';
  },
  async run(): Promise<BenchResult[]> {
    return [];
  },
};
