/**
 * Encryption at rest at the store (docs/at-rest.md): the codec the record stores call, the table of
 * key check values, the start-time check of the key file against the store, and the sealing pass
 * (migration of a clear store, and key rotation) in batches, resumable after a crash.
 *
 * What is sealed: per record row, one value holding the subject code, the fields and the extra
 * columns (`{"subject","fields","extra"?}`), in the `fields` column; `subject` holds the blind
 * index of the code; `extra` is null. A store opened without a keyring (tests, tools) reads and
 * writes clear rows and refuses sealed ones (ERR_DATA_KEY_MISSING).
 */
import type { Knex } from 'knex';
import { existsSync } from 'node:fs';
import type { Db } from '../audit/knex-connect.js';
import { blindIndex, blindIndexes, isSealed, keyCheckValue, openText, sealedKeyId, sealText, SEALED_PREFIX, type AtRestKeyring } from '../protocol/at-rest.js';
import { serviceError } from '../protocol/service-errors.js';
import { addKeyGeneration, createKeyFile, loadKeyWrapper, readKeyring, type KeyWrapper } from './at-rest-keys.js';

// ---------- the keyring of an open store ----------

/** Keyed by the client's config object, which knex shares between a Knex and its transactions. */
const rings = new WeakMap<object, AtRestKeyring>();

function configOf(db: Db): object {
  return (db.client as { config: object }).config;
}

export function attachKeyring(db: Db, ring: AtRestKeyring): void {
  rings.set(configOf(db), ring);
}

export function keyringOf(db: Db): AtRestKeyring | undefined {
  return rings.get(configOf(db));
}

// ---------- the codec ----------

export interface RecordSecrets {
  subject: string;
  fields: Record<string, unknown>;
  extra?: Record<string, string> | null;
}

export interface SealedColumns {
  subject: string;
  fields: string;
  extra: string | null;
}

/** The columns of a record row: sealed under the current key, or clear without a keyring. */
export function sealRecord(db: Db, context: string, s: RecordSecrets): SealedColumns {
  const ring = keyringOf(db);
  if (!ring) return { subject: s.subject, fields: JSON.stringify(s.fields), extra: s.extra ? JSON.stringify(s.extra) : null };
  const body = s.extra ? { subject: s.subject, fields: s.fields, extra: s.extra } : { subject: s.subject, fields: s.fields };
  return { subject: blindIndex(ring.current, s.subject), fields: sealText(ring.current, context, JSON.stringify(body)), extra: null };
}

/** The content of a record row, sealed or clear. */
export function openRecord(db: Db, context: string, row: { subject?: unknown; fields?: unknown; extra?: unknown }): RecordSecrets {
  const fields = String(row.fields);
  if (!isSealed(fields)) {
    return { subject: String(row.subject ?? ''), fields: JSON.parse(fields) as Record<string, unknown>, extra: typeof row.extra === 'string' ? (JSON.parse(row.extra) as Record<string, string>) : null };
  }
  const ring = keyringOf(db);
  if (!ring) throw serviceError('ERR_DATA_KEY_MISSING', `${context} is sealed at rest and no data key is loaded`, { context });
  const body = JSON.parse(openText(ring, context, fields)) as RecordSecrets;
  return { subject: body.subject, fields: body.fields, extra: body.extra ?? null };
}

/** What a `subject` column may hold for `code`: the blind index under each key held, and the code itself (a row not yet sealed). */
export function subjectKeys(db: Db, code: string): string[] {
  const ring = keyringOf(db);
  return ring ? [code, ...blindIndexes(ring, code)] : [code];
}

// ---------- the key check values ----------

/** knex migration of each side's key table (`<prefix>_at_rest_keys`): key id, check value, first use. */
export function atRestKeysMigration(prefix: 'node' | 'hub', name: string) {
  return {
    name,
    async up(db: Knex) {
      await db.schema.createTable(`${prefix}_at_rest_keys`, (t) => {
        t.string('kid', 16).primary();
        t.string('kcv', 16).notNullable();
        t.string('registered_at', 30).notNullable();
      });
    },
    async down(db: Knex) {
      await db.schema.dropTableIfExists(`${prefix}_at_rest_keys`);
    },
  };
}

/** One sealed table: how to page through it and how to name a row. */
export interface SealedTable {
  table: string;
  /** Primary key columns, in paging order. */
  pk: readonly string[];
  context(row: Record<string, unknown>): string;
}

export interface AtRestSide {
  prefix: 'node' | 'hub';
  tables: readonly SealedTable[];
}

/**
 * At start: the key file against the store. Absent: refused (ERR_DATA_KEY_MISSING, nothing
 * written) when the store has registered a key or holds a sealed row; otherwise created (0600).
 * Present: every key the store registered must be in it with the same check value
 * (ERR_DATA_KEY_WRONG). The current key is then registered and the keyring attached to `db`.
 */
export async function openAtRest(db: Knex, side: AtRestSide, keyFile: string, wrapper: KeyWrapper): Promise<AtRestKeyring> {
  const T = `${side.prefix}_at_rest_keys`;
  const registered = (await db(T).select('kid', 'kcv')) as { kid: string; kcv: string }[];
  let ring: AtRestKeyring;
  if (!existsSync(keyFile)) {
    if (registered.length > 0 || (await anySealed(db, side))) {
      throw serviceError('ERR_DATA_KEY_MISSING', `data key file ${keyFile} is missing and the store holds data sealed under key ${registered.map((r) => r.kid).join(', ') || '?'}: restore the key file from its backup (docs/at-rest.md § Key backup)`, { file: keyFile });
    }
    ring = await createKeyFile(keyFile, wrapper);
  } else {
    ring = await readKeyring(keyFile, wrapper);
  }
  for (const r of registered) {
    const key = ring.keys.get(r.kid);
    if (!key || keyCheckValue(key) !== r.kcv) {
      throw serviceError('ERR_DATA_KEY_WRONG', `data key file ${keyFile} ${key ? 'holds another' : 'lacks'} key ${r.kid} than the one this store was sealed under: use this store's own key file (docs/at-rest.md § Key backup)`, { file: keyFile, kid: r.kid });
    }
  }
  if (!registered.some((r) => r.kid === ring.current.id)) {
    await db(T).insert({ kid: ring.current.id, kcv: keyCheckValue(ring.current), registered_at: new Date().toISOString() }).onConflict('kid').ignore();
  }
  attachKeyring(db, ring);
  return ring;
}

async function anySealed(db: Knex, side: AtRestSide): Promise<boolean> {
  for (const t of side.tables) {
    if (await db(t.table).where('fields', 'like', `${SEALED_PREFIX}%`).first(t.pk[0]!)) return true;
  }
  return false;
}

export interface SealProgress {
  table: string;
  done: number;
  total: number;
}

/**
 * Brings every row of the side's tables under the current key: clear rows are sealed, rows sealed
 * under an older key are re-sealed (and their blind index recomputed). Batches of `batch` rows, one
 * transaction each, in primary-key order: after a crash the next run skips rows already done.
 * Returns the rows changed per table.
 */
export async function sealPass(db: Knex, side: AtRestSide, o: { batch?: number; onProgress?: (p: SealProgress) => void } = {}): Promise<Record<string, number>> {
  const ring = keyringOf(db);
  if (!ring) throw serviceError('ERR_DATA_KEY_MISSING', 'no data key is loaded');
  const batch = o.batch ?? 500;
  const done = `${SEALED_PREFIX}${ring.current.id}.%`;
  const out: Record<string, number> = {};
  for (const t of side.tables) {
    const total = Number(((await db(t.table).whereNot('fields', 'like', done).count({ n: '*' }).first()) as { n: number | string }).n);
    out[t.table] = 0;
    if (total === 0) continue;
    let after: Record<string, unknown> | undefined;
    for (;;) {
      const q = db(t.table).select(...t.pk, 'subject', 'fields', ...(t.table === 'node_records' ? ['extra'] : [])).whereNot('fields', 'like', done).orderBy([...t.pk]).limit(batch);
      if (after) q.andWhere(keysetAfter(db, t.pk, after));
      const rows = (await q) as Record<string, unknown>[];
      if (rows.length === 0) break;
      await db.transaction(async (trx) => {
        for (const row of rows) {
          const ctx = t.context(row);
          const plain = openRecord(trx, ctx, row);
          const cols = sealRecord(trx, ctx, plain);
          const set: Record<string, unknown> = { subject: cols.subject, fields: cols.fields };
          if (t.table === 'node_records') set.extra = cols.extra;
          await trx(t.table).where(Object.fromEntries(t.pk.map((c) => [c, row[c]]))).update(set);
        }
      });
      out[t.table] = (out[t.table] ?? 0) + rows.length;
      after = rows[rows.length - 1];
      o.onProgress?.({ table: t.table, done: out[t.table]!, total });
    }
  }
  return out;
}

function keysetAfter(db: Knex, pk: readonly string[], last: Record<string, unknown>): Knex.Raw {
  if (pk.length === 1) return db.raw('?? > ?', [pk[0]!, last[pk[0]!] as Knex.Value]);
  return db.raw('(?? > ? or (?? = ? and ?? > ?))', [pk[0]!, last[pk[0]!] as Knex.Value, pk[0]!, last[pk[0]!] as Knex.Value, pk[1]!, last[pk[1]!] as Knex.Value]);
}

/** Rows not yet under the current key, per table (0 everywhere once a pass finished). */
export async function pendingRows(db: Knex, side: AtRestSide): Promise<Record<string, number>> {
  const ring = keyringOf(db);
  const out: Record<string, number> = {};
  for (const t of side.tables) {
    const q = db(t.table).count({ n: '*' });
    if (ring) q.whereNot('fields', 'like', `${SEALED_PREFIX}${ring.current.id}.%`);
    out[t.table] = Number(((await q.first()) as { n: number | string }).n);
  }
  return out;
}

export { sealedKeyId };

/**
 * At start (node and hub): the key file checked against the store (openAtRest), then every row
 * brought under the current key (sealPass: the migration of a clear store, or the rest of an
 * interrupted rotation). Progress goes to `log` (counts only, never content).
 */
export async function startAtRest(db: Knex, side: AtRestSide, o: { keyFile: string; keyWrapper: string }, log?: (p: SealProgress) => void): Promise<AtRestKeyring> {
  const wrapper = await loadKeyWrapper(o.keyWrapper);
  const ring = await openAtRest(db, side, o.keyFile, wrapper);
  await sealPass(db, side, log ? { onProgress: log } : {});
  return ring;
}

export interface RekeyResult {
  from: string;
  to: string;
  /** True when an interrupted rotation was continued (no new key made). */
  resumed: boolean;
  rows: Record<string, number>;
}

/**
 * Key rotation (`credit node rekey`, `credit hub rekey`; the server must be stopped): checks the
 * key file against the store, then either continues an interrupted rotation (rows remain under an
 * older key) or adds a key generation to the key file and registers it; then re-seals every row
 * under the new key in batches (sealPass). Old keys stay in the key file: backups made under them
 * still open. `audit` is called before and after (counts and key ids only).
 */
export async function rekeyStore(db: Knex, side: AtRestSide, o: { keyFile: string; keyWrapper: string }, hooks: { onProgress?: (p: SealProgress) => void; audit?: (phase: 'start' | 'done', r: RekeyResult) => Promise<unknown> } = {}): Promise<RekeyResult> {
  const wrapper = await loadKeyWrapper(o.keyWrapper);
  let ring = await openAtRest(db, side, o.keyFile, wrapper);
  const pending = Object.values(await pendingRows(db, side)).reduce((a, b) => a + b, 0);
  const from = ring.current.id;
  const resumed = pending > 0;
  if (!resumed) {
    ring = await addKeyGeneration(o.keyFile, wrapper);
    await db(`${side.prefix}_at_rest_keys`).insert({ kid: ring.current.id, kcv: keyCheckValue(ring.current), registered_at: new Date().toISOString() }).onConflict('kid').ignore();
    attachKeyring(db, ring);
  }
  const result: RekeyResult = { from, to: ring.current.id, resumed, rows: {} };
  await hooks.audit?.('start', result);
  result.rows = await sealPass(db, side, hooks.onProgress ? { onProgress: hooks.onProgress } : {});
  await hooks.audit?.('done', result);
  return result;
}
