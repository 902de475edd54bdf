/**
 * The register journal: every change to the hub's certificate register and tokens that takes
 * something away — a certificate issued, a certificate revoked, a node revoked, a token used, a
 * node's tokens cancelled — is also appended, once committed, to `caDir/register-journal.ndjson`,
 * outside the hub's store. When the store goes back in time (restored from a backup, a PostgreSQL
 * failover that lost commits), the hub finds the facts it lost there and applies them again
 * (`reconcileRegister`, at start and every `intervalMs`): a revoked node does not come back, a used
 * token cannot be used again, and a certificate issued since the restore point stays known.
 *
 * Format (docs/scale.md "The register journal"): UTF-8, one JSON object per line, appended with
 * O_APPEND and fsynced; unknown kinds and malformed lines are skipped and counted (a torn last line
 * from a crash or a concurrent append included). Each hub process appends to the journal of its own
 * caDir (a shared mount or a copy): the union is what the processes committed.
 *
 * Only facts that restrict (revocations, used and cancelled tokens) or that the restored store
 * cannot otherwise know (certificates issued, whose nodes hold them) are kept; replay is idempotent
 * and never undoes what the store holds: a revocation keeps the earlier time, a node re-enrolled
 * after its revocation stays active, a certificate is added only for a node the store knows.
 */
import { closeSync, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Knex } from 'knex';
import type { Db } from '../audit/knex-connect.js';
import { normaliseSerial } from '../certs/pki-crypto.js';
import type { AuditEvent } from '../audit/index.js';
import { HUB_NODE_ID } from '../certs/issue.js';

export const JOURNAL_FILE = 'register-journal.ndjson';

export type JournalEntry =
  | { kind: 'cert.issued'; serial: string; nodeId: string; notBefore: string; notAfter: string; issuedAt: string; grade?: number }
  | { kind: 'cert.revoked'; serial: string; at: string; reason: string }
  | { kind: 'node.revoked'; nodeId: string; at: string }
  | { kind: 'token.used'; hash: string; at: string }
  | { kind: 'tokens.cancelled'; nodeId: string; at: string };

export interface RegisterJournal {
  readonly file: string;
  /**
   * Appends committed facts (one write, fsynced). Never throws: the change is committed already, so
   * a failed append is reported to `onError` (the hub logs it as an error; default: one JSON line
   * on stderr) and counted in `failures`, and the fact is not protected against a store restore.
   */
  append(entries: readonly JournalEntry[]): void;
  onError: (e: Error, entries: readonly JournalEntry[]) => void;
  readonly failures: number;
  /** Every well-formed entry, in file order, and how many lines were skipped. */
  read(): { entries: JournalEntry[]; skipped: number };
}

const str = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= 512;
const time = (v: unknown): v is string => str(v) && Number.isFinite(Date.parse(v));

/** The entry `v` if it is one of the kinds above with well-formed fields, else undefined. */
export function parseEntry(v: unknown): JournalEntry | undefined {
  if (v === null || typeof v !== 'object') return undefined;
  const e = v as Record<string, unknown>;
  switch (e.kind) {
    case 'cert.issued':
      return str(e.serial) && str(e.nodeId) && time(e.notBefore) && time(e.notAfter) && time(e.issuedAt) && (e.grade === undefined || (Number.isInteger(e.grade) && (e.grade as number) >= 1 && (e.grade as number) <= 4))
        ? { kind: e.kind, serial: e.serial, nodeId: e.nodeId, notBefore: e.notBefore, notAfter: e.notAfter, issuedAt: e.issuedAt, ...(e.grade === undefined ? {} : { grade: e.grade as number }) }
        : undefined;
    case 'cert.revoked':
      return str(e.serial) && time(e.at) && str(e.reason) ? { kind: e.kind, serial: e.serial, at: e.at, reason: e.reason } : undefined;
    case 'node.revoked':
    case 'tokens.cancelled':
      return str(e.nodeId) && time(e.at) ? { kind: e.kind, nodeId: e.nodeId, at: e.at } : undefined;
    case 'token.used':
      return str(e.hash) && time(e.at) ? { kind: e.kind, hash: e.hash, at: e.at } : undefined;
    default:
      return undefined;
  }
}

export function registerJournal(caDir: string): RegisterJournal {
  const file = join(caDir, JOURNAL_FILE);
  let failures = 0;
  const journal: RegisterJournal = {
    file,
    get failures() {
      return failures;
    },
    onError: (e, entries) => void process.stderr.write(`${JSON.stringify({ level: 'error', code: 'ERR_REGISTER_JOURNAL', msg: `could not append ${entries.length} register fact(s) to ${file}: ${e.message}; they are committed in the store but not protected against a restore of it — fix the directory (space, permissions) and see docs/scale.md "The register journal"` })}\n`),
    append(entries) {
      if (entries.length === 0) return;
      try {
        const fd = openSync(file, 'a', 0o600);
        try {
          writeSync(fd, entries.map((e) => `${JSON.stringify(e)}\n`).join(''));
          fsyncSync(fd);
        } finally {
          closeSync(fd);
        }
      } catch (e) {
        failures++;
        journal.onError(e as Error, entries);
      }
    },
    read() {
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { entries: [], skipped: 0 };
        throw e;
      }
      const entries: JournalEntry[] = [];
      let skipped = 0;
      for (const line of text.split('\n')) {
        if (line.trim() === '') continue;
        let parsed: JournalEntry | undefined;
        try {
          parsed = parseEntry(JSON.parse(line));
        } catch {
          parsed = undefined;
        }
        if (parsed) entries.push(parsed);
        else skipped++;
      }
      return { entries, skipped };
    },
  };
  return journal;
}

/** Where a registry sends the facts it changed: straight to the journal (autocommit), or held until the transaction commits. */
export type JournalSink = (e: JournalEntry) => void;

/**
 * Runs `fn` in a transaction of `db` with a sink that holds the journal entries of the changes made
 * in it, and appends them once the transaction has committed (a rolled-back attempt leaves none).
 */
export async function journalled<T>(db: Db, journal: RegisterJournal | undefined, fn: (trx: Knex.Transaction, sink: JournalSink) => Promise<T>): Promise<T> {
  const held: JournalEntry[] = [];
  const result = await db.transaction(async (trx) => {
    held.length = 0; // a retried transaction starts again
    return fn(trx, (e) => void held.push(e));
  });
  journal?.append(held);
  return result;
}

export interface ReconcileResult {
  /** Facts applied again (each with a `register.replay` audit entry). */
  replayed: number;
  /** Journal lines skipped as malformed or of an unknown kind. */
  skipped: number;
  /** Facts that could not be applied (a certificate of a node the store does not know). */
  unknown: number;
}

type Row = Record<string, unknown>;
const s = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));

/**
 * Applies the journal's facts the store has lost, in one transaction, each with a
 * `register.replay` audit entry written in it (`recordIn`). Conditional updates only: several hub
 * processes reconciling at once apply each fact once.
 */
export async function reconcileRegister(db: Db, journal: RegisterJournal, audit: { recordIn(trx: Knex.Transaction, e: AuditEvent): Promise<number> }): Promise<ReconcileResult> {
  const { entries, skipped } = journal.read();
  const result: ReconcileResult = { replayed: 0, skipped, unknown: 0 };
  if (entries.length === 0) return result;
  // what the store holds now, read once (the register is small: certificates, tokens and nodes)
  const certs = new Map<string, { status: string; revokedAt: string | null }>();
  for (const r of (await db('hub_certs').select('serial', 'status', 'revoked_at')) as Row[]) certs.set(String(r.serial), { status: String(r.status), revokedAt: s(r.revoked_at) });
  const tokens = new Map<string, { usedAt: string | null }>();
  for (const r of (await db('hub_tokens').select('hash', 'used_at')) as Row[]) tokens.set(String(r.hash), { usedAt: s(r.used_at) });
  const nodes = new Map<string, { status: string; enrolledAt: string | null }>();
  for (const r of (await db('hub_nodes').select('node_id', 'status', 'enrolled_at')) as Row[]) nodes.set(String(r.node_id), { status: String(r.status), enrolledAt: s(r.enrolled_at) });
  const before = (a: string | null, b: string) => a === null || Date.parse(a) < Date.parse(b);
  const due = entries.filter((e) => {
    switch (e.kind) {
      case 'cert.issued':
        return !certs.has(normaliseSerial(e.serial));
      case 'cert.revoked': {
        const c = certs.get(normaliseSerial(e.serial));
        return c !== undefined && (c.status !== 'revoked' || (c.revokedAt !== null && Date.parse(c.revokedAt) > Date.parse(e.at)));
      }
      case 'node.revoked': {
        const n = nodes.get(e.nodeId);
        return n !== undefined && n.status !== 'revoked' && before(n.enrolledAt, e.at);
      }
      case 'token.used': {
        const tk = tokens.get(e.hash);
        return tk !== undefined && tk.usedAt === null;
      }
      case 'tokens.cancelled':
        return true; // cheap to check in the transaction; most find nothing left to cancel
    }
    return false;
  });
  if (due.length === 0) return result;
  const from = `from ${JOURNAL_FILE}: the store had lost it`;
  await db.transaction(async (trx) => {
    for (const e of due) {
      let n = 0;
      let object = '';
      let what = '';
      switch (e.kind) {
        case 'cert.issued': {
          if (e.nodeId !== HUB_NODE_ID && !(await trx('hub_nodes').where({ node_id: e.nodeId }).first('node_id'))) {
            result.unknown++;
            continue;
          }
          const serial = normaliseSerial(e.serial);
          if (await trx('hub_certs').where({ serial }).first('serial')) continue;
          await trx('hub_certs').insert({ serial, node_id: e.nodeId, not_before: e.notBefore, not_after: e.notAfter, status: 'active', issued_at: e.issuedAt, grade: e.grade ?? null, revoked_at: null, reason: null });
          n = 1;
          object = `cert:${serial}`;
          what = `cert.issued node=${e.nodeId} notAfter=${e.notAfter}`;
          break;
        }
        case 'cert.revoked': {
          const serial = normaliseSerial(e.serial);
          n = await trx('hub_certs').where({ serial }).andWhere((q) => void q.where({ status: 'active' }).orWhere('revoked_at', '>', e.at)).update({ status: 'revoked', revoked_at: e.at, reason: e.reason });
          object = `cert:${serial}`;
          what = `cert.revoked at=${e.at} reason=${e.reason}`;
          break;
        }
        case 'node.revoked':
          n = await trx('hub_nodes').where({ node_id: e.nodeId }).whereNot({ status: 'revoked' }).andWhere((q) => void q.whereNull('enrolled_at').orWhere('enrolled_at', '<', e.at)).update({ status: 'revoked', updated_at: e.at });
          object = `node:${e.nodeId}`;
          what = `node.revoked at=${e.at}`;
          break;
        case 'token.used':
          n = await trx('hub_tokens').where({ hash: e.hash }).whereNull('used_at').update({ used_at: e.at });
          object = `token:${e.hash.slice(0, 12)}`;
          what = `token.used at=${e.at}`;
          break;
        case 'tokens.cancelled':
          n = await trx('hub_tokens').where({ node_id: e.nodeId }).whereNull('used_at').whereNull('cancelled_at').where('created_at', '<', e.at).update({ cancelled_at: e.at });
          object = `node:${e.nodeId}`;
          what = `tokens.cancelled at=${e.at} count=${n}`;
          break;
      }
      if (n === 0) continue;
      result.replayed++;
      await audit.recordIn(trx, { action: 'register.replay', actor: 'svc:hub', actorNode: HUB_NODE_ID, object, outcome: 'success', reason: `${what} ${from}` });
    }
  });
  return result;
}

/** How often a running hub reconciles (a lossy failover happens under running processes, not only before a start). */
export const RECONCILE_INTERVAL_MS = 60_000;

export interface ReconcileJob {
  /** Runs once (or joins the run under way); null when it failed (logged, tried again at the next interval). */
  runNow(): Promise<ReconcileResult | null>;
  start(): void;
  stop(): Promise<void>;
}

/** The periodic reconciliation of a hub process: logs what it replayed (warn) and its failures (error). */
export function reconcileJob(db: Db, journal: RegisterJournal, audit: Parameters<typeof reconcileRegister>[2], log: { warn(o: object, m: string): void; error(o: object, m: string): void }, intervalMs = RECONCILE_INTERVAL_MS): ReconcileJob {
  let running: Promise<ReconcileResult | null> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let skippedSeen = 0;
  const runNow = () => {
    if (stopped) return Promise.resolve(null);
    running ??= reconcileRegister(db, journal, audit)
      .then((r) => {
        if (r.replayed > 0 || r.unknown > 0) log.warn({ code: 'ERR_REGISTER_REPLAYED', replayed: r.replayed, unknownNodes: r.unknown, file: journal.file }, 'register journal: the store had lost register changes (a restore or a lossy failover?); applied again, see the register.replay audit entries');
        if (r.skipped > skippedSeen) log.error({ code: 'ERR_REGISTER_JOURNAL', skipped: r.skipped, file: journal.file }, 'register journal: lines skipped as malformed (a torn write, or the file was edited)');
        skippedSeen = r.skipped;
        return r;
      })
      .catch((e: unknown) => {
        log.error({ code: (e as { code?: string }).code ?? 'Error', error: (e as Error).message }, 'register journal: reconciliation failed; tried again at the next interval');
        return null;
      })
      .finally(() => {
        running = undefined;
      });
    return running;
  };
  return {
    runNow,
    start() {
      timer = setInterval(() => void runNow(), intervalMs);
      timer.unref();
    },
    async stop() {
      stopped = true;
      if (timer) clearInterval(timer);
      await running;
    },
  };
}
