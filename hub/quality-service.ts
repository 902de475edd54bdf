/**
 * The province view of data quality (issue 19): the report from the aggregate cells, the register
 * of expected nodes (the operator's, else the shipped Hunan list), nodes seen in the last 24 h.
 * Reads only hub_quality_agg, hub_nodes and hub_settings: its cost does not grow with the records.
 */
import type { Db } from '../audit/knex-connect.js';
import { HUNAN_EXPECTED_NODES, registerProblems, type ExpectedNode } from '../protocol/expected-nodes.js';
import { buildQualityReport, type QualityReport } from '../protocol/quality-report.js';
import { hubError } from './errors.js';
import { nodesStore } from './nodes-store.js';
import { qualityStore, registerStore } from './quality-store.js';
import { windowsStore } from './quality-windows.js';
import { todayInChina } from '../protocol/catalog-calendar.js';

export const SEEN_WITHIN_MS = 24 * 3600_000;

export async function expectedNodes(db: Db): Promise<{ nodes: ExpectedNode[]; source: 'operator' | 'default' }> {
  const own = await registerStore.get(db);
  return own ? { nodes: own as ExpectedNode[], source: 'operator' } : { nodes: [...HUNAN_EXPECTED_NODES], source: 'default' };
}

/** Replaces the register (null: back to the shipped list); ERR_QUALITY_REGISTER_INVALID names every problem. */
export async function setExpectedNodes(db: Db, list: unknown): Promise<void> {
  if (list !== null) {
    const problems = registerProblems(list);
    if (problems.length) throw hubError('ERR_QUALITY_REGISTER_INVALID', `互联互通应接入节点名录有误：${problems.slice(0, 5).join('; ')}`, { problems });
  }
  await registerStore.set(db, list as unknown[] | null);
}

export async function provinceQuality(db: Db, o: { now: Date; month?: string; node?: string }): Promise<QualityReport> {
  const cells = [...(await qualityStore.cells(db, o)), ...(await windowsStore.overdueCells(db, { today: todayInChina(o.now), ...(o.month ? { month: o.month } : {}), ...(o.node ? { node: o.node } : {}) }))];
  const register = await expectedNodes(db);
  const nodes = await nodesStore.list(db);
  const since = o.now.getTime() - SEEN_WITHIN_MS;
  const seen = new Set(nodes.filter((n) => n.status === 'active' && n.lastSeenAt !== null && Date.parse(n.lastSeenAt) >= since).map((n) => n.nodeId));
  const names = new Map<string, string>(register.nodes.map((n) => [n.code, n.name]));
  for (const n of nodes) if (n.name) names.set(n.nodeId, n.name);
  const expected = register.nodes.map((n) => n.code).filter((c) => !o.node || c === o.node);
  return buildQualityReport(cells, { scope: 'province', issuer: '430000', generatedAt: o.now.toISOString(), ...(o.month ? { month: o.month } : {}), ...(o.node ? { node: o.node } : {}), names, expected, seen });
}
