import type { Scenario } from './scenario.js';
import { rawInsertScenario } from './raw-insert.js';
import { rawCryptoScenario } from './raw-crypto.js';
import { naiveScenario } from './naive.js';
import { sealOpenScenario } from './seal-open.js';
import { exchangeScenario } from './exchange.js';
import { importScenario } from './import.js';
import { importXlsxScenario } from './import-xlsx.js';
import { auditScenario } from './audit.js';
import { schemaCheckScenario } from './schema-check.js';
import { qualityScenario } from './quality.js';
import { hubScaleScenario } from './hub-scale.js';
import { e2eSmScenario } from './e2e-sm.js';
import { e2ePgScenario } from './e2e-pg.js';
import { hubsPgScenario } from './hubs-pg.js';

/**
 * Every scenario, in the order they run: the raw limits first (store, crypto, the naive exchange),
 * then what the project does on top of them. Each lives in its own file; add new ones here.
 * `e2e` is the exchange itself (exchange.ts): node outbox → hub, and province-wide queries.
 */
export const scenarios: Scenario[] = [rawInsertScenario, rawCryptoScenario, naiveScenario, sealOpenScenario, exchangeScenario, importScenario, importXlsxScenario, auditScenario, schemaCheckScenario, qualityScenario];
// issues 23 (item 4) and 22: the exchange on the national suite and on PostgreSQL, 1 hub vs 2 hubs (PostgreSQL ones skipped without BENCH_PG_URL)
scenarios.push(e2eSmScenario, e2ePgScenario, hubsPgScenario);
// issue 22 item 3: hub_records at 10,000,000 rows (opt-in: BENCH_HUB_RECORDS)
scenarios.push(hubScaleScenario);
