/**
 * The append-only audit log of one store. Appends are serialised in-process: the chain head
 * (last leaf hash) and the compact Merkle range live in memory, and a mutex guards them (the audit
 * lock: see LOCK ORDER below — database locks first, the audit lock last).
 * `record()` queues the event; one flush writes every queued event in a single transaction and
 * resolves their promises after COMMIT (durable on resolve). `recordIn(trx)` appends inside the
 * caller's transaction and keeps the lock until it ends: on commit the in-memory head advances,
 * on rollback it stays; a savepoint that rolls back restores the state saved before its first entry.
 * After a failed write the next lock holder re-reads the head over its own connection.
 * Several processes on one store (hub processes on one PostgreSQL, an operator command beside a
 * running server): every appending transaction first takes the store's audit lock — on PostgreSQL
 * the transaction-scoped advisory lock AUDIT_LOCK_KEY, on SQLite the write lock its transaction
 * holds — then reads the newest seq; when another process appended since, the entries it added are
 * read (leaf hashes only, from this process's size on) and folded into the in-memory range, so the
 * head is always the store's head under a lock held to COMMIT (docs/audit-format.md, "Several
 * writers").
 * Checkpoints are signed every `checkpointEvery` entries (in the appending transaction), every
 * `checkpointIntervalMs` when there is anything new, and on close(). setSigner() swaps the key
 * (certificate renewal): checkpoints signed from then on use the new one.
 */
import type { Knex } from 'knex';
import { assertEvent, makeEntry, type AuditEntry, type Checkpoint } from './entry.js';
import { auditError } from './errors.js';
import type { AuditHashAlg } from './crypto.js';
import { fixHashAlg } from './log-meta.js';
import type { CompactRange } from './merkle.js';
import { canSignAt, readySigner, signCheckpoint, type AuditSigner, type ReadySigner } from './signer.js';
import { engineOf } from './knex-connect.js';
import { insertCheckpoint, insertEntries, insertFrontier, lastFrontierSize, latestCheckpoint, leafHashes, loadHead, type StoredCheckpoint } from './store.js';
import type { AuditEvent, AuditSink } from './types.js';

export interface AuditLogOptions {
  signer?: AuditSigner;
  /** Sign a checkpoint every N entries (default 1000). */
  checkpointEvery?: number;
  /** …and every T ms when entries were added since the last one (default 60 000; 0 = off). */
  checkpointIntervalMs?: number;
  now?: () => Date;
  /**
   * Store the compact range and head (audit_frontiers) at the first checkpoint at least this many
   * entries after the previous one (default 100 000), so opening the log reads at most about this
   * many entries plus those since, whatever the log's length. 0 = never.
   */
  frontierEvery?: number;
  /** Hash algorithm, fixed when the log is created (log-meta.ts): `sm3` needs an SM2 signer; another one than the log's is ERR_AUDIT_ALGORITHM_MIXED. */
  hashAlg?: AuditHashAlg;
}

export interface AuditLog extends AuditSink {
  record(e: AuditEvent): Promise<number>;
  recordIn(trx: Knex.Transaction, e: AuditEvent): Promise<number>;
  checkpoint(): Promise<Checkpoint | null>;
  latestCheckpoint(): Promise<Checkpoint | null>;
  /**
   * Signs later checkpoints with this key and certificate (after a renewal); starts the interval
   * timer if the log had no signer. ERR_AUDIT_SIGNER_INVALID when the key does not fit the
   * certificate or the node id differs from the current signer's; ERR_AUDIT_CLOSED after close().
   */
  setSigner(signer: AuditSigner): void;
  /** SHA-256 fingerprint of the current signer certificate, or null without a signer. */
  signerFingerprint(): string | null;
  /** The log's hash algorithm, fixed when it was created (sm3: its signer is an SM2 key). */
  readonly hashAlg: AuditHashAlg;
  /**
   * How opening went: entries read, and why a persisted frontier that should have been usable was
   * not (null when none was rejected, or only for want of a signer or after a certificate change).
   * A reason is a sign the audit tables were written outside the log: servers warn and audit it.
   */
  readonly opened: { leavesRead: number; frontierRejected: string | null };
  /** Writes a final checkpoint and stops the timer. */
  close(): Promise<void>;
}

/** Working copy of the chain state inside one transaction. */
interface Ctx {
  range: CompactRange;
  head: string;
  lastCp: number;
  /** Tree size of the newest frontier this process knows of. */
  lastFr: number;
  chain: Promise<unknown>;
}

interface Pending {
  event: AuditEvent;
  resolve: (seq: number) => void;
  reject: (e: unknown) => void;
}

const MAX_BATCH = 5000;

/**
 * Key of the PostgreSQL advisory lock every appending transaction holds to its end: one writer of
 * the chain head at a time across all processes on the store (hub/records-store.ts's feed lock is
 * 430_000_001).
 */
export const AUDIT_LOCK_KEY = 430_000_002;

export async function openAuditLog(db: Knex, opts: AuditLogOptions = {}): Promise<AuditLog> {
  const alg = await fixHashAlg(db, opts.hashAlg);
  let signer: ReadySigner | null = opts.signer ? readySigner(opts.signer, alg) : null;
  const every = opts.checkpointEvery ?? 1000;
  const now = opts.now ?? (() => new Date());
  const frontierEvery = opts.frontierEvery ?? 100_000;
  const trust = () => (signer ? { certPem: signer.certPem, fingerprint: signer.fingerprint } : undefined);
  const loaded = await loadHead(db, trust());
  let state: { range: CompactRange; head: string } = loaded;
  let lastCp = (await latestCheckpoint(db))?.treeSize ?? 0;
  let lastFr = await lastFrontierSize(db, state.range.size);
  let closed = false;

  // ---- mutex over `state`: the audit lock ----
  // LOCK ORDER (every caller, hub and node): connection → database locks → audit lock.
  // The audit lock is this mutex and then, taken right after it by its holder only, the store's
  // (PostgreSQL advisory lock AUDIT_LOCK_KEY; SQLite's write lock is the transaction's own): a
  // holder of the store's audit lock waits on nothing but its audit rows and COMMIT, so another
  // process's transaction waiting for it cannot be part of a cycle.
  // The audit lock is an in-process lock the database cannot see, so it must never be held while
  // waiting on the database for anything but its own audit rows and COMMIT:
  //  - it is taken only inside a transaction (a connection is held first, so SQLite's single
  //    connection cannot deadlock against it);
  //  - recordIn(trx) takes it and keeps it to the end of trx, so a transaction calls recordIn only
  //    after its last statement that can wait on a lock another transaction holds (row locks such
  //    as the hub_nodes counter update, advisory locks such as the distribution feed's): audit
  //    entries are the transaction's last writes, awaited one after the other, never started
  //    together with another statement (Promise.all) — that is how a query and a batch of one node
  //    once wedged a PostgreSQL hub;
  //  - record() and checkpoint() take it in a fresh transaction that holds no other lock.
  // The statement, lock and idle-in-transaction timeouts of knex-connect.ts break any cycle left.
  let tail: Promise<void> = Promise.resolve();
  const acquire = (): Promise<() => void> => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const prev = tail;
    tail = tail.then(() => held);
    return prev.then(() => release);
  };
  // After a failed write the database may hold a head we do not know (another process wrote, or
  // COMMIT succeeded although its answer was lost): the next holder of the lock re-reads it all.
  let stale = false;
  const pg = engineOf(db) === 'pg';
  const newCtx = async (trx: Knex.Transaction): Promise<Ctx> => {
    // The store's audit lock: held to COMMIT/ROLLBACK, after the in-process audit lock (LOCK ORDER).
    if (pg) await trx.raw('select pg_advisory_xact_lock(?)', [AUDIT_LOCK_KEY]);
    // Another process may have appended (a second hub process, an operator command beside the
    // running server): one indexed read of the newest seq tells.
    const top = (await trx('audit_log').orderBy('seq', 'desc').first('seq')) as { seq: number | string } | undefined;
    const size = top ? Number(top.seq) : 0;
    if (!stale && size > state.range.size) {
      // fold in what the others appended: O(their entries), not O(log)
      const leaves = await leafHashes(trx, state.range.size + 1, size);
      if (leaves.length === size - state.range.size) {
        const range = state.range.clone();
        for (const l of leaves) range.append(l);
        state = { range, head: leaves[leaves.length - 1]!.toString('hex') };
        lastCp = (await latestCheckpoint(trx))?.treeSize ?? 0;
        lastFr = await lastFrontierSize(trx, size);
      } else stale = true; // pruned meanwhile: start from the prune base
    } else if (size !== state.range.size) stale = true;
    if (stale) {
      state = await loadHead(trx, trust());
      lastCp = (await latestCheckpoint(trx))?.treeSize ?? 0;
      lastFr = await lastFrontierSize(trx, state.range.size);
      stale = false;
    }
    return { range: state.range.clone(), head: state.head, lastCp, lastFr, chain: Promise.resolve() };
  };
  const adopt = (ctx: Ctx) => {
    state = { range: ctx.range, head: ctx.head };
    lastCp = ctx.lastCp;
    lastFr = ctx.lastFr;
  };
  /** A frontier is due at a checkpoint of `size` entries (issue 22: start-up independent of the log's length). */
  const frontierDue = (ctx: Ctx, size: number): boolean => frontierEvery > 0 && size - ctx.lastFr >= frontierEvery;

  async function signAt(trx: Knex.Transaction, ctx: Ctx): Promise<StoredCheckpoint | null> {
    const s = signer;
    const at = now();
    if (!s || ctx.range.size === 0 || ctx.range.size === ctx.lastCp || !canSignAt(s, at)) return null;
    const cp = signCheckpoint(s, ctx.range.size, ctx.range.root().toString('hex'), at, alg);
    await insertCheckpoint(trx, cp);
    ctx.lastCp = cp.treeSize;
    if (frontierDue(ctx, cp.treeSize)) {
      await insertFrontier(trx, ctx.range, ctx.head);
      ctx.lastFr = cp.treeSize;
    }
    return cp;
  }

  /** Appends within `trx`; `ctx` advances only once the rows are written. */
  async function append(trx: Knex.Transaction, ctx: Ctx, events: readonly AuditEvent[]): Promise<number[]> {
    const range = ctx.range.clone();
    const s = signer;
    let head = ctx.head;
    const list: AuditEntry[] = [];
    // Checkpoints at exact multiples of `every` (the compact range's root is O(log n)).
    const cps: StoredCheckpoint[] = [];
    const frontiers: Array<{ range: CompactRange; head: string }> = [];
    let lastFr = ctx.lastFr;
    for (const ev of events) {
      const entry = makeEntry(ev, range.size + 1, now(), head, alg);
      list.push(entry);
      range.append(Buffer.from(entry.leafHash, 'hex'));
      head = entry.leafHash;
      if (s && range.size % every === 0) {
        const at = now();
        if (canSignAt(s, at)) {
          cps.push(signCheckpoint(s, range.size, range.root().toString('hex'), at, alg));
          if (frontierEvery > 0 && range.size - lastFr >= frontierEvery) {
            frontiers.push({ range: range.clone(), head });
            lastFr = range.size;
          }
        }
      }
    }
    await insertEntries(trx, list);
    for (const cp of cps) await insertCheckpoint(trx, cp);
    for (const f of frontiers) await insertFrontier(trx, f.range, f.head);
    Object.assign(ctx, { range, head, lastCp: cps.at(-1)?.treeSize ?? ctx.lastCp, lastFr });
    return list.map((e) => e.seq);
  }

  // ---- record(): queued, flushed in batches ----
  let pending: Pending[] = [];
  let flushing: Promise<void> | null = null;
  const flush = async (): Promise<void> => {
    while (pending.length) {
      const batch = pending.slice(0, MAX_BATCH);
      pending = pending.slice(batch.length);
      let release: (() => void) | null = null;
      try {
        let ctx!: Ctx;
        const seqs = await db.transaction(async (trx) => {
          release = await acquire();
          ctx = await newCtx(trx);
          return append(trx, ctx, batch.map((p) => p.event));
        });
        adopt(ctx);
        batch.forEach((p, i) => p.resolve(seqs[i]!));
      } catch (e) {
        stale = true;
        for (const p of batch) p.reject(e);
      } finally {
        (release as (() => void) | null)?.();
      }
    }
  };

  // A flush drains the queue; an event queued just as it finishes starts the next one.
  const kick = (): void => {
    if (flushing || pending.length === 0) return;
    flushing = flush().finally(() => {
      flushing = null;
      kick();
    });
  };

  const record = (event: AuditEvent): Promise<number> => {
    if (closed) return Promise.reject(auditError('ERR_AUDIT_CLOSED'));
    try {
      assertEvent(event);
    } catch (e) {
      return Promise.reject(e);
    }
    return new Promise<number>((resolve, reject) => {
      pending.push({ event, resolve, reject });
      kick();
    });
  };

  // ---- recordIn(): inside the caller's transaction ----
  // The lock is held by the top-level transaction until it ends. A savepoint (nested transaction)
  // that rolls back restores the state saved before its first entry.
  type Trx = Knex.Transaction & { parentTransaction?: Trx };
  const trxCtx = new WeakMap<object, Promise<Ctx>>();
  const saved = new WeakMap<object, Ctx>();
  const snapshot = (c: Ctx): Ctx => ({ ...c, range: c.range.clone() });
  const recordIn = async (trx: Knex.Transaction, event: AuditEvent): Promise<number> => {
    if (closed) throw auditError('ERR_AUDIT_CLOSED');
    assertEvent(event);
    let top = trx as Trx;
    while (top.parentTransaction) top = top.parentTransaction;
    let p = trxCtx.get(top);
    if (!p) {
      p = acquire().then(async (release) => {
        try {
          const ctx = await newCtx(top);
          top.executionPromise.then(
            () => adopt(ctx),
            () => undefined,
          ).finally(release);
          return ctx;
        } catch (e) {
          release();
          throw e;
        }
      });
      trxCtx.set(top, p);
    }
    const ctx = await p;
    const run = ctx.chain.then(() => {
      for (let t = trx as Trx; t !== top && !saved.has(t); t = t.parentTransaction!) {
        const at = snapshot(ctx);
        saved.set(t, at);
        t.executionPromise.catch(() => Object.assign(ctx, { range: at.range.clone(), head: at.head, lastCp: at.lastCp, lastFr: at.lastFr }));
      }
      return append(trx, ctx, [event]);
    });
    ctx.chain = run.catch(() => undefined);
    const [seq] = await run;
    return seq!;
  };

  const checkpoint = async (): Promise<Checkpoint | null> => {
    if (!signer) return null;
    let release: (() => void) | null = null;
    try {
      let ctx!: Ctx;
      const cp = await db.transaction(async (trx) => {
        release = await acquire();
        ctx = await newCtx(trx);
        return signAt(trx, ctx);
      });
      adopt(ctx);
      if (cp) return publicCp(cp);
      // Let go of the lock before reading over `db`: holding it while waiting for SQLite's one
      // connection deadlocks against a transaction that holds the connection and waits for the lock.
      (release as (() => void) | null)?.();
      release = null;
      return await latest();
    } finally {
      (release as (() => void) | null)?.();
    }
  };

  const latest = async (): Promise<Checkpoint | null> => {
    const cp = await latestCheckpoint(db);
    return cp ? publicCp(cp) : null;
  };

  const interval = opts.checkpointIntervalMs ?? 60_000;
  let timer: NodeJS.Timeout | null = null;
  const startTimer = (): void => {
    if (timer || !signer || interval <= 0) return;
    timer = setInterval(() => void checkpoint().catch(() => undefined), interval);
    timer.unref();
  };
  startTimer();

  return {
    record,
    recordIn,
    checkpoint,
    latestCheckpoint: latest,
    setSigner(next: AuditSigner) {
      if (closed) throw auditError('ERR_AUDIT_CLOSED');
      const ready = readySigner(next, alg);
      if (signer && ready.nodeId !== signer.nodeId) {
        throw auditError('ERR_AUDIT_SIGNER_INVALID', `this audit log is signed for node ${signer.nodeId}, not ${ready.nodeId}`);
      }
      signer = ready;
      startTimer();
    },
    signerFingerprint: () => signer?.fingerprint ?? null,
    opened: { leavesRead: loaded.leavesRead, frontierRejected: loaded.frontierRejected },
    hashAlg: alg,
    async close() {
      if (closed) return;
      if (timer) clearInterval(timer);
      while (flushing) await flushing.catch(() => undefined);
      await checkpoint();
      closed = true;
    },
  };
}

function publicCp(c: StoredCheckpoint): Checkpoint {
  return { treeSize: c.treeSize, rootHash: c.rootHash, time: c.time, nodeId: c.nodeId, signature: c.signature, signerFingerprint: c.signerFingerprint };
}

/**
 * When opening rejected a persisted frontier for a reason that points at the audit tables being
 * written outside the log (log.opened.frontierRejected), one warning line on stderr (code
 * ERR_AUDIT_FRONTIER) and an `audit.frontier` failure entry, so the operator and the auditor hear of it.
 */
export async function reportFrontierRejection(log: AuditLog, actor: string, actorNode?: string): Promise<void> {
  const why = log.opened.frontierRejected;
  if (why === null) return;
  process.stderr.write(`${JSON.stringify({ level: 40, code: 'ERR_AUDIT_FRONTIER', reason: why, msg: 'a persisted audit frontier was rejected: every entry was read instead; check who writes to the audit tables' })}\n`);
  await log.record({ action: 'audit.frontier', actor, ...(actorNode ? { actorNode } : {}), outcome: 'failure', reason: why.slice(0, 2000) });
}
