/**
 * `credit node check` and `credit hub check`: the checklist an operator runs before (and while)
 * a server runs — config, data directory, store and schema, certificate, CRL, disk space — one
 * line each, `ok`, `warn` or `FAIL`; exit 1 when anything failed.
 */
import { accessSync, constants, existsSync, readFileSync, statSync, statfsSync } from 'node:fs';
import type { Knex } from 'knex';
import { connect, isPostgresUrl } from '../../audit/knex-connect.js';
import { migrationState, storeLabel, type SchemaPart } from '../../audit/migration-plan.js';
import { probeStore } from '../../audit/start-checks.js';
import { parseCrl } from '../../certs/crl.js';
import { certInfo } from '../../certs/pki-crypto.js';
import { isCreditError } from '../../protocol/errors.js';
import { CERT_MIN_DAYS } from '../../node/readiness.js'; // the same bound as /readyz
import type { Io } from './framework.js';

export type Verdict = 'ok' | 'warn' | 'FAIL';
export interface CheckLine {
  verdict: Verdict;
  what: string;
  detail: string;
}

const DAY_MS = 86_400_000;
const DISK_WARN_BYTES = 1024 ** 3;
const DISK_FAIL_BYTES = 100 * 1024 ** 2;

function explain(e: unknown): string {
  return isCreditError(e) ? `${e.code}: ${e.message}` : (e as Error).message;
}

export function checkDataDir(dataDir: string): CheckLine[] {
  const lines: CheckLine[] = [];
  try {
    const mode = statSync(dataDir).mode & 0o777;
    accessSync(dataDir, constants.R_OK | constants.W_OK | constants.X_OK);
    lines.push(mode & 0o077 ? { verdict: 'warn', what: 'data dir', detail: `${dataDir} is ${mode.toString(8)}; 0700 keeps other users out (start sets it)` } : { verdict: 'ok', what: 'data dir', detail: `${dataDir}: 0700, writable by this user` });
  } catch (e) {
    lines.push({ verdict: 'FAIL', what: 'data dir', detail: `${dataDir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}; it must be readable and writable by the user the server runs as` });
    return lines;
  }
  try {
    const fs = statfsSync(dataDir);
    const free = fs.bavail * fs.bsize;
    const gib = (free / 1024 ** 3).toFixed(1);
    lines.push({ verdict: free < DISK_FAIL_BYTES ? 'FAIL' : free < DISK_WARN_BYTES ? 'warn' : 'ok', what: 'disk space', detail: `${gib} GiB free under ${dataDir}` });
  } catch (e) {
    lines.push({ verdict: 'warn', what: 'disk space', detail: `cannot tell: ${(e as Error).message}` });
  }
  return lines;
}

/**
 * PostgreSQL's autovacuum: off, dead rows are never reclaimed, transaction ids never frozen, and
 * planner statistics never refreshed (hub and node refresh those of their bulk tables themselves,
 * hub/planner-stats.ts, node/planner-stats.ts). A warning, not a failure: the store works.
 */
async function checkAutovacuum(db: Knex, role: 'node' | 'hub'): Promise<CheckLine> {
  const r = (await db.raw('show autovacuum')) as { rows: { autovacuum: string }[] };
  if (r.rows[0]?.autovacuum === 'on') return { verdict: 'ok', what: 'autovacuum', detail: 'on (PostgreSQL reclaims dead rows and keeps planner statistics current)' };
  const stats = `the ${role} refreshes the statistics of its bulk tables itself (${role}/planner-stats.ts), but nothing reclaims dead rows`;
  return { verdict: 'warn', what: 'autovacuum', detail: `off on this PostgreSQL server: ${stats}; set autovacuum = on in postgresql.conf (docs/scale.md, "Planner statistics")` };
}

export async function checkStore(target: string, parts: readonly SchemaPart[], role: 'node' | 'hub'): Promise<CheckLine[]> {
  const store = storeLabel(target);
  if (!isPostgresUrl(target) && !existsSync(target)) return [{ verdict: 'warn', what: 'store', detail: `${store} does not exist yet; \`credit ${role} start\` (or \`credit ${role} migrate\`) creates it` }];
  const db = await connect(target);
  try {
    await probeStore(db, target);
    const s = await migrationState(db, parts);
    if (s.unknown.length > 0) return [{ verdict: 'FAIL', what: 'store', detail: `ERR_SCHEMA_TOO_NEW: ${store} was migrated by a newer version (${s.unknown.map((u) => `${u.part} ${u.name}`).join(', ')})` }];
    const vacuum = isPostgresUrl(target) ? [await checkAutovacuum(db, role)] : [];
    if (s.pending.length > 0) return [{ verdict: 'warn', what: 'store', detail: `${store}: ${s.pending.length} migration(s) pending; \`credit ${role} migrate --config FILE\` (or start) applies them` }, ...vacuum];
    return [{ verdict: 'ok', what: 'store', detail: `${store}: answers, schema up to date (${s.applied.length} migrations)` }, ...vacuum];
  } catch (e) {
    return [{ verdict: 'FAIL', what: 'store', detail: explain(e) }];
  } finally {
    await db.destroy();
  }
}

/** Days left on a certificate; FAIL when expired, not yet valid, revoked by `crlPem`, or under CERT_MIN_DAYS. */
export async function checkCertificate(what: string, file: string, o: { now: Date; crlPem?: string; caCertPem?: string; renewal: string }): Promise<CheckLine[]> {
  let info;
  try {
    info = certInfo(readFileSync(file, 'utf8'));
  } catch (e) {
    return [{ verdict: 'FAIL', what, detail: `${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` }];
  }
  const days = Math.floor((info.notAfter.getTime() - o.now.getTime()) / DAY_MS);
  const lines: CheckLine[] = [];
  if (info.notAfter <= o.now) lines.push({ verdict: 'FAIL', what, detail: `${file} expired ${info.notAfter.toISOString()}; ${o.renewal}` });
  else if (info.notBefore > o.now) lines.push({ verdict: 'FAIL', what, detail: `${file} is valid only from ${info.notBefore.toISOString()}: check this machine's clock` });
  else if (days < CERT_MIN_DAYS) lines.push({ verdict: 'FAIL', what, detail: `${file} expires in ${days} day(s) (${info.notAfter.toISOString()}); ${o.renewal}` });
  else lines.push({ verdict: 'ok', what, detail: `${file}: serial ${info.serial}, ${days} days left` });
  if (o.crlPem !== undefined) {
    try {
      const crl = await parseCrl(o.crlPem, o.caCertPem === undefined ? {} : { caCertPem: o.caCertPem });
      if (crl.revoked.has(info.serial)) lines.push({ verdict: 'FAIL', what: 'revocation', detail: `serial ${info.serial} is on the hub's CRL: this node is cut off; ask the hub operator for a new enrolment token` });
      else if (crl.nextUpdate !== undefined && crl.nextUpdate < o.now) lines.push({ verdict: 'warn', what: 'CRL', detail: `the stored CRL's nextUpdate ${crl.nextUpdate.toISOString()} has passed; the node fetches a new one from the hub` });
      else lines.push({ verdict: 'ok', what: 'CRL', detail: `not revoked; CRL fresh until ${crl.nextUpdate?.toISOString() ?? '(no nextUpdate)'}` });
    } catch (e) {
      lines.push({ verdict: 'FAIL', what: 'CRL', detail: explain(e) });
    }
  }
  return lines;
}

/** Prints the checklist; the exit code is 1 when any line failed. */
export function report(lines: readonly CheckLine[], io: Io): number {
  for (const l of lines) io.stdout(`${l.verdict.padEnd(5)} ${l.what.padEnd(12)} ${l.detail}\n`);
  const failed = lines.filter((l) => l.verdict === 'FAIL').length;
  const warned = lines.filter((l) => l.verdict === 'warn').length;
  io.stdout(failed > 0 ? `${failed} check(s) failed, ${warned} warning(s)\n` : `all checks passed${warned > 0 ? ` (${warned} warning(s))` : ''}\n`);
  return failed > 0 ? 1 : 0;
}
