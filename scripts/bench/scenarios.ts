import type { Scenario } from './scenario.js';
import { importScenario } from './import.js';
import { rawCryptoScenario } from './raw-crypto.js';
import { sealOpenScenario } from './seal-open.js';
import { auditScenario } from './audit.js';
// Each scenario lives in its own file here; add it to this list.
export const scenarios: Scenario[] = [rawCryptoScenario, sealOpenScenario, importScenario, auditScenario];
