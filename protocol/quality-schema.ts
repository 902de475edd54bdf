/** JSON Schemas of GET /v1/quality (node and hub): the query and the report (quality-report.ts). */
import { ALL_COUNTERS } from './quality-indicators.js';

const rate = { type: ['number', 'null'] } as const;
const indicators = {
  type: 'object',
  properties: Object.fromEntries(
    ['timelyRate', 'meanWorkingDays', 'complianceRate', 'usccErrorRate', 'requiredFillRate', 'optionalFillRate', 'conditionalFillRate', 'duplicateRate', 'correctionRate', 'exchangeSuccessRate', 'meanReceiptLatencyMs', 'objectionHandledRate', 'objectionTimelyRate', 'objectionMeanDays', 'objectionUpheldRate', 'repairMeanDays', 'repairTimelyRate']
      .map((k) => [k, rate] as [string, unknown])
      .concat(['accuracyFailures', 'duplicatesWithinNode', 'duplicatesAcrossNodes', 'overduePublic', 'objectionsOverdue', 'repairsOverdue'].map((k) => [k, { type: 'integer' }])),
  ),
} as const;
const counters = { type: 'object', properties: Object.fromEntries(ALL_COUNTERS.map((c) => [c, { type: 'integer' }])) } as const;

export const QUALITY_QUERY_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    month: { type: 'string', pattern: '^\\d{4}-(0[1-9]|1[0-2])$', description: 'YYYY-MM (China time); absent: every month summed' },
    node: { type: 'string', pattern: '^\\d{6}$', description: 'hub only: one node' },
  },
} as const;

export const QUALITY_REPORT_SCHEMA = {
  type: 'object',
  required: ['scope', 'issuer', 'generatedAt', 'totals', 'nodes', 'units'],
  properties: {
    scope: { type: 'string', enum: ['province', 'node'] },
    issuer: { type: 'string' },
    generatedAt: { type: 'string' },
    month: { type: ['string', 'null'] },
    node: { type: ['string', 'null'] },
    totals: { type: 'object', properties: { indicators, counters } },
    interconnection: { type: 'object', properties: { expected: { type: 'integer' }, seen: { type: 'integer' }, rate, missing: { type: 'array', items: { type: 'string' } } } },
    nodes: { type: 'array', items: { type: 'object', properties: { node: { type: 'string' }, name: { type: ['string', 'null'] }, indicators, counters } } },
    units: { type: 'array', items: { type: 'object', properties: { node: { type: 'string' }, unit: { type: 'string' }, type: { type: 'string' }, indicators, counters } } },
    ranking: { type: 'array', items: { type: 'object', properties: { rank: { type: 'integer' }, city: { type: 'string' }, name: { type: ['string', 'null'] }, indicators } } },
  },
} as const;
