/**
 * The CA's register of issued certificates and its enrolment tokens in the hub database
 * (hub_certs, hub_tokens): certs/ CertRegistry + TokenStore. With the CA key and certificate from
 * caDir this is a certs `Ca`, so enrol/issue/renew/revoke/buildCrl work unchanged on it.
 * Only the SHA-256 of a token is stored; a token is marked used by one conditional UPDATE, so it
 * is single use even when several hub processes redeem it at once, and never after it was cancelled.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Db } from '../audit/knex-connect.js';
import { markHubRegister } from '../certs/ca-dir.js';
import { readSm2Ca } from '../certs/sm2-ca-dir.js';
import type { Sm2Issuer } from '../certs/sm2-x509.js';
import { certError } from '../certs/errors.js';
import { normaliseSerial } from '../certs/pki-crypto.js';
import type { RevocationReason } from '../certs/crl.js';
import type { Ca, CertRegistry, IssuedCert, TokenRecord, TokenStore } from '../certs/types.js';
import { autocommitSink, registerJournal, type JournalSink, type RegisterJournal } from './register-journal.js';

type Row = Record<string, unknown>;

const opt = (v: unknown): string | undefined => (v === null || v === undefined ? undefined : String(v));

function certFromRow(r: Row): IssuedCert {
  const grade = r.grade === null || r.grade === undefined ? undefined : Number(r.grade);
  const revokedAt = opt(r.revoked_at);
  const reason = opt(r.reason) as RevocationReason | undefined;
  return {
    nodeId: String(r.node_id),
    serial: String(r.serial),
    notBefore: String(r.not_before),
    notAfter: String(r.not_after),
    status: r.status === 'revoked' ? 'revoked' : 'active',
    issuedAt: String(r.issued_at),
    ...(grade === undefined ? {} : { grade }),
    ...(revokedAt === undefined ? {} : { revokedAt }),
    ...(reason === undefined ? {} : { reason }),
  };
}

function tokenFromRow(r: Row): TokenRecord {
  const usedAt = opt(r.used_at);
  const cancelledAt = opt(r.cancelled_at);
  return {
    hash: String(r.hash), nodeId: String(r.node_id), grade: Number(r.grade), createdAt: String(r.created_at), expiresAt: String(r.expires_at),
    ...(usedAt === undefined ? {} : { usedAt }),
    ...(cancelledAt === undefined ? {} : { cancelledAt }),
  };
}

export class DbCertRegistry implements CertRegistry, TokenStore {
  /** `journal`: where the facts this registry changes go (hub/register-journal.ts); none where nothing is journalled (the hub's own certificate). */
  constructor(private readonly db: Db, private readonly journal: JournalSink = autocommitSink(undefined)) {}

  async addIssued(rec: IssuedCert): Promise<void> {
    await this.db('hub_certs').insert({
      serial: normaliseSerial(rec.serial),
      node_id: rec.nodeId,
      not_before: rec.notBefore,
      not_after: rec.notAfter,
      status: rec.status,
      issued_at: rec.issuedAt,
      grade: rec.grade ?? null,
      revoked_at: rec.revokedAt ?? null,
      reason: rec.reason ?? null,
    });
    this.journal.grant({ kind: 'cert.issued', serial: normaliseSerial(rec.serial), nodeId: rec.nodeId, notBefore: rec.notBefore, notAfter: rec.notAfter, issuedAt: rec.issuedAt, ...(rec.grade === undefined ? {} : { grade: rec.grade }) });
  }

  async listIssued(): Promise<IssuedCert[]> {
    const rows: Row[] = await this.db('hub_certs').select('*').orderBy('n');
    return rows.map(certFromRow);
  }

  /** One certificate by serial (the per-request revocation check uses hub stores instead). */
  async findIssued(serial: string): Promise<IssuedCert | undefined> {
    const row: Row | undefined = await this.db('hub_certs').where({ serial: normaliseSerial(serial) }).first();
    return row ? certFromRow(row) : undefined;
  }

  async markRevoked(serial: string, at: Date, reason: RevocationReason): Promise<boolean> {
    const s = normaliseSerial(serial);
    const when = at.toISOString();
    this.journal.restrict({ kind: 'cert.revoked', serial: s, at: when, reason }); // before the change: it cannot be lost after it
    // active, or revoked only from a later time (a superseded certificate's overlap): the earlier revocation wins
    const n = await this.db('hub_certs')
      .where({ serial: s })
      .andWhere((q) => void q.where({ status: 'active' }).orWhere('revoked_at', '>', when))
      .update({ status: 'revoked', revoked_at: when, reason });
    if (n > 0) return true;
    return (await this.db('hub_certs').where({ serial: s }).first('serial')) !== undefined;
  }

  async putToken(rec: TokenRecord): Promise<void> {
    await this.db('hub_tokens').insert({ hash: rec.hash, node_id: rec.nodeId, grade: rec.grade, created_at: rec.createdAt, expires_at: rec.expiresAt, used_at: rec.usedAt ?? null });
  }

  async findToken(hash: string): Promise<TokenRecord | undefined> {
    const r: Row | undefined = await this.db('hub_tokens').where({ hash }).first();
    return r ? tokenFromRow(r) : undefined;
  }

  async markTokenUsed(hash: string, at: Date): Promise<boolean> {
    this.journal.restrict({ kind: 'token.used', hash, at: at.toISOString() }); // before the change
    const n = await this.db('hub_tokens').where({ hash }).whereNull('used_at').whereNull('cancelled_at').update({ used_at: at.toISOString() });
    return n === 1;
  }

  /** Every token (hashes only), newest first. */
  async listTokens(): Promise<TokenRecord[]> {
    const rows: Row[] = await this.db('hub_tokens').select('*').orderBy([{ column: 'created_at', order: 'desc' }, { column: 'hash' }]);
    return rows.map(tokenFromRow);
  }

  /** Cancels the node's unused, uncancelled tokens; returns how many. */
  async cancelTokens(nodeId: string, at: Date): Promise<number> {
    this.journal.restrict({ kind: 'tokens.cancelled', nodeId, at: at.toISOString() }); // before the change
    return this.db('hub_tokens').where({ node_id: nodeId }).whereNull('used_at').whereNull('cancelled_at').update({ cancelled_at: at.toISOString() });
  }

  /** The same register inside `trx`, its facts sent to `journal` (held until the commit: hub/register-journal.ts journalled). */
  within(trx: Db, journal: JournalSink): DbCertRegistry {
    return new DbCertRegistry(trx, journal);
  }
}

export interface HubCa extends Ca {
  certs: DbCertRegistry;
  tokens: DbCertRegistry;
  /** The SM2 root beside the RSA one (`credit ca init --algorithm sm2`), when caDir has it: issues nodes' SM2 certificates into the same register. */
  sm2?: { certPem: string; issuer: Sm2Issuer };
  /** caDir/register-journal.ndjson: the register's committed facts, kept outside the store (hub/register-journal.ts). */
  journal: RegisterJournal;
}

/**
 * The CA certificate and key from caDir (ca.pem, ca.key) with the register in the hub database.
 * Marks caDir as the hub's, so `credit ca …` no longer uses the directory's own (unused) register.
 */
export function openHubCa(db: Db, caDir: string): HubCa {
  let certPem: string;
  let keyPem: string;
  try {
    certPem = readFileSync(join(caDir, 'ca.pem'), 'utf8');
    keyPem = readFileSync(join(caDir, 'ca.key'), 'utf8');
  } catch (e) {
    throw certError('ERR_CA_NOT_FOUND', `no CA in ${caDir} (run \`credit ca init --dir ${caDir}\`): ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { dir: caDir });
  }
  markHubRegister(caDir);
  const journal = registerJournal(caDir, certPem);
  // outside a transaction each statement commits on its own (hub/register-journal.ts autocommitSink)
  const store = new DbCertRegistry(db, autocommitSink(journal));
  const sm2 = readSm2Ca(caDir);
  return { certPem, keyPem, certs: store, tokens: store, journal, ...(sm2 ? { sm2 } : {}) };
}
