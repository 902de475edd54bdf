/**
 * POST /v1/batches: a node's batch in, a signed receipt out. Crypto and catalog checks happen
 * before the transaction; inside ONE transaction: replay → out of order → gap → stale timestamp,
 * the seq claimed (compare-and-set), records upserted in multi-row chunks, withdrawals applied,
 * the receipt sealed and stored with the envelope id, the node's counters, the distribution rows
 * (on PostgreSQL they take the feed's ordering lock) and, last, the audit entry (audit/log.ts: the
 * audit lock is taken after every database lock).
 * A batch refused by policy (internal or over-grade class, malformed payload) still consumes its
 * seq and stores a 'refused' receipt, so the node's outbox moves on.
 *
 * Nodes keep two batches in flight (seq n and n + 1). The second is opened and checked while the
 * first is in its transaction, and starts its own transaction only once the first has finished in
 * this process, so its claim sees seq n. Across hub processes on one PostgreSQL (issue 22) the
 * order goes through the database: each batch transaction first takes the node's stream lock
 * (advisory lock STREAM_LOCK_CLASS, hash of the node id), so n + 1 waits for n's transaction at
 * another process and then reads seq n; and n + 1 that finds exactly n missing waits (up to
 * GAP_WAIT_MS, outside any transaction) for n to be committed anywhere and claims again. Only when
 * n does not come does n + 1 answer ERR_SEQUENCE_GAP, and the node sends it again.
 * ERR_SEQUENCE_GAP and ERR_OUT_OF_ORDER with the hub's last seq carry the hub's signed refusal
 * (`details.refusal`, protocol 1.2, hub/seq-refusal.ts): a node resynchronises only on that.
 */
import { answerKeys } from './answer-keys.js';
import type { Knex } from 'knex';
import { engineOf } from '../audit/knex-connect.js';
import { HUB_NODE_ID } from '../certs/issue.js';
import { CreditError, protocolError } from '../protocol/errors.js';
import type { Classification } from '../protocol/classification.js';
import { BATCH_SCHEMA, type BatchPayload, type ReceiptPayload, type WireVersion } from '../protocol/exchange.js';
import { checkTimestamp } from '../protocol/freshness.js';
import { seal } from '../protocol/seal.js';
import type { Envelope, EnvelopeHeader } from '../protocol/envelope.js';
import type { Peer } from './client-check.js';
import type { HubDeps } from './context.js';
import { answerFields } from '../audit/evidence-record.js';
import { openFrom, type Incoming } from './envelope-in.js';
import { keepReceived, keepSent } from './evidence-log.js';
import { envelopesStore } from './envelopes-store.js';
import { syncProvinceCatalog } from './catalog-service.js';
import { checkRecords, classDenials, loweredClass, type Rejection } from './intake-policy.js';
import { nodesStore } from './nodes-store.js';
import { recordsStore, type DistributionRow, type HubRecordRow } from './records-store.js';
import { recordBatchQuality } from './quality-intake.js';
import { isDistributed } from './release-policy.js';
import { seqRefusals } from './seq-refusal.js';

export const BATCH_STREAM = 'batch';
/** First key of the PostgreSQL advisory lock on one node's batch stream (the second: hashtext(node id)). */
export const STREAM_LOCK_CLASS = 430_000_003;
/** How long seq n + 1 waits for seq n to be committed by another hub process before ERR_SEQUENCE_GAP. */
export const GAP_WAIT_MS = 2000;

export interface IntakeService {
  /** The sealed receipt; throws ERR_REPLAY / refusal codes with `details.receipt`. */
  receive(peer: Peer, raw: string): Promise<Envelope>;
  /** The seqs of `nodeId`'s batches opened in this process and not yet finished (waiting or in their transaction). */
  inProgress(nodeId: string): number[];
}

type Outcome = { kind: 'receipt'; receipt: Envelope; payload: ReceiptPayload } | { kind: 'replay'; stored: string | null } | { kind: 'refused'; receipt: Envelope; code: string; message: string };

/** A refusal or replay answered with the receipt the hub stored for it. */
function withReceipt(code: string, message: string, details: Record<string, unknown>, receipt: unknown): CreditError {
  return new CreditError(code, message, { ...details, receipt });
}

/** Batches in progress in this process, per node: seq → settles when its transaction has ended. */
class InProgress {
  private readonly byNode = new Map<string, Map<number, Promise<void>>>();

  seqs(nodeId: string): number[] {
    return [...(this.byNode.get(nodeId)?.keys() ?? [])].sort((a, b) => a - b);
  }

  /** Registers (node, seq); `done` must be called when its transaction has ended, whatever the outcome. */
  enter(nodeId: string, seq: number): { before: Promise<void> | undefined; done: () => void } {
    let m = this.byNode.get(nodeId);
    if (!m) this.byNode.set(nodeId, (m = new Map()));
    const before = m.get(seq - 1);
    let done!: () => void;
    const p = new Promise<void>((resolve) => (done = resolve));
    const mine = m;
    if (!m.has(seq)) m.set(seq, p);
    return {
      before,
      done: () => {
        done();
        if (mine.get(seq) === p) mine.delete(seq);
        if (mine.size === 0 && this.byNode.get(nodeId) === mine) this.byNode.delete(nodeId);
      },
    };
  }
}

export function intakeService(deps: HubDeps): IntakeService {
  const { db, config, identity } = deps;
  const inProgress = new InProgress();
  const pg = engineOf(db) === 'pg';
  const refusals = seqRefusals(deps);

  /** After ERR_SEQUENCE_GAP with only seq − 1 missing: waits until another process commits it (true) or GAP_WAIT_MS pass (false). */
  async function waitForPrevious(nodeId: string, seq: number): Promise<boolean> {
    const end = Date.now() + GAP_WAIT_MS;
    for (let pause = 10; Date.now() < end; pause = Math.min(pause * 2, 100)) {
      await new Promise((r) => setTimeout(r, pause));
      if ((await envelopesStore.lastSeq(db, nodeId, BATCH_STREAM)) >= seq - 1) return true;
    }
    return false;
  }

  /** The last gap audited per node in this process (its `expected`): a node retrying refused batches, whatever their seqs, is audited once per gap. */
  const gapsAudited = new Map<string, string>();

  /**
   * A batch refused ERR_SEQUENCE_GAP, audited as 'batch.gap' with the seq presented and the seq
   * expected: after a failover or restore that lost this node's last batches, the node sends them
   * again (node/exchange/resync.ts reopenFrom, 'batch.resync.hub' in its log), and this entry is the
   * hub's side of it; a batch that merely overtook the one before it on the way shows here too, and
   * is followed by that one's 'batch.receive'.
   */
  async function auditGap(peer: Peer, seq: number, expected: number): Promise<void> {
    const key = String(expected);
    if (gapsAudited.get(peer.nodeId) === key) return;
    gapsAudited.set(peer.nodeId, key);
    await deps.audit.record({ action: 'batch.gap', actor: `node:${peer.nodeId}`, actorNode: peer.nodeId, object: `node:${peer.nodeId} seq=${seq}`, outcome: 'failure', reason: `ERR_SEQUENCE_GAP seq=${seq} expected=${expected} hubLastSeq=${expected - 1}` });
  }

  // the receipt names the batch it answers (id and digest) in its signed header: the exchange log pairs them offline
  const sealReceipt = (peer: Peer, header: EnvelopeHeader, payload: ReceiptPayload) =>
    seal({ type: 'receipt', from: HUB_NODE_ID, to: peer.nodeId, seq: header.seq, payload, ...answerKeys(deps, peer, header), suites: config.suites, extra: answerFields(header.id, payload.digest) });

  /** Replay → out of order → gap → stale, then claims the seq. Returns the stored answer of a replay. */
  async function claim(trx: Knex.Transaction, peer: Peer, header: EnvelopeHeader, now: Date): Promise<{ replay: string | null } | null> {
    // the node's stream lock, first of this transaction's locks: batches of one node, one at a time, in every process
    if (pg) await trx.raw('select pg_advisory_xact_lock(?, hashtext(?))', [STREAM_LOCK_CLASS, peer.nodeId]);
    const seen = await envelopesStore.find(trx, header.id);
    if (seen) return { replay: seen.fromNode === peer.nodeId ? seen.response : null };
    const last = await envelopesStore.lastSeq(trx, peer.nodeId, BATCH_STREAM);
    if (header.seq <= last) {
      // On PostgreSQL each statement sees what committed before it: the same batch, sent twice, may
      // have committed between the look-up above and this read. Then it is a replay, not out of order.
      const committed = await envelopesStore.find(trx, header.id);
      if (committed) return { replay: committed.fromNode === peer.nodeId ? committed.response : null };
      throw protocolError('ERR_OUT_OF_ORDER', `batch seq ${header.seq} is not above the last accepted seq ${last}`, { lastSeq: last, seq: header.seq });
    }
    if (header.seq > last + 1) throw protocolError('ERR_SEQUENCE_GAP', `batch seq ${header.seq} skips ahead: expected ${last + 1}`, { expected: last + 1, seq: header.seq });
    checkTimestamp(header.ts, { now, windowMs: config.windowMs });
    if (!(await envelopesStore.claim(trx, peer.nodeId, BATCH_STREAM, header.seq))) {
      // another request took this seq first: the same batch (replay) or a different one
      const again = await envelopesStore.find(trx, header.id);
      if (again) return { replay: again.fromNode === peer.nodeId ? again.response : null };
      throw protocolError('ERR_OUT_OF_ORDER', `batch seq ${header.seq} was just taken by another batch`, { seq: header.seq });
    }
    return null;
  }

  return {
    inProgress: (nodeId) => inProgress.seqs(nodeId),
    async receive(peer, raw) {
      const inc = await openFrom<BatchPayload>(deps, peer, raw, { type: 'batch', schema: BATCH_SCHEMA });
      const turn = inProgress.enter(peer.nodeId, inc.header.seq);
      try {
        return await receiveOpened(peer, inc, turn.before);
      } finally {
        turn.done();
      }
    },
  };

  async function receiveOpened(peer: Peer, inc: Incoming<BatchPayload>, before: Promise<void> | undefined): Promise<Envelope> {
    const { header, digest, payload, problems } = inc;
    const batchId = header.id;
    const versions = problems.length === 0 ? (payload.versions ?? []) : [];
    const denied = problems.length === 0 ? classDenials([...payload.records, ...versions], peer.grade) : [];
    const refusal: { code: string; message: string; rejected: Rejection[] } | null =
      problems.length > 0
        ? { code: 'ERR_ENVELOPE_MALFORMED', message: `batch payload: ${problems.slice(0, 20).map((p) => `${p.field} ${p.message}`).join('; ')}`, rejected: [] }
        : denied.length > 0
          ? { code: 'ERR_CLASSIFICATION_DENIED', message: `batch refused: ${denied.length} record(s) of a class this node may not publish (${denied[0]!.message})`, rejected: denied }
          : null;
    if (!refusal && payload.records.length > 0) await syncProvinceCatalog(deps); // the operator may have published since the last batch
    const checked = refusal ? { valid: [], rejected: [] } : checkRecords(payload.records, peer.nodeId);
    const checkedVersions = refusal ? { valid: [], rejected: [] } : checkRecords(versions, peer.nodeId);

    const items = new Map<string, { type: string; fields: Record<string, unknown> }>();
    for (const r of [...(Array.isArray(payload?.records) ? payload.records : []), ...(Array.isArray(payload?.versions) ? payload.versions : [])]) if (r && typeof r.id === 'string' && !items.has(r.id)) items.set(r.id, { type: r.type, fields: r.fields });

    // the batch before this one, still in its transaction here: its claim must come first
    if (before) await before;
    const gapExpected = (e: unknown) => ((e as CreditError).code === 'ERR_SEQUENCE_GAP' ? Number((e as CreditError).details && (e as { details: { expected?: unknown } }).details.expected) : NaN);
    // a gap audited; a seq refusal answered with the hub's signed word (hub/seq-refusal.ts)
    const refuse = async (e: unknown): Promise<never> => {
      const expected = gapExpected(e);
      if (Number.isSafeInteger(expected)) await auditGap(peer, header.seq, expected);
      throw await refusals.answer(peer, inc, e);
    };
    const outcome = await inTransaction().catch(async (e: unknown) => {
      // n + 1 here while n is still on its way through another hub process: wait for it once
      if (pg && gapExpected(e) === header.seq - 1 && (await waitForPrevious(peer.nodeId, header.seq))) return inTransaction().catch(refuse);
      return refuse(e);
    });
    function inTransaction(): Promise<Outcome> {
      return db.transaction(async (trx): Promise<Outcome> => {
        const now = deps.clock();
        const receivedAt = now.toISOString();
        const replay = await claim(trx, peer, header, now);
        if (replay) return { kind: 'replay', stored: replay.replay };
        const base = { batchId, digest, seq: header.seq, receivedAt };

        if (refusal) {
          const receiptPayload: ReceiptPayload = { ...base, outcome: 'refused', code: refusal.code, accepted: [], rejected: refusal.rejected, withdrawn: [], ...(payload.versions ? { versioned: [] } : {}) };
          const receipt = await sealReceipt(peer, header, receiptPayload);
          await envelopesStore.insert(trx, { id: batchId, fromNode: peer.nodeId, type: 'batch', seq: header.seq, ts: header.ts, digest, receivedAt, outcome: 'refused', code: refusal.code, response: JSON.stringify(receipt) });
          await nodesStore.count(trx, peer.nodeId, receivedAt, { batchesIn: 1 });
          await recordBatchQuality(trx, { node: peer.nodeId, batchId, sentAt: header.ts, receivedAt, ok: false, items, rejected: [...items.keys()].map((id) => ({ id, code: refusal.code })), accepted: [] });
          await keepReceived(trx, inc, receivedAt);
          await keepSent(trx, receipt, receivedAt);
          await deps.audit.recordIn(trx, { action: 'batch.receive', actor: `node:${peer.nodeId}`, actorNode: peer.nodeId, object: batchId, outcome: 'failure', reason: `${refusal.code} seq=${header.seq} digest=${digest} receipt=${receipt.id}` });
          return { kind: 'refused', receipt, code: refusal.code, message: refusal.message };
        }

        const rejected: Rejection[] = [...checked.rejected, ...checkedVersions.rejected];
        // Records are keyed by (source node, id): only the sender's own are looked at or written, so
        // no node can take, block or shadow another node's record, whatever id it uses.
        const held = await recordsStore.held(trx, peer.nodeId, [...checked.valid.map((c) => c.wire.id), ...checkedVersions.valid.map((c) => c.wire.id), ...payload.withdrawals.map((w) => w.id)]);
        const rows: HubRecordRow[] = [];
        const dist: DistributionRow[] = [];
        const mine = new Map<string, Classification>(); // id → class, of the sender's records known after this batch's records
        for (const [id, h] of held) mine.set(id, h.classification);
        for (const c of checked.valid) {
          const before = held.get(c.wire.id);
          const lowered = before ? loweredClass(c.wire.id, before.classification, c.classification) : null;
          if (lowered) {
            rejected.push(lowered);
            continue;
          }
          rows.push({ id: c.wire.id, sourceNode: peer.nodeId, type: c.wire.type, classification: c.classification, subject: c.subject, fields: c.fields, catalogVersion: c.catalogVersion, createdAt: c.wire.createdAt, updatedAt: c.wire.updatedAt, receivedAt, batchId, version: Math.max(c.wire.version ?? 1, before?.version ?? 1) });
          if (isDistributed(c.classification)) dist.push({ kind: 'record', sourceNode: peer.nodeId, recordId: c.wire.id, classification: c.classification, reason: null, at: null, createdAt: receivedAt });
          if (before && before.classification !== c.classification && isDistributed(before.classification)) {
            // raised: an item queued at the earlier class reaches every node that may hold the earlier
            // copy; served on the current class, it is a tombstone to those whose grade is now too low
            dist.push({ kind: 'withdrawal', sourceNode: peer.nodeId, recordId: c.wire.id, classification: before.classification, reason: 'reclassified', at: receivedAt, createdAt: receivedAt });
          }
          mine.set(c.wire.id, c.classification);
        }
        // versions (corrections, protocol 1.1): above the version held (a record the hub never held
        // is taken as new), the class raised or kept, the status the source node gives
        const versioned: string[] = [];
        for (const c of checkedVersions.valid) {
          const wire = c.wire as WireVersion;
          const before = held.get(wire.id);
          const inBatch = rows.find((r) => r.id === wire.id);
          const heldVersion = Math.max(before?.version ?? 0, inBatch?.version ?? 0);
          if (wire.version <= heldVersion) {
            rejected.push({ id: wire.id, code: 'ERR_RECORD_CONFLICT', message: `version ${wire.version} of record ${wire.id} is not above the version the hub holds (${heldVersion})` });
            continue;
          }
          const heldClass = inBatch?.classification ?? before?.classification;
          const lowered = heldClass ? loweredClass(wire.id, heldClass, c.classification) : null;
          if (lowered) {
            rejected.push(lowered);
            continue;
          }
          rows.push({ id: wire.id, sourceNode: peer.nodeId, type: wire.type, classification: c.classification, subject: c.subject, fields: c.fields, catalogVersion: c.catalogVersion, createdAt: wire.createdAt, updatedAt: wire.updatedAt, receivedAt, batchId, version: wire.version, status: wire.status });
          versioned.push(wire.id);
          if (isDistributed(c.classification)) dist.push({ kind: 'record', sourceNode: peer.nodeId, recordId: wire.id, classification: c.classification, reason: null, at: null, createdAt: receivedAt });
          if (heldClass && heldClass !== c.classification && isDistributed(heldClass)) {
            dist.push({ kind: 'withdrawal', sourceNode: peer.nodeId, recordId: wire.id, classification: heldClass, reason: 'reclassified', at: receivedAt, createdAt: receivedAt });
          }
          mine.set(wire.id, c.classification);
        }
        await recordsStore.upsert(trx, rows);
        const itemRejections = [...rejected]; // before the withdrawals' (not submitted items)

        const withdrawn: { id: string; reason: string; at: string }[] = [];
        for (const w of payload.withdrawals) {
          const cls = mine.get(w.id);
          if (cls === undefined) {
            rejected.push({ id: w.id, code: 'ERR_RECORD_UNKNOWN', message: `record ${w.id} was never published to the hub by ${peer.nodeId}` });
            continue;
          }
          withdrawn.push(w);
          if (isDistributed(cls)) dist.push({ kind: 'withdrawal', sourceNode: peer.nodeId, recordId: w.id, classification: cls, reason: w.reason, at: w.at, createdAt: receivedAt });
        }
        await recordsStore.withdraw(trx, peer.nodeId, withdrawn);

        const versionedSet = new Set(versioned);
        const receiptPayload: ReceiptPayload = {
          ...base, outcome: 'accepted', accepted: rows.filter((r) => r.status === undefined && !versionedSet.has(r.id)).map((r) => r.id), rejected: rejected.map(({ id, code, message }) => ({ id, code, message })), withdrawn: withdrawn.map((w) => w.id),
          ...(payload.versions ? { versioned } : {}),
        };
        const receipt = await sealReceipt(peer, header, receiptPayload);
        if (!(await envelopesStore.insert(trx, { id: batchId, fromNode: peer.nodeId, type: 'batch', seq: header.seq, ts: header.ts, digest, receivedAt, outcome: 'accepted', code: null, response: JSON.stringify(receipt) }))) {
          throw protocolError('ERR_REPLAY', `envelope ${batchId} has been seen before`, { id: batchId });
        }
        await nodesStore.count(trx, peer.nodeId, receivedAt, { batchesIn: 1, recordsIn: rows.length });
        await recordBatchQuality(trx, { node: peer.nodeId, batchId, sentAt: header.ts, receivedAt, ok: true, items, rejected: itemRejections, accepted: rows.map((r) => ({ id: r.id, type: r.type, fields: r.fields, first: !held.has(r.id), ...(r.status ? { status: r.status } : {}) })), withdrawn: withdrawn.map((w) => w.id) });
        // the feed's ordering lock before the audit lock: the audit entry is always the last write (audit/log.ts)
        await recordsStore.distribute(trx, dist);
        await keepReceived(trx, inc, receivedAt);
        await keepSent(trx, receipt, receivedAt);
        await deps.audit.recordIn(trx, {
          action: 'batch.receive', actor: `node:${peer.nodeId}`, actorNode: peer.nodeId, object: batchId, outcome: 'success',
          reason: `seq=${header.seq} accepted=${rows.length - versioned.length} versioned=${versioned.length} rejected=${rejected.length} withdrawn=${withdrawn.length} digest=${digest} receipt=${receipt.id}`,
        });
        return { kind: 'receipt', receipt, payload: receiptPayload };
      });
    }

    const m = deps.metrics;
    if (outcome.kind === 'replay') {
      const message = `batch ${batchId} has already been processed; details.receipt is the receipt it got`;
      if (outcome.stored === null) throw protocolError('ERR_REPLAY', `envelope ${batchId} has been seen before`, { id: batchId });
      throw withReceipt('ERR_REPLAY', message, { id: batchId }, JSON.parse(outcome.stored) as unknown);
    }
    if (outcome.kind === 'refused') {
      m.batches.inc({ outcome: 'refused' });
      const details = outcome.code === 'ERR_ENVELOPE_MALFORMED' ? { problems } : { records: denied.map((d) => d.id) };
      throw withReceipt(outcome.code, outcome.message, details, outcome.receipt);
    }
    // committed: the rows it added count towards the next ANALYZE (PostgreSQL; hub/planner-stats.ts)
    deps.plannerStats?.grew(outcome.payload.accepted.length + (outcome.payload.versioned?.length ?? 0));
    m.batches.inc({ outcome: 'accepted' });
    m.records.inc({ outcome: 'accepted' }, outcome.payload.accepted.length);
    m.records.inc({ outcome: 'rejected' }, outcome.payload.rejected.length);
    m.records.inc({ outcome: 'withdrawn' }, outcome.payload.withdrawn.length);
    return outcome.receipt;
  }
}
