import type { Scenario } from './scenario.js';
import { importScenario } from './import.js';
// Each scenario lives in its own file here; add it to this list.
export const scenarios: Scenario[] = [importScenario];
