/**
 * SQL of the exchange evidence tables (node_exchange_evidence, hub_exchange_evidence: the same
 * columns, one per store; the migrations call createEvidenceTable). Rows are only inserted, never
 * changed: a second insert of the same envelope (id and digest) is ignored. The header is kept as
 * its canonical JSON text, so it is given back byte for byte as it was signed.
 */
import type { Knex } from 'knex';
import { canonicalize } from '../protocol/canonical-json.js';
import type { EnvelopeHeader } from '../protocol/envelope.js';
import type { Db } from './knex-connect.js';
import { answeredBy, type EnvelopeEvidence, type EvidenceDirection } from './evidence-record.js';

export type EvidenceTable = 'node_exchange_evidence' | 'hub_exchange_evidence';

export async function createEvidenceTable(db: Knex, table: EvidenceTable): Promise<void> {
  await db.schema.createTable(table, (t) => {
    t.string('envelope_id', 36).notNullable();
    t.string('digest', 64).notNullable();
    t.string('direction', 8).notNullable();
    t.string('type', 32).notNullable();
    t.string('from_node', 6).notNullable();
    t.string('to_node', 6).notNullable();
    t.bigInteger('seq').notNullable();
    t.string('ts', 30).notNullable();
    t.text('header').notNullable();
    t.text('sig_protected').notNullable();
    t.text('signature').notNullable();
    t.string('re_id', 36).nullable().index(`${table}_re_idx`);
    t.string('re_digest', 64).nullable();
    t.string('recorded_at', 30).notNullable().index(`${table}_recorded_idx`);
    t.primary(['envelope_id', 'digest']);
  });
}

export async function dropEvidenceTable(db: Knex, table: EvidenceTable): Promise<void> {
  await db.schema.dropTableIfExists(table);
}

type Row = Record<string, unknown>;

function fromRow(r: Row): EnvelopeEvidence {
  return {
    direction: String(r.direction) as EvidenceDirection,
    recordedAt: String(r.recorded_at),
    header: JSON.parse(String(r.header)) as EnvelopeHeader,
    digest: String(r.digest),
    sig: { protected: String(r.sig_protected), signature: String(r.signature) },
  };
}

export const evidenceStore = {
  /** Keeps one envelope's evidence; false when it was already kept. */
  async insert(db: Db, table: EvidenceTable, e: EnvelopeEvidence): Promise<boolean> {
    const h = e.header;
    const re = answeredBy(h);
    const out: unknown[] = await db(table)
      .insert({
        envelope_id: h.id, digest: e.digest, direction: e.direction, type: h.type, from_node: h.from, to_node: h.to, seq: h.seq, ts: h.ts,
        header: canonicalize(h), sig_protected: e.sig.protected, signature: e.sig.signature, re_id: re?.id ?? null, re_digest: re?.digest ?? null, recorded_at: e.recordedAt,
      })
      .onConflict(['envelope_id', 'digest'])
      .ignore()
      .returning('envelope_id');
    return out.length === 1;
  },

  /**
   * Evidence recorded in [from, to] (ISO times, either open), in recording order, plus the
   * answers of the envelopes selected and the envelopes the selected answers name, wherever
   * they fall, so a pair is never cut in two by the range.
   */
  async list(db: Db, table: EvidenceTable, range: { from?: string; to?: string } = {}): Promise<EnvelopeEvidence[]> {
    const q = db(table).select('*');
    if (range.from) q.where('recorded_at', '>=', range.from);
    if (range.to) q.where('recorded_at', '<=', range.to);
    const rows = (await q.orderBy([{ column: 'recorded_at' }, { column: 'envelope_id' }, { column: 'digest' }])) as Row[];
    if (range.from || range.to) {
      const have = new Set(rows.map((r) => `${String(r.envelope_id)} ${String(r.digest)}`));
      const ids = [...new Set(rows.map((r) => String(r.envelope_id)))];
      const named = [...new Set(rows.filter((r) => r.re_id !== null && r.re_id !== undefined).map((r) => String(r.re_id)))];
      for (let i = 0; i < Math.max(ids.length, named.length); i += 500) {
        const more = (await db(table).select('*').where((w) => {
          w.whereIn('re_id', ids.slice(i, i + 500)).orWhereIn('envelope_id', named.slice(i, i + 500));
        })) as Row[];
        for (const r of more) {
          const k = `${String(r.envelope_id)} ${String(r.digest)}`;
          if (!have.has(k)) {
            have.add(k);
            rows.push(r);
          }
        }
      }
      rows.sort((a, b) => String(a.recorded_at).localeCompare(String(b.recorded_at)) || String(a.envelope_id).localeCompare(String(b.envelope_id)) || String(a.digest).localeCompare(String(b.digest)));
    }
    return rows.map(fromRow);
  },

  /** Every evidence row of envelope `id` (each attempt of a re-sent batch) and of the answers that name it. */
  async about(db: Db, table: EvidenceTable, id: string): Promise<EnvelopeEvidence[]> {
    const rows = (await db(table).select('*').where('envelope_id', id).orWhere('re_id', id).orderBy([{ column: 'recorded_at' }, { column: 'digest' }])) as Row[];
    return rows.map(fromRow);
  },

  async has(db: Db, table: EvidenceTable): Promise<boolean> {
    return db.schema.hasTable(table);
  },
};
