/**
 * The settings of an audit log fixed when it is created, in `audit_meta` (append-only, like the
 * log): `hash` is `sha256` or `sm3` (a log on SM: SM3 hash chain and Merkle tree, checkpoints and
 * cosignatures signed SM2-with-SM3). A log created before this table existed, or without the
 * option, is `sha256`. Asking for the other algorithm on an existing log, or giving a log a signer
 * whose key does not sign with its algorithm, is ERR_AUDIT_ALGORITHM_MIXED: one log never mixes.
 */
import type { Db } from './knex-connect.js';
import { hashAlgOfCert, isAuditHashAlg, type AuditHashAlg } from './crypto.js';
import { auditError } from './errors.js';

const KEY = 'hash';

/** The log's hash algorithm as recorded (sha256 when nothing is recorded: a log older than the setting). */
export async function readHashAlg(db: Db): Promise<AuditHashAlg> {
  const row = (await db('audit_meta').where({ name: KEY }).first('value')) as { value: string } | undefined;
  if (row === undefined) return 'sha256';
  if (!isAuditHashAlg(row.value)) throw auditError('ERR_AUDIT_ALGORITHM_MIXED', `the audit log records hash algorithm "${row.value}", which this version does not know`, { recorded: row.value });
  return row.value;
}

/**
 * Fixes the algorithm on first use: records `wanted` when nothing is recorded yet and the log is
 * empty; an existing log without a record is sha256 (and recorded so); without `wanted` nothing is
 * written and the recorded algorithm (else sha256) is used. ERR_AUDIT_ALGORITHM_MIXED when
 * `wanted` differs from what the log is.
 */
export async function fixHashAlg(db: Db, wanted: AuditHashAlg | undefined, now = new Date()): Promise<AuditHashAlg> {
  const recorded = (await db('audit_meta').where({ name: KEY }).first('value')) as { value: string } | undefined;
  if (recorded === undefined && wanted === undefined) return 'sha256'; // nothing asked: an operator command must not fix a new log's algorithm
  if (recorded === undefined) {
    const used = (await db('audit_log').first('seq')) !== undefined || (await db('audit_prunes').first('first_kept')) !== undefined;
    const alg: AuditHashAlg = used ? 'sha256' : wanted!;
    // two processes creating the log at once: the first record wins, both read it back
    await db('audit_meta').insert({ name: KEY, value: alg, set_at: now.toISOString() }).onConflict('name').ignore();
  }
  const alg = await readHashAlg(db);
  if (wanted !== undefined && wanted !== alg) {
    throw auditError('ERR_AUDIT_ALGORITHM_MIXED', `the audit log was created with hash algorithm ${alg}; it cannot be continued with ${wanted} (a log never mixes algorithms: set the server's audit.hashAlg to ${alg}, or leave it out, to continue this log; start a new store for ${wanted})`, { recorded: alg, wanted });
  }
  return alg;
}

/** ERR_AUDIT_ALGORITHM_MIXED unless the certificate's key signs with `alg` (SM2 for sm3; RSA or EC P-256 for sha256). */
export function assertSignerAlg(certPem: string, alg: AuditHashAlg, who: string): void {
  const fits = hashAlgOfCert(certPem);
  if (fits === alg) return;
  throw auditError('ERR_AUDIT_ALGORITHM_MIXED', `the audit log of ${who} hashes with ${alg}, but the signer's ${fits === 'sm3' ? 'SM2' : 'RSA/EC'} key signs with ${fits}: an ${alg === 'sm3' ? 'SM log needs an SM2 certificate' : 'SHA-256 log needs an RSA or EC P-256 certificate'}`, { alg, signerAlg: fits });
}
