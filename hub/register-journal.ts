/**
 * The register journal: every change to the hub's certificate register, tokens and node register
 * is also appended to `caDir/register-journal.ndjson`, outside the hub's store. When the store goes
 * back in time (restored from a backup, a PostgreSQL failover that lost commits), the hub finds
 * the facts it lost there and applies them again (`reconcileRegister`, before the first request and
 * every minute): a revoked node does not come back, a used or cancelled token cannot be used, a
 * token handed out since can still be, a node keeps the grade of its last enrolment, and a
 * certificate issued since the restore point stays known.
 *
 * Two kinds of fact, written at different times (docs/scale.md "The register journal"):
 *  - what an operator takes away (`credit hub revoke`, the revoke and cancel routes:
 *    `cert.revoked`, `node.revoked`, `tokens.cancelled`) is appended *before* the store's
 *    statement, and a failed append fails the change: none of it can be lost between a commit and
 *    the append. One whose transaction then rolls back is applied at the next reconciliation, as
 *    the operator asked;
 *  - everything an enrolment or renewal changes (`cert.issued`, `node.enrolled`, its `token.used`
 *    and the `cert.revoked` of the certificates it supersedes) is appended *after* the commit, so a
 *    rolled-back enrolment leaves nothing behind (its superseding revocation would otherwise cut the
 *    node off its working certificate); a failed append is logged (ERR_REGISTER_JOURNAL). So is a
 *    token an operator makes (`token.made`, after makeToken's writes): a lost one is registered
 *    again, with the node it announced, only when nothing happened to that node since (tokenAlive);
 *    an enrolment appends `token.redeeming` before its transaction, so a crash after its commit
 *    cannot bring its token back.
 *
 * Format: UTF-8, one JSON object per line, appended with O_APPEND and fsynced; every line names the
 * CA (`ca`: the first 16 hex digits of the SHA-256 of its public key), and lines of another CA,
 * malformed lines and unknown kinds are skipped and counted. Fields are strict (canonical UTC times
 * as `Date.toISOString` writes them, hex serials and hashes, 6-digit node ids, the CRL's revocation
 * reasons) so that every accepted line fits the store's columns. An append ends a torn last line
 * first; a process parses only what was appended since its last read. Each hub process appends to
 * the journal of its own caDir (a shared mount or a copy): the union is what the processes did.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { chownSync, closeSync, existsSync, fstatSync, fsyncSync, openSync, readSync, statSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Knex } from 'knex';
import type { Db } from '../audit/knex-connect.js';
import { normaliseSerial } from '../certs/pki-crypto.js';
import { REVOCATION_REASONS } from '../certs/crl.js';
import type { AuditEvent } from '../audit/index.js';
import { periodicJob } from '../audit/periodic-job.js';
import { HUB_NODE_ID } from '../certs/issue.js';
import { hubError } from './errors.js';

export const JOURNAL_FILE = 'register-journal.ndjson';

export type JournalFact =
  | { kind: 'cert.issued'; serial: string; nodeId: string; notBefore: string; notAfter: string; issuedAt: string; grade?: number }
  | { kind: 'cert.revoked'; serial: string; at: string; reason: string }
  | { kind: 'node.enrolled'; nodeId: string; grade: number; at: string }
  | { kind: 'node.revoked'; nodeId: string; at: string }
  | { kind: 'token.made'; hash: string; nodeId: string; grade: number; createdAt: string; expiresAt: string; name?: string }
  | { kind: 'token.used'; hash: string; at: string }
  | { kind: 'token.redeeming'; hash: string; at: string }
  | { kind: 'tokens.cancelled'; nodeId: string; at: string };
/** A line of the journal: a fact and the CA it belongs to. */
export type JournalEntry = JournalFact & { ca: string };

const RESTRICTING = new Set(['cert.revoked', 'node.revoked', 'token.used', 'tokens.cancelled']);
/** True for the facts appended before their change (and whose failed append fails it). */
export const restricts = (f: JournalFact): boolean => RESTRICTING.has(f.kind);

export interface RegisterJournal {
  readonly file: string;
  /** The CA these facts belong to (16 hex digits). */
  readonly ca: string;
  /** Appends facts (one write, fsynced); throws ERR_REGISTER_JOURNAL when it cannot. */
  append(facts: readonly JournalFact[]): void;
  /** Appends facts whose change is committed already: never throws; a failure goes to `onError` and `failures`. */
  appendCommitted(facts: readonly JournalFact[]): void;
  /** Reported failures of appendCommitted (the hub logs them; default: one JSON line on stderr). */
  onError: (e: Error, facts: readonly JournalFact[]) => void;
  readonly failures: number;
  /** The file can be appended to (created, owned like caDir, if missing); throws ERR_REGISTER_JOURNAL when not. */
  check(): void;
  /** Every well-formed entry of this CA, in file order; malformed lines and lines of another CA counted. */
  read(): { entries: JournalEntry[]; skipped: number; foreign: number };
}

const ISO = (v: unknown): v is string => typeof v === 'string' && v.length === 24 && (() => {
  const d = new Date(v);
  return Number.isFinite(d.getTime()) && d.toISOString() === v;
})();
const NODE = (v: unknown): v is string => typeof v === 'string' && /^\d{6}$/.test(v);
const SERIAL = (v: unknown): v is string => typeof v === 'string' && /^[0-9A-F]{2,64}$/.test(v);
const HASH = (v: unknown): v is string => typeof v === 'string' && /^[0-9a-f]{64}$/.test(v);
const GRADE = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 4;
/** A node's name as an operator gave it with a token (hub_nodes.name: at most 100 characters, no control characters); makeToken leaves out one that is not. */
export const NAME = (v: unknown): v is string => typeof v === 'string' && v.length >= 1 && [...v].length <= 100 && !/[\u0000-\u001f\u007f]/.test(v);
/** The longest an enrolment token lives (`credit hub token --ttl`, POST /v1/operator/tokens ttlSeconds: 30 days). */
export const MAX_TOKEN_TTL_MS = 30 * 86_400_000;
const REASON = (v: unknown): v is string => typeof v === 'string' && (REVOCATION_REASONS as readonly string[]).includes(v);

/** The entry `v` if it is one of the kinds above with well-formed fields, else undefined. */
export function parseEntry(v: unknown): JournalEntry | undefined {
  if (v === null || typeof v !== 'object') return undefined;
  const e = v as Record<string, unknown>;
  if (typeof e.ca !== 'string' || !/^[0-9a-f]{16}$/.test(e.ca)) return undefined;
  const ca = e.ca;
  switch (e.kind) {
    case 'cert.issued':
      return SERIAL(e.serial) && NODE(e.nodeId) && ISO(e.notBefore) && ISO(e.notAfter) && ISO(e.issuedAt) && (e.grade === undefined || GRADE(e.grade))
        ? { kind: e.kind, ca, serial: e.serial, nodeId: e.nodeId, notBefore: e.notBefore, notAfter: e.notAfter, issuedAt: e.issuedAt, ...(e.grade === undefined ? {} : { grade: e.grade as number }) }
        : undefined;
    case 'cert.revoked':
      return SERIAL(e.serial) && ISO(e.at) && REASON(e.reason) ? { kind: e.kind, ca, serial: e.serial, at: e.at, reason: e.reason } : undefined;
    case 'node.enrolled':
      return NODE(e.nodeId) && GRADE(e.grade) && ISO(e.at) ? { kind: e.kind, ca, nodeId: e.nodeId, grade: e.grade, at: e.at } : undefined;
    case 'node.revoked':
    case 'tokens.cancelled':
      return NODE(e.nodeId) && ISO(e.at) ? { kind: e.kind, ca, nodeId: e.nodeId, at: e.at } : undefined;
    case 'token.used':
    case 'token.redeeming':
      return HASH(e.hash) && ISO(e.at) ? { kind: e.kind, ca, hash: e.hash, at: e.at } : undefined;
    case 'token.made':
      return HASH(e.hash) && NODE(e.nodeId) && e.nodeId !== HUB_NODE_ID && GRADE(e.grade) && ISO(e.createdAt) && ISO(e.expiresAt) && (e.name === undefined || NAME(e.name))
        && Date.parse(e.expiresAt) > Date.parse(e.createdAt) && Date.parse(e.expiresAt) - Date.parse(e.createdAt) <= MAX_TOKEN_TTL_MS
        ? { kind: e.kind, ca, hash: e.hash, nodeId: e.nodeId, grade: e.grade, createdAt: e.createdAt, expiresAt: e.expiresAt, ...(e.name === undefined ? {} : { name: e.name as string }) }
        : undefined;
    default:
      return undefined;
  }
}

/** The `ca` of a journal line: the first 16 hex digits of the SHA-256 of the CA's public key (SubjectPublicKeyInfo, DER): a CA certificate re-issued over the same key keeps its journal. */
export function caTag(caCertPem: string): string {
  return createHash('sha256').update(new X509Certificate(caCertPem).publicKey.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16);
}

/**
 * Whoever may append may grant (a `node.enrolled` line raises a grade at the next reconciliation),
 * so the journal is the hub's user's alone: the problem with a group- or other-writable one, else undefined.
 */
export function openToOthers(file: string): string | undefined {
  const mode = statSync(file).mode & 0o777;
  return mode & 0o022 ? `the register journal ${file} is writable by its group or others (mode ${mode.toString(8)}): a line appended by them would be applied at the next reconciliation; fix: chmod 600 ${file}` : undefined;
}

function journalError(file: string, e: unknown): Error {
  return hubError('ERR_REGISTER_JOURNAL', `cannot append to the register journal ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}; fix the directory (space, permissions: the hub's user writes it) — docs/scale.md "The register journal"`, { file });
}

export function registerJournal(caDir: string, caCertPem: string): RegisterJournal {
  const file = join(caDir, JOURNAL_FILE);
  const ca = caTag(caCertPem);
  let failures = 0;
  const write = (facts: readonly JournalFact[]) => {
    const created = !existsSync(file);
    const fd = openSync(file, 'a+', 0o600);
    try {
      if (facts.length > 0) {
        // a torn last line (a crash or a full disk in an earlier append) is ended first, so this fact is a line of its own
        const size = fstatSync(fd).size;
        const last = Buffer.alloc(1);
        const torn = size > 0 && readSync(fd, last, 0, 1, size - 1) === 1 && last[0] !== 0x0a;
        const bytes = Buffer.from(`${torn ? '\n' : ''}${facts.map((f) => `${JSON.stringify({ ...f, ca })}\n`).join('')}`, 'utf8');
        for (let off = 0; off < bytes.length; ) {
          const n = writeSync(fd, bytes, off, bytes.length - off);
          if (n <= 0) throw Object.assign(new Error('short write'), { code: 'EIO' });
          off += n;
        }
        fsyncSync(fd);
      }
    } finally {
      closeSync(fd);
    }
    // made by a command run as root (`sudo credit hub revoke` before the hub ever ran): given to caDir's owner, who runs the hub
    if (created && process.getuid?.() === 0) {
      const owner = statSync(dirname(file));
      chownSync(file, owner.uid, owner.gid);
    }
  };
  // what read() has parsed so far: only lines appended since are parsed at the next run (the file is append-only; another file or a shorter one is read from the start)
  let cache: { ino: number; offset: number; entries: JournalEntry[]; skipped: number; foreign: number } | null = null;
  const journal: RegisterJournal = {
    file,
    ca,
    get failures() {
      return failures;
    },
    onError: (e, facts) => void process.stderr.write(`${JSON.stringify({ level: 'error', code: 'ERR_REGISTER_JOURNAL', msg: `could not append ${facts.length} register fact(s) to ${file}: ${e.message}; they are committed in the store but not protected against a restore of it — fix the directory (space, permissions) and see docs/scale.md "The register journal"` })}\n`),
    append(facts) {
      if (facts.length === 0) return;
      try {
        write(facts);
      } catch (e) {
        throw journalError(file, e);
      }
    },
    appendCommitted(facts) {
      if (facts.length === 0) return;
      try {
        write(facts);
      } catch (e) {
        failures++;
        journal.onError(e as Error, facts);
      }
    },
    check() {
      try {
        write([]);
      } catch (e) {
        throw journalError(file, e);
      }
      const open = openToOthers(file);
      if (open) throw hubError('ERR_REGISTER_JOURNAL', open, { file });
    },
    read() {
      let fd: number;
      try {
        fd = openSync(file, 'r');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { entries: [], skipped: 0, foreign: 0 };
        throw hubError('ERR_REGISTER_JOURNAL', `cannot read the register journal ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { file });
      }
      try {
        const st = fstatSync(fd);
        if (!st.isFile()) throw hubError('ERR_REGISTER_JOURNAL', `cannot read the register journal ${file}: not a regular file`, { file });
        if (cache === null || cache.ino !== st.ino || st.size < cache.offset) cache = { ino: st.ino, offset: 0, entries: [], skipped: 0, foreign: 0 };
        const c = cache;
        const chunk = Buffer.alloc(1 << 20);
        let pending = Buffer.alloc(0);
        for (let pos = c.offset; pos < st.size; ) {
          const n = readSync(fd, chunk, 0, Math.min(chunk.length, st.size - pos), pos);
          if (n <= 0) break;
          pos += n;
          pending = Buffer.concat([pending, chunk.subarray(0, n)]);
          let nl: number;
          while ((nl = pending.indexOf(0x0a)) >= 0) {
            const line = pending.subarray(0, nl).toString('utf8');
            pending = pending.subarray(nl + 1);
            c.offset += nl + 1;
            if (line.trim() === '') continue;
            let parsed: JournalEntry | undefined;
            try {
              parsed = parseEntry(JSON.parse(line));
            } catch {
              parsed = undefined;
            }
            if (!parsed) c.skipped++;
            else if (parsed.ca !== ca) c.foreign++;
            else c.entries.push(parsed);
          }
        }
        // a last line without its newline is being written (or torn): read again next time
        return { entries: c.entries, skipped: c.skipped, foreign: c.foreign };
      } finally {
        closeSync(fd);
      }
    },
  };
  return journal;
}

/** Where a registry sends the facts of the changes it makes (see the file comment for when each kind is written). */
export interface JournalSink {
  /** A fact that takes something away, sent before its change: throws when it cannot be journalled. */
  restrict(f: JournalFact): void;
  /** A fact that gives something, sent once its change is made (held until the commit inside a transaction). */
  grant(f: JournalFact): void;
}

/** The sink of changes that commit on their own (no transaction around them). */
export function autocommitSink(journal: RegisterJournal | undefined): JournalSink {
  return { restrict: (f) => journal?.append([f]), grant: (f) => journal?.appendCommitted([f]) };
}

/**
 * Runs `fn` in a transaction of `db` with a sink that holds the granting facts until the
 * transaction has committed (a rolled-back attempt leaves none of them). Restricting facts are
 * appended at once (`restrictFirst`, an operator's revocation or cancellation: none can be lost
 * after the commit, and one whose transaction rolls back is applied all the same, as asked), or —
 * for enrolment and renewal, whose token use and superseding revocations must not outlive a
 * rolled-back transaction (they would cut the node off its working certificate and burn its
 * token) — held with the granting ones.
 */
export async function journalled<T>(db: Db, journal: RegisterJournal | undefined, fn: (trx: Knex.Transaction, sink: JournalSink) => Promise<T>, o: { restrictFirst: boolean }): Promise<T> {
  const held: JournalFact[] = [];
  const result = await db.transaction(async (trx) => {
    held.length = 0; // a retried transaction starts again
    return fn(trx, { restrict: (f) => (o.restrictFirst ? journal?.append([f]) : void held.push(f)), grant: (f) => void held.push(f) });
  });
  journal?.appendCommitted(held);
  return result;
}

export interface ReconcileResult {
  /** Facts applied again (each with a `register.replay` audit entry). */
  replayed: number;
  /** Journal lines skipped as malformed or of an unknown kind. */
  skipped: number;
  /** Lines of another CA's journal (copied in from elsewhere), ignored. */
  foreign: number;
  /** Certificates of nodes the store does not know, not added. */
  unknown: number;
  /** Facts whose statement failed (each in a savepoint of its own: the others are applied). */
  failed: number;
}

type Row = Record<string, unknown>;
const s = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));
const ms = (v: string | null) => (v === null ? -Infinity : Date.parse(v));

/** What the journal says the register should hold, folded per certificate, node and token. */
interface Folded {
  issued: Map<string, Extract<JournalEntry, { kind: 'cert.issued' }>>;
  /** The earliest revocation of each serial. */
  revoked: Map<string, { at: string; reason: string }>;
  /** The last enrolment or revocation of each node. */
  nodes: Map<string, { kind: 'node.enrolled' | 'node.revoked'; at: string; grade?: number }>;
  used: Map<string, string>;
  /** Tokens an enrolment began to redeem (`token.redeeming`, before its transaction): never registered again. */
  redeeming: Set<string>;
  /** Tokens made, by hash, with the line's place in the file. */
  made: Map<string, { e: Extract<JournalEntry, { kind: 'token.made' }>; line: number }>;
  /**
   * Per node, what may have ended or spent its tokens: the last line (place in the file) and the
   * latest time of a cancellation or revocation (`ended`), and of an enrolment or a certificate
   * issued to it (`enrolled`: a token of it may have been used).
   */
  activity: Map<string, { ended: { line: number; at: number }; enrolled: { line: number; at: number } }>;
  /** The latest cancellation of each node's tokens (it covers every token made before it). */
  cancelled: Map<string, string>;
}

function fold(entries: readonly JournalEntry[]): Folded {
  const f: Folded = { issued: new Map(), revoked: new Map(), nodes: new Map(), used: new Map(), redeeming: new Set(), made: new Map(), activity: new Map(), cancelled: new Map() };
  const note = (nodeId: string, what: 'ended' | 'enrolled', line: number, at: string) => {
    const a = f.activity.get(nodeId) ?? { ended: { line: -1, at: -Infinity }, enrolled: { line: -1, at: -Infinity } };
    a[what] = { line, at: Math.max(a[what].at, ms(at)) };
    f.activity.set(nodeId, a);
  };
  for (const [line, e] of entries.entries()) {
    if (e.kind === 'tokens.cancelled' || e.kind === 'node.revoked') note(e.nodeId, 'ended', line, e.at);
    else if (e.kind === 'node.enrolled') note(e.nodeId, 'enrolled', line, e.at);
    else if (e.kind === 'cert.issued') note(e.nodeId, 'enrolled', line, e.issuedAt);
    switch (e.kind) {
      case 'cert.issued':
        f.issued.set(normaliseSerial(e.serial), e);
        break;
      case 'cert.revoked': {
        const serial = normaliseSerial(e.serial);
        const had = f.revoked.get(serial);
        if (!had || ms(e.at) < ms(had.at)) f.revoked.set(serial, { at: e.at, reason: e.reason });
        break;
      }
      case 'node.enrolled':
      case 'node.revoked': {
        const had = f.nodes.get(e.nodeId);
        // the later event wins; at the same instant a revocation wins
        if (!had || ms(e.at) > ms(had.at) || (ms(e.at) === ms(had.at) && e.kind === 'node.revoked')) f.nodes.set(e.nodeId, e.kind === 'node.enrolled' ? { kind: e.kind, at: e.at, grade: e.grade } : { kind: e.kind, at: e.at });
        break;
      }
      case 'token.used':
        if (!f.used.has(e.hash)) f.used.set(e.hash, e.at);
        break;
      case 'token.made':
        if (!f.made.has(e.hash)) f.made.set(e.hash, { e, line });
        break;
      case 'token.redeeming':
        f.redeeming.add(e.hash);
        break;
      case 'tokens.cancelled': {
        const had = f.cancelled.get(e.nodeId);
        if (!had || ms(e.at) > ms(had)) f.cancelled.set(e.nodeId, e.at);
        break;
      }
    }
  }
  return f;
}

const isUniqueViolation = (e: unknown) => {
  const code = (e as { code?: string }).code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT' || /UNIQUE constraint failed/.test(String((e as Error).message));
};

/**
 * How far apart the clocks of the hub processes (and a revocation that took its time before a token
 * made meanwhile) may be: what happened to a node up to this long before a token was made counts as
 * after it. A token made within a minute of its node's revocation is not registered again.
 */
export const TOKEN_SKEW_MS = 60_000;

/**
 * Whether a token the store lost may be registered again: only one of a node nothing happened to
 * since it was made (less TOKEN_SKEW_MS). Not when the journal holds its use, or that an enrolment
 * began to redeem it (`token.redeeming`, appended before the enrolment's transaction: its use is
 * appended after the commit and is lost with a crash in between); nor when a cancellation or revocation of
 * its node comes after its line in the file or at or after its time (file order decides on a
 * shared journal, where the made line follows its commit and a cancellation precedes its change;
 * the time catches a copy of another process, at the same millisecond too); nor when its node was
 * enrolled or issued a certificate after it (a `token.used` line lost with a crash or in another
 * process's copy: the token may be spent), by the journal or the store; nor when the store holds its
 * node revoked, or a token of it cancelled, at or after its time; nor once expired at `now`.
 * The operator issues a new token in those cases.
 */
function tokenAlive(tk: Extract<JournalEntry, { kind: 'token.made' }>, line: number, want: Folded, node: { status: string; enrolledAt: string | null; updatedAt: string | null } | undefined, tokens: ReadonlyMap<string, { nodeId: string; cancelledAt: string | null }>, now: Date): boolean {
  const made = ms(tk.createdAt) - TOKEN_SKEW_MS;
  if (want.used.has(tk.hash) || want.redeeming.has(tk.hash) || ms(tk.expiresAt) <= now.getTime()) return false;
  const a = want.activity.get(tk.nodeId);
  if (a && (a.ended.line > line || a.ended.at >= made || a.enrolled.line > line || a.enrolled.at >= made)) return false;
  if (node && (ms(node.enrolledAt) >= made || (node.status === 'revoked' && ms(node.updatedAt) >= made))) return false;
  for (const t of tokens.values()) if (t.nodeId === tk.nodeId && ms(t.cancelledAt) >= made) return false;
  return true;
}

/**
 * Applies what the journal holds and the store has lost, in one transaction: the register rows
 * first, each in a savepoint of its own, then one `register.replay` audit entry per fact applied
 * (after every register write: audit/log.ts LOCK ORDER). Conditional statements only, so several
 * hub processes reconciling at once apply each fact once; it never undoes what the store holds.
 */
export async function reconcileRegister(db: Db, journal: RegisterJournal, audit: { recordIn(trx: Knex.Transaction, e: AuditEvent): Promise<number> }, now: Date = new Date()): Promise<ReconcileResult> {
  const { entries, skipped, foreign } = journal.read();
  const result: ReconcileResult = { replayed: 0, skipped, foreign, unknown: 0, failed: 0 };
  if (entries.length === 0) return result;
  const want = fold(entries);
  // what the store holds now, read once (the register is small: certificates, tokens and nodes)
  const certs = new Map<string, { status: string; revokedAt: string | null }>();
  for (const r of (await db('hub_certs').select('serial', 'status', 'revoked_at')) as Row[]) certs.set(String(r.serial), { status: String(r.status), revokedAt: s(r.revoked_at) });
  const tokens = new Map<string, { hash: string; nodeId: string; createdAt: string; usedAt: string | null; cancelledAt: string | null }>();
  for (const r of (await db('hub_tokens').select('hash', 'node_id', 'created_at', 'used_at', 'cancelled_at')) as Row[]) tokens.set(String(r.hash), { hash: String(r.hash), nodeId: String(r.node_id), createdAt: String(r.created_at), usedAt: s(r.used_at), cancelledAt: s(r.cancelled_at) });
  const nodes = new Map<string, { status: string; grade: number; enrolledAt: string | null; updatedAt: string | null }>();
  for (const r of (await db('hub_nodes').select('node_id', 'status', 'grade', 'enrolled_at', 'updated_at')) as Row[]) nodes.set(String(r.node_id), { status: String(r.status), grade: Number(r.grade), enrolledAt: s(r.enrolled_at), updatedAt: s(r.updated_at) });

  type Step = { object: string; what: string; run: (trx: Knex.Transaction) => Promise<number> };
  const steps: Step[] = [];
  for (const [serial, e] of want.issued) {
    if (certs.has(serial)) continue;
    if (e.nodeId !== HUB_NODE_ID && !nodes.has(e.nodeId) && want.nodes.get(e.nodeId)?.kind !== 'node.enrolled') {
      result.unknown++;
      continue;
    }
    const rev = want.revoked.get(serial); // issued and revoked since the restore point: registered revoked
    steps.push({
      object: `cert:${serial}`,
      what: `cert.issued node=${e.nodeId} notAfter=${e.notAfter}${rev ? ` revoked at=${rev.at} reason=${rev.reason}` : ''}`,
      run: async (trx) => {
        await trx('hub_certs').insert({ serial, node_id: e.nodeId, not_before: e.notBefore, not_after: e.notAfter, status: rev ? 'revoked' : 'active', issued_at: e.issuedAt, grade: e.grade ?? null, revoked_at: rev?.at ?? null, reason: rev?.reason ?? null });
        return 1;
      },
    });
  }
  for (const [serial, r] of want.revoked) {
    const c = certs.get(serial);
    if (!c || (c.status === 'revoked' && c.revokedAt !== null && ms(c.revokedAt) <= ms(r.at))) continue;
    steps.push({
      object: `cert:${serial}`,
      what: `cert.revoked at=${r.at} reason=${r.reason}`,
      run: (trx) => trx('hub_certs').where({ serial }).andWhere((q) => void q.where({ status: 'active' }).orWhere('revoked_at', '>', r.at)).update({ status: 'revoked', revoked_at: r.at, reason: r.reason }),
    });
  }
  for (const [nodeId, ev] of want.nodes) {
    const n = nodes.get(nodeId);
    if (ev.kind === 'node.revoked') {
      // the store's node was not enrolled again after this revocation, and is not revoked already
      if (!n || n.status === 'revoked' || ms(n.enrolledAt) >= ms(ev.at)) continue;
      steps.push({
        object: `node:${nodeId}`,
        what: `node.revoked at=${ev.at}`,
        run: (trx) => trx('hub_nodes').where({ node_id: nodeId }).whereNot({ status: 'revoked' }).andWhere((q) => void q.whereNull('enrolled_at').orWhere('enrolled_at', '<', ev.at)).update({ status: 'revoked', updated_at: ev.at }),
      });
    } else if (!n) {
      // a node first enrolled after the restore point: its row again (name unknown), so its certificate is served
      steps.unshift({
        object: `node:${nodeId}`,
        what: `node.enrolled at=${ev.at} grade=${ev.grade} (registered again)`,
        run: async (trx) => {
          await trx('hub_nodes').insert({ node_id: nodeId, name: null, grade: ev.grade!, status: 'active', enrolled_at: ev.at, created_at: ev.at, updated_at: ev.at });
          return 1;
        },
      });
    } else {
      // an enrolment the store lost: its grade (lower or higher) and an active status — unless the store revoked the node after it
      if (ms(n.enrolledAt) >= ms(ev.at) || (n.status === 'revoked' && ms(n.updatedAt) >= ms(ev.at))) continue;
      steps.push({
        object: `node:${nodeId}`,
        what: `node.enrolled at=${ev.at} grade=${ev.grade}`,
        run: (trx) => trx('hub_nodes').where({ node_id: nodeId }).andWhere((q) => void q.whereNull('enrolled_at').orWhere('enrolled_at', '<', ev.at)).andWhere((q) => void q.whereNot({ status: 'revoked' }).orWhere('updated_at', '<', ev.at)).update({ grade: ev.grade!, status: 'active', enrolled_at: ev.at, updated_at: ev.at }),
      });
    }
  }
  for (const [hash, at] of want.used) {
    const tk = tokens.get(hash);
    if (!tk || tk.usedAt !== null) continue;
    steps.push({ object: `token:${hash.slice(0, 12)}`, what: `token.used at=${at}`, run: (trx) => trx('hub_tokens').where({ hash }).whereNull('used_at').update({ used_at: at }) });
  }
  for (const [nodeId, at] of want.cancelled) {
    const open = [...tokens.values()].filter((tk) => tk.nodeId === nodeId && tk.usedAt === null && tk.cancelledAt === null && ms(tk.createdAt) < ms(at) && !want.used.has(tk.hash));
    if (open.length === 0) continue;
    steps.push({ object: `node:${nodeId}`, what: `tokens.cancelled at=${at}`, run: (trx) => trx('hub_tokens').where({ node_id: nodeId }).whereNull('used_at').whereNull('cancelled_at').where('created_at', '<', at).update({ cancelled_at: at }) });
  }
  // The node a lost token announced, as its latest token.made gave it (announce keeps the latest name).
  const latestMade = new Map<string, Extract<JournalEntry, { kind: 'token.made' }>>();
  for (const { e } of want.made.values()) latestMade.set(e.nodeId, e);
  for (const [hash, { e: tk, line }] of want.made) {
    if (tokens.has(hash) || !tokenAlive(tk, line, want, nodes.get(tk.nodeId), tokens, now)) continue;
    const announce = !nodes.has(tk.nodeId) && !want.nodes.has(tk.nodeId);
    const node = latestMade.get(tk.nodeId)!;
    steps.push({
      object: `token:${hash.slice(0, 12)}`,
      what: `token.made node=${tk.nodeId} grade=${tk.grade} expiresAt=${tk.expiresAt}${announce ? ' (node registered again, pending)' : ''}`,
      run: async (trx) => {
        // what the store holds now, not when the run began: a revocation or cancellation since wins
        const since = new Date(ms(tk.createdAt) - TOKEN_SKEW_MS).toISOString();
        const n = (await trx('hub_nodes').where({ node_id: tk.nodeId }).first('status', 'enrolled_at', 'updated_at')) as Row | undefined;
        if (n && (ms(s(n.enrolled_at)) >= ms(since) || (n.status === 'revoked' && ms(s(n.updated_at)) >= ms(since)))) return 0;
        if (await trx('hub_tokens').where({ node_id: tk.nodeId }).where('cancelled_at', '>=', since).first('hash')) return 0;
        // its node as the token announced it, when the store lost that too (enrolment then activates it)
        if (announce && !n) await trx('hub_nodes').insert({ node_id: tk.nodeId, name: node.name ?? null, grade: node.grade, status: 'pending', created_at: tk.createdAt, updated_at: node.createdAt });
        await trx('hub_tokens').insert({ hash, node_id: tk.nodeId, grade: tk.grade, created_at: tk.createdAt, expires_at: tk.expiresAt, used_at: null });
        return 1;
      },
    });
  }
  if (steps.length === 0) return result;

  const from = `from ${JOURNAL_FILE}: the store had lost it`;
  await db.transaction(async (trx) => {
    const applied: Step[] = [];
    for (const step of steps) {
      try {
        const n = await trx.transaction((sp) => step.run(sp)); // a savepoint: one failing fact does not undo the others (rolled back to it, so PostgreSQL goes on)
        if (n > 0) applied.push(step);
      } catch (err) {
        if (!isUniqueViolation(err)) result.failed++; // a unique violation: another hub process registered the certificate a moment ago
      }
    }
    // the audit entries last: audit/log.ts LOCK ORDER (no register row is written while the audit lock is held)
    for (const step of applied) await audit.recordIn(trx, { action: 'register.replay', actor: 'svc:hub', actorNode: HUB_NODE_ID, object: step.object, outcome: 'success', reason: `${step.what} ${from}` });
    result.replayed = applied.length;
  });
  return result;
}

/** How often a running hub reconciles (a lossy failover happens under running processes, not only before a start). */
export const RECONCILE_INTERVAL_MS = 60_000;

export interface ReconcileJob {
  /** The run before the first request: checks the journal can be appended to and reconciles; throws (the hub does not start) when either fails. */
  atStart(): Promise<ReconcileResult>;
  /** Runs once (or joins the run under way); null when it failed (logged, tried again at the next interval). */
  runNow(): Promise<ReconcileResult | null>;
  start(): void;
  stop(): Promise<void>;
}

type JobLog = { warn(o: object, m: string): void; error(o: object, m: string): void };

function report(r: ReconcileResult, journal: RegisterJournal, log: JobLog, seen: { skipped: number; foreign: number }): void {
  if (r.replayed > 0 || r.unknown > 0) log.warn({ code: 'ERR_REGISTER_REPLAYED', replayed: r.replayed, unknownNodes: r.unknown, file: journal.file }, 'register journal: the store had lost register changes (a restore or a lossy failover?); applied again, see the register.replay audit entries');
  if (r.failed > 0) log.error({ code: 'ERR_REGISTER_JOURNAL', failed: r.failed, file: journal.file }, 'register journal: facts the store had lost could not be applied; tried again at the next run');
  if (r.skipped > seen.skipped || r.foreign > seen.foreign) log.error({ code: 'ERR_REGISTER_JOURNAL', skipped: r.skipped, foreign: r.foreign, file: journal.file }, 'register journal: lines skipped as malformed, or of another CA (a torn write, an edited or copied-in file)');
  seen.skipped = r.skipped;
  seen.foreign = r.foreign;
}

/** The reconciliation of a hub process: before the first request, then every `intervalMs`; logs what it replayed (warn) and its failures (error). */
export function reconcileJob(db: Db, journal: RegisterJournal, audit: Parameters<typeof reconcileRegister>[2], log: JobLog, intervalMs = RECONCILE_INTERVAL_MS): ReconcileJob {
  const seen = { skipped: 0, foreign: 0 };
  const job = periodicJob(() => reconcileRegister(db, journal, audit), {
    done: (r) => report(r, journal, log, seen),
    failed: (e) => log.error({ code: (e as { code?: string }).code ?? 'Error', error: (e as Error).message }, 'register journal: reconciliation failed; tried again at the next interval'),
  });
  return {
    async atStart() {
      journal.check(); // ERR_REGISTER_JOURNAL: a journal the hub cannot append to would fail every revocation
      let r: ReconcileResult;
      try {
        r = await reconcileRegister(db, journal, audit);
      } catch (e) {
        if ((e as { code?: string }).code === 'ERR_REGISTER_JOURNAL') throw e;
        throw hubError('ERR_REGISTER_JOURNAL', `the register journal ${journal.file} could not be reconciled with the store before the first request: ${(e as Error).message}`, { file: journal.file });
      }
      report(r, journal, log, seen);
      return r;
    },
    runNow: job.runNow,
    start: () => job.every(intervalMs),
    stop: job.stop,
  };
}
