/**
 * What the simulation asserts once every node has drained and the hubs have stopped, read from the
 * stores themselves: every record a node holds as its own is at the hub exactly once (lost,
 * duplicates), every node holds every other node's records (distribution), and the hub's and every
 * node's audit log verify offline with only the CA certificate (the auditor's `credit audit verify`).
 */
import { join } from 'node:path';
import type { Knex } from 'knex';
import { exportBundle, toNdjson, verifyBundle } from '../../audit/index.js';
import { connect } from '../../audit/knex-connect.js';
import type { SimNode } from './province.js';

export interface StoreFigures {
  sent: number;
  atHub: number;
  lost: number;
  duplicates: number;
  distributionComplete: boolean;
  /** Per node: records held from the other nodes / expected. */
  short: string[];
  intakeRps: number | null;
}

const nodeFile = (n: SimNode) => join(n.dataDir, 'node.sqlite');

async function withNodeDb<T>(n: SimNode, fn: (db: Knex) => Promise<T>): Promise<T> {
  const db = await connect(nodeFile(n));
  try {
    return await fn(db);
  } finally {
    await db.destroy();
  }
}

/** Records node `n` holds from the other nodes (distinct ids), read beside the running node (SQLite WAL). */
export function receivedCount(n: SimNode): Promise<number> {
  return withNodeDb(n, async (db) => Number(((await db('node_records').whereNot({ source_node: n.id }).countDistinct({ c: 'id' }).first()) as { c: number | string }).c));
}

export async function storeFigures(hubDb: Knex, nodes: readonly SimNode[]): Promise<StoreFigures> {
  const ids = nodes.map((n) => n.id);
  const own = new Map<string, string[]>();
  for (const n of nodes) own.set(n.id, await withNodeDb(n, async (db) => (await db('node_records').where({ source_node: n.id }).select('id')).map((r: { id: string }) => r.id)));
  const sent = [...own.values()].reduce((s, l) => s + l.length, 0);
  let atHub = 0;
  let lost = 0;
  let duplicates = 0;
  for (const n of nodes) {
    const hubIds = (await hubDb('hub_records').where({ source_node: n.id }).select('id')).map((r: { id: string }) => r.id);
    const set = new Set(hubIds);
    atHub += set.size;
    duplicates += hubIds.length - set.size;
    lost += own.get(n.id)!.filter((id) => !set.has(id)).length;
  }
  const short: string[] = [];
  for (const n of nodes) {
    const expected = sent - own.get(n.id)!.length;
    const { rows, distinctKeys } = await withNodeDb(n, async (db) => {
      const q = () => db('node_records').whereNot({ source_node: n.id }).whereIn('source_node', ids);
      const c = (await q().count({ c: '*' }).first()) as { c: number | string };
      const k = (await q().select('source_node', 'natural_key').groupBy('source_node', 'natural_key')).length;
      return { rows: Number(c.c), distinctKeys: k };
    });
    duplicates += rows - distinctKeys;
    if (distinctKeys !== expected) short.push(`${n.id} ${distinctKeys}/${expected}`);
  }
  // intake: first to last accepted batch, by the hubs' own receipt times (start-up not counted)
  const span = (await hubDb('hub_envelopes').where({ type: 'batch', outcome: 'accepted' }).min({ first: 'received_at' }).max({ last: 'received_at' }).count({ n: '*' }).first()) as { first: string | null; last: string | null; n: number | string };
  const seconds = span.first && span.last ? (Date.parse(span.last) - Date.parse(span.first)) / 1000 : 0;
  const batches = Number(span.n);
  const intakeRps = seconds > 0 && batches > 1 ? (atHub * (batches - 1)) / batches / seconds : null; // the first batch arrived before the clock started
  return { sent, atHub, lost, duplicates, distributionComplete: short.length === 0, short, intakeRps };
}

/** The log's export bundle verified as an auditor would: only the CA certificate. */
async function verifyLog(db: Knex, caPem: string): Promise<string | null> {
  const bundle = await exportBundle(db);
  const r = await verifyBundle(toNdjson(bundle.lines), caPem);
  return r.ok ? null : `${r.code ?? ''} at seq ${String(r.seq)}: ${r.reason ?? ''}`;
}

/** Failures of the hub's and every node's audit log (empty: all verify). */
export async function auditFailures(hubDb: Knex, nodes: readonly SimNode[], caPem: string): Promise<string[]> {
  const out: string[] = [];
  const hub = await verifyLog(hubDb, caPem);
  if (hub) out.push(`hub: ${hub}`);
  for (const n of nodes) {
    const bad = await withNodeDb(n, (db) => verifyLog(db, caPem));
    if (bad) out.push(`${n.id}: ${bad}`);
  }
  return out;
}
