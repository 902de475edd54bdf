/**
 * What must hold after every fault, read straight from the SQLite files of the hub and the nodes:
 * each record exactly once at the source node, at the hub (by id and by natural key) and at every
 * receiving node; every receipt the source node stored is the very envelope the hub recorded for
 * that batch (hub_envelopes), and its accepted ids are the records the hub holds from that batch;
 * every batch the hub took from the node has its receipt at the node; and the audit logs verify
 * offline against the CA (a consistent copy of each store is taken with VACUUM INTO, a checkpoint
 * is signed over the copy's newest entry with the owner's key, and the bundle is verified).
 */
import { dirname, join } from 'node:path';
import { hubRecordContext } from '../../hub/at-rest.js';
import { fileKeyWrapper, readKeyring } from '../../server/at-rest-keys.js';
import { attachKeyring, openRecord } from '../../server/at-rest-store.js';
import { readFileSync, rmSync } from 'node:fs';
import type { Knex } from 'knex';
import { exportBundle, toNdjson, verifyBundle } from '../../audit/index.js';
import { connect } from '../../audit/knex-connect.js';
import { canonicalize } from '../../protocol/canonical-json.js';
import { caTrust } from '../../protocol/ca-trust.js';
import { naturalKey } from '../../protocol/catalog.js';
import type { Classification } from '../../protocol/classification.js';
import type { ReceiptPayload } from '../../protocol/exchange.js';
import { open } from '../../protocol/open.js';
import type { Cluster } from './cluster.js';

type Row = Record<string, unknown>;

export async function withDb<T>(file: string, fn: (db: Knex) => Promise<T>): Promise<T> {
  const db = await connect(file);
  try {
    return await fn(db);
  } finally {
    await db.destroy();
  }
}

/** A transactionally consistent copy of a live SQLite store (the owner keeps running). */
export async function snapshot(file: string, to: string): Promise<string> {
  rmSync(to, { force: true });
  await withDb(file, (db) => db.raw('VACUUM INTO ?', [to]));
  return to;
}

export interface AuditCheck {
  ok: boolean;
  entries: number;
  checkpoints: number;
  cosignatures: number;
  code?: string;
  reason?: string;
}

/**
 * Verifies a store's whole audit log as an auditor would (`credit audit export --key --cert` then
 * `credit audit verify --ca`), on a snapshot so the live store is not written to.
 */
export async function checkAudit(dbFile: string, signer: { nodeId: string; keyFile: string; certFile: string }, caPem: string, scratch: string): Promise<AuditCheck> {
  const copy = await snapshot(dbFile, join(scratch, `audit-${signer.nodeId}.sqlite`));
  try {
    const lines = await withDb(copy, async (db) => (await exportBundle(db, { signer: { nodeId: signer.nodeId, keyPem: readFileSync(signer.keyFile, 'utf8'), certPem: readFileSync(signer.certFile, 'utf8') } })).lines);
    const r = await verifyBundle(toNdjson(lines), caPem);
    return { ok: r.ok, entries: r.entries, checkpoints: r.checkpoints, cosignatures: r.cosignatures, ...(r.code ? { code: r.code } : {}), ...(r.reason ? { reason: r.reason } : {}) };
  } finally {
    rmSync(copy, { force: true });
  }
}

export interface ReceiverCensus {
  id: string;
  expected: number;
  held: number;
  missing: number;
  duplicates: number;
}

export interface Census {
  /** The source node's own records, and those it may send (all but internal at grade 3). */
  nodeOwn: number;
  nodeSendable: number;
  /** Natural keys held twice at the node (its unique index should make this 0). */
  nodeDuplicates: number;
  hubRecords: number;
  /** Records held twice at the hub: the same natural key under two ids. */
  hubDuplicates: number;
  /** Sendable records of the node the hub does not hold, and hub records the node does not have. */
  missingAtHub: number;
  unknownAtHub: number;
  receipts: number;
  receiptsMatched: number;
  /** Ids listed as accepted in more than one receipt. */
  acceptedTwice: number;
  /** Batches the hub recorded from the node that have no receipt at the node. */
  hubBatchesWithoutReceipt: number;
  problems: string[];
  receivers: ReceiverCensus[];
}

const DISTRIBUTED_BY_GRADE: Record<number, Classification[]> = { 1: ['public'], 2: ['public', 'shared'], 3: ['public', 'shared'], 4: ['public', 'shared'] };

/** Opens a receipt with the first of the node's keys (old keys after a renewal or re-enrolment) that decrypts it. */
async function openReceipt(raw: string, nodeId: string, keyPems: readonly string[], trust: ReturnType<typeof caTrust>): Promise<ReceiptPayload> {
  let last: unknown;
  for (const keyPem of keyPems) {
    try {
      const o = await open<ReceiptPayload>(JSON.parse(raw), { recipient: { nodeId, keyPem }, trust, freshness: false });
      if (o.signer.nodeId !== '430000') throw new Error(`receipt signed by ${o.signer.nodeId}`);
      return o.payload;
    } catch (e) {
      last = e;
    }
  }
  throw last;
}

/**
 * Counts everything the invariants speak of for records from `source`. `keyPems`: the source
 * node's keys, newest first (receipts are encrypted to the key the node had when it sent).
 */
export async function census(cluster: Cluster, source: string, receivers: readonly string[], keyPems: readonly string[]): Promise<Census> {
  const problems: string[] = [];
  const trust = caTrust({ caCertPems: [readFileSync(cluster.caCertFile, 'utf8')] });

  const node = await withDb(cluster.nodeDb(source), async (db) => {
    const own = (await db('node_records').where({ source_node: source }).select('id', 'class')) as Row[];
    const dup = (await db('node_records').select('source_node', 'natural_key').count({ n: '*' }).groupBy('source_node', 'natural_key').having(db.raw('count(*) > 1'))) as Row[];
    const batches = (await db('node_batches').whereNotNull('receipt').select('id', 'seq', 'status', 'receipt')) as Row[];
    return { own, dup: dup.length, batches };
  });
  const sendable = new Set(node.own.filter((r) => r.class !== 'internal').map((r) => String(r.id)));
  const ownIds = new Set(node.own.map((r) => String(r.id)));

  const hub = await withDb(cluster.hubDb, async (db) => {
    // rows are sealed at rest under the hub's data key (docs/at-rest.md), next to its store
    attachKeyring(db, await readKeyring(join(dirname(cluster.hubDb), 'data.key'), fileKeyWrapper));
    const recs = ((await db('hub_records').where({ source_node: source }).select('id', 'source_node', 'type', 'class', 'fields', 'batch_id')) as Row[]).map((r): Row => ({ ...r, fields: JSON.stringify(openRecord(db, hubRecordContext(source, String(r.id)), r).fields) }));
    const envs = (await db('hub_envelopes').where({ from_node: source, type: 'batch' }).select('id', 'seq', 'outcome', 'response')) as Row[];
    return { recs, envs };
  });
  const keys = new Set<string>();
  let hubDuplicates = 0;
  const byBatch = new Map<string, string[]>();
  const hubIds = new Set<string>();
  for (const r of hub.recs) {
    const k = naturalKey({ type: String(r.type), fields: JSON.parse(String(r.fields)) as Record<string, unknown> });
    if (keys.has(k)) hubDuplicates++;
    keys.add(k);
    hubIds.add(String(r.id));
    const b = String(r.batch_id);
    byBatch.set(b, [...(byBatch.get(b) ?? []), String(r.id)]);
  }
  hubDuplicates += hub.recs.length - hubIds.size;
  const missingAtHub = [...sendable].filter((id) => !hubIds.has(id)).length;
  const unknownAtHub = [...hubIds].filter((id) => !ownIds.has(id)).length;

  const hubEnv = new Map(hub.envs.map((e) => [String(e.id), e]));
  const accepted = new Set<string>();
  let acceptedTwice = 0;
  let matched = 0;
  for (const b of node.batches) {
    const id = String(b.id);
    const h = hubEnv.get(id);
    if (!h) {
      problems.push(`batch ${id} (seq ${String(b.seq)}): a receipt at the node, no such batch at the hub`);
      continue;
    }
    const issues: string[] = [];
    if (String(h.outcome) !== String(b.status)) issues.push(`outcome ${String(b.status)} at the node, ${String(h.outcome)} at the hub`);
    if (Number(h.seq) !== Number(b.seq)) issues.push(`seq ${String(b.seq)} at the node, ${String(h.seq)} at the hub`);
    if (h.response === null || canonicalize(JSON.parse(String(h.response))) !== String(b.receipt)) issues.push('the stored receipt is not the envelope the hub recorded');
    let payload: ReceiptPayload | undefined;
    try {
      payload = await openReceipt(String(b.receipt), source, keyPems, trust);
    } catch (e) {
      issues.push(`receipt does not open: ${(e as { code?: string }).code ?? (e as Error).message}`);
    }
    if (payload) {
      if (payload.batchId !== id || payload.seq !== Number(b.seq)) issues.push(`receipt is for ${payload.batchId} seq ${payload.seq}`);
      const want = [...payload.accepted].sort();
      const got = [...(byBatch.get(id) ?? [])].sort();
      if (want.join() !== got.join()) issues.push(`receipt accepts ${want.length} ids, the hub holds ${got.length} from this batch`);
      for (const a of payload.accepted) {
        if (accepted.has(a)) acceptedTwice++;
        accepted.add(a);
      }
    }
    if (issues.length) problems.push(`batch ${id} (seq ${String(b.seq)}): ${issues.join('; ')}`);
    else matched++;
  }
  const receiptIds = new Set(node.batches.map((b) => String(b.id)));
  const hubBatchesWithoutReceipt = hub.envs.filter((e) => !receiptIds.has(String(e.id))).length;
  if (hubBatchesWithoutReceipt) problems.push(`${hubBatchesWithoutReceipt} batch(es) at the hub without a receipt at the node`);

  const out: ReceiverCensus[] = [];
  for (const rid of receivers) {
    const grade = cluster.node(rid).grade;
    const classes = DISTRIBUTED_BY_GRADE[grade] ?? [];
    const expected = new Set(hub.recs.filter((r) => classes.includes(r.class as Classification)).map((r) => String(r.id)));
    const held = await withDb(cluster.nodeDb(rid), async (db) => ((await db('node_records').where({ source_node: source }).select('id')) as Row[]).map((r) => String(r.id)));
    const heldSet = new Set(held);
    out.push({ id: rid, expected: expected.size, held: held.length, missing: [...expected].filter((x) => !heldSet.has(x)).length, duplicates: held.length - heldSet.size });
  }

  return {
    nodeOwn: node.own.length, nodeSendable: sendable.size, nodeDuplicates: node.dup,
    hubRecords: hub.recs.length, hubDuplicates, missingAtHub, unknownAtHub,
    receipts: node.batches.length, receiptsMatched: matched, acceptedTwice, hubBatchesWithoutReceipt, problems, receivers: out,
  };
}

/** Records lost and records held twice, summed over every place a census looks. */
export function lostAndDuplicated(c: Census): { lost: number; duplicates: number } {
  return {
    lost: c.missingAtHub + c.receivers.reduce((s, r) => s + r.missing, 0),
    duplicates: c.nodeDuplicates + c.hubDuplicates + c.acceptedTwice + c.receivers.reduce((s, r) => s + r.duplicates, 0),
  };
}
