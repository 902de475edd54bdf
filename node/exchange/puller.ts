/**
 * The inbox: asks the hub for what it distributes to this node after the stored cursor, opens
 * the envelope, and applies its items and the new cursor in one transaction (audit
 * 'distribution.apply' with it). Applying is idempotent: a record already held (same id, or the
 * same natural key from the same source node) is skipped, a withdrawal of a record already withdrawn changes nothing, so a crash
 * between the hub's answer and the commit only means the same items come again. Received records
 * keep their id and source node and never enter the outbox (they are not this node's). The natural
 * key is unique per source node (migration 003), so a received record never blocks, shadows or
 * replaces a local one, nor one of another sender with the same key (issue 13).
 */
import type { Knex } from 'knex';
import type { AuditEvent } from '../../audit/types.js';
import { todayInChina } from '../../protocol/catalog-calendar.js';
import type { DistributionItem, DistributionPayload } from '../../protocol/exchange.js';
import type { HubConfig } from '../config.js';
import { nodeError } from '../errors.js';
import type { AuditWriter } from '../records-service.js';
import { recordsStore, WITHDRAW_REASONS, type StoredRecord, type WithdrawReason } from '../records-store.js';
import { ensureCatalogFor, type CatalogSync } from './catalog-sync.js';
import type { HubClient } from './hub-client.js';
import { HUB_NODE_ID } from '../../certs/issue.js';
import { createFeedMarks, markOf } from './feed-marks.js';
import { openFromHub } from './hub-envelopes.js';
import type { ExchangeIdentity } from './identity.js';
import type { Log } from './loop.js';
import { outboxStore } from './outbox-store.js';
import { evidenceFrom, type EnvelopeEvidence } from '../../audit/evidence-record.js';
import { keepEvidence } from './evidence-log.js';
import { replaceKept } from '../record-versions.js';
import { fromWire } from './wire.js';

export const CURSOR_KEY = 'inbox.cursor';
/** Items asked for per request (the hub caps it at MAX_DISTRIBUTION_ITEMS). */
export const PULL_LIMIT = 1000;

export interface PullerDeps {
  db: Knex;
  audit: AuditWriter;
  identity: ExchangeIdentity;
  client: () => HubClient;
  clock: () => Date;
  log: Log;
  hub: Pick<HubConfig, 'pollIntervalMs'>;
  /** Fetches the province catalog when a record needs a newer serial than the one held (catalog-sync.ts). */
  catalog?: Pick<CatalogSync, 'refresh'>;
  /** Rows a page added (node/planner-stats.ts counts them towards the next ANALYZE on PostgreSQL). */
  grew?: (rows: number) => void;
}

export interface ApplyResult {
  cursor: number;
  records: number;
  /** Copies replaced by a newer version (a correction by their owner). */
  versions: number;
  withdrawals: number;
  skipped: number;
}

function isDistribution(p: unknown): p is DistributionPayload {
  const d = p as DistributionPayload;
  return typeof d === 'object' && d !== null && Array.isArray(d.items) && Number.isSafeInteger(d.next) && typeof d.more === 'boolean';
}

export function createPuller(deps: PullerDeps) {
  const { db, audit, identity, clock, log } = deps;
  const nodeId = identity.nodeId;
  // the hub's marks of the cursors this node applied pages up to (migration 042), and the search after ERR_FEED_DIVERGED
  const marks = createFeedMarks({ db, audit, clock, log, table: 'node_feed_marks', cursorKey: CURSOR_KEY, action: 'distribution.rewind', feed: 'distribution feed' });

  async function cursor(): Promise<number> {
    return Number((await outboxStore.getState(db, CURSOR_KEY)) ?? 0);
  }

  /**
   * Applies the items of one distribution envelope and moves the cursor to `next`, all in one
   * transaction, with the hub's mark of `next` when it gave one.
   */
  async function apply(envelopeId: string, items: DistributionItem[], next: number, evidence?: EnvelopeEvidence, mark?: string): Promise<ApplyResult> {
    const today = todayInChina(clock());
    const at = clock().toISOString();
    return db.transaction(async (trx) => {
      let skipped = 0;
      const incoming: StoredRecord[] = [];
      for (const it of items) {
        if (it.kind !== 'record' || it.sourceNode === nodeId || it.record?.id === undefined) continue;
        const r = fromWire(it.record, it.sourceNode, today);
        if (r.ok) incoming.push(r.record);
        else skipped++;
      }
      const known = new Map<string, { sourceNode: string; version: number }>();
      for (let i = 0; i < incoming.length; i += 500) {
        const rows = (await trx('node_records').select('id', 'source_node', 'version').whereIn('id', incoming.slice(i, i + 500).map((r) => r.id))) as { id: string; source_node: string; version: number }[];
        for (const row of rows) known.set(row.id, { sourceNode: String(row.source_node), version: Number(row.version ?? 1) });
      }
      const fresh = incoming.filter((r) => !known.has(r.id));
      const inserted = await recordsStore.insertMany(trx, fresh);
      // a copy held at a lower version is replaced by the owner's correction (issue 15); an active
      // copy follows the owner's status (a record withdrawn for correction and corrected is active again)
      const events: AuditEvent[] = [];
      let versions = 0;
      for (const r of incoming) {
        const k = known.get(r.id);
        if (!k || k.sourceNode !== r.sourceNode || r.version <= k.version) continue;
        const cur = await recordsStore.findById(trx, r.id);
        if (!cur) continue;
        await replaceKept(trx, cur, { ...r, disputed: cur.disputed, createdBy: cur.createdBy, createdAt: cur.createdAt }, `node:${r.sourceNode}`, r.updatedAt, null);
        events.push({ actor: `node:${r.sourceNode}`, actorNode: r.sourceNode, action: 'record.version', object: r.id, class: r.classification, outcome: 'success', reason: `correction v${r.version}${cur.status !== r.status ? ` ${r.status}` : ''}` });
        versions++;
      }
      skipped += incoming.length - inserted.size - versions;

      let withdrawals = 0;
      for (const it of items) {
        if (it.kind !== 'withdrawal') continue;
        const r = await recordsStore.findById(trx, it.id);
        if (!r || r.sourceNode !== it.sourceNode || it.sourceNode === nodeId || r.status !== 'active') {
          skipped++;
          continue;
        }
        const reason: WithdrawReason = (WITHDRAW_REASONS as readonly string[]).includes(it.reason) ? (it.reason as WithdrawReason) : 'correction';
        await recordsStore.withdraw(trx, r.id, reason, at);
        if ((await recordsStore.resolveObjections(trx, { recordId: r.id }, 'closed', `node:${it.sourceNode}`, at, `withdrawn by ${it.sourceNode}: ${reason}`)) > 0) {
          await recordsStore.setDisputed(trx, r.id, false, at);
        }
        events.push({ actor: `node:${it.sourceNode}`, actorNode: it.sourceNode, action: 'record.withdraw', object: r.id, class: r.classification, outcome: 'success', reason });
        withdrawals++;
      }
      await outboxStore.setState(trx, CURSOR_KEY, String(next), at);
      await marks.keep(trx, next, mark, at);
      if (evidence) await keepEvidence(trx, evidence);
      // audit entries last: the audit lock is taken after every database lock (audit/log.ts)
      for (const e of events) await audit.recordIn(trx, e);
      await audit.recordIn(trx, {
        actor: `node:${HUB_NODE_ID}`, actorNode: HUB_NODE_ID, action: 'distribution.apply', object: envelopeId, outcome: 'success',
        reason: `items=${items.length} records=${inserted.size} versions=${versions} withdrawals=${withdrawals} skipped=${skipped} cursor=${next}${evidence ? ` digest=${evidence.digest}` : ''}`,
      });
      return { cursor: next, records: inserted.size, versions, withdrawals, skipped };
    });
  }

  /** Opens a distribution answer from the hub and checks its shape. */
  async function openDistribution(raw: unknown, after: number) {
    const opened = await openFromHub<unknown>(raw, 'distribution', identity, { now: clock(), fresh: true });
    const p = opened.payload;
    if (!isDistribution(p)) throw nodeError('ERR_HUB_ANSWER_INVALID', 'the distribution payload does not have the distribution shape');
    if (p.next < after) throw nodeError('ERR_HUB_ANSWER_INVALID', `the hub's next cursor ${p.next} is behind ${after}`, { after, next: p.next });
    return { opened, p };
  }

  /** One request: pull after the cursor and apply. Returns the result, or null when nothing was new. */
  async function pullOnce(signal?: AbortSignal): Promise<(ApplyResult & { more: boolean }) | null> {
    const after = await cursor();
    const got = await marks.pull(
      after,
      (mark) => deps.client().getDistributions(after, PULL_LIMIT, signal, mark),
      async (m) => openDistribution(await deps.client().getDistributions(m.cursor, 0, signal, m.mark), m.cursor),
    );
    if ('rewound' in got) return { cursor: got.rewound.to, records: 0, versions: 0, withdrawals: 0, skipped: 0, more: !got.rewound.repeated };
    const raw = got.raw;
    const { opened, p } = await openDistribution(raw, after);
    if (p.items.length === 0 && p.next === after) return null;
    await ensureCatalogFor(p.items, deps.catalog, signal);
    const mk = markOf(p, after);
    const r = await apply(opened.header.id, p.items, p.next, evidenceFrom(opened.header, opened.digest, opened.sig, 'received', clock().toISOString()), mk);
    log.info({ envelope: opened.header.id, ...r }, 'hub exchange: distribution applied');
    deps.grew?.(r.records + r.versions); // committed: counts towards the next ANALYZE (PostgreSQL)
    return { ...r, more: p.more };
  }

  async function step(signal?: AbortSignal): Promise<number> {
    const r = await pullOnce(signal);
    return r?.more ? 0 : deps.hub.pollIntervalMs;
  }

  return { step, pullOnce, apply, cursor };
}

export type Puller = ReturnType<typeof createPuller>;
