import type { Scenario } from './scenario.js';
import { rawInsertScenario } from './raw-insert.js';
import { rawCryptoScenario } from './raw-crypto.js';
import { naiveScenario } from './naive.js';
import { sealOpenScenario } from './seal-open.js';
import { e2eHook } from './e2e-hook.js';
import { importScenario } from './import.js';
import { auditScenario } from './audit.js';

/**
 * Every scenario, in the order they run: the raw limits first (store, crypto, the naive exchange),
 * then what the project does on top of them. Each lives in its own file; add new ones here.
 * `e2e` is the placeholder hook for the e2e and query figures (see e2e-hook.ts).
 */
export const scenarios: Scenario[] = [rawInsertScenario, rawCryptoScenario, naiveScenario, sealOpenScenario, e2eHook, importScenario, auditScenario];
