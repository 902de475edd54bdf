/**
 * Operator actions in the audit log (issue 16 item 6): token minting and cancelling, revocations,
 * certificate issue and re-issue, exports, catalog publication … done at the command line (or by a
 * server on an operator's behalf). The actor is `cli:<os user>@<host>` and the source address goes
 * into `reason` as `src=<address>` (the SSH client's address when the operator came over SSH, else
 * `local`), so each entry answers GB/T 22239-2019 §8.1.4.3 b): when, who, from where, what, outcome.
 * The entries are appended to the store's own audit log without a signer: the owning server's next
 * checkpoint covers them (or `credit audit export --key --cert`).
 */
import { hostname, userInfo } from 'node:os';
import type { Knex } from 'knex';
import { openAuditLog } from './log.js';
import { migrateAudit } from './schema.js';
import type { AuditEvent, AuditSink } from './types.js';

/** `cli:<os user>@<host>`. */
export function cliActor(): string {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // no passwd entry (a container): keep "unknown"
  }
  return `cli:${user}@${hostname()}`.slice(0, 200);
}

/** `src=<address>`: the SSH client's address (env SSH_CLIENT / SSH_CONNECTION), else `src=local`. */
export function cliSource(env: NodeJS.ProcessEnv = process.env): string {
  const ssh = (env.SSH_CLIENT ?? env.SSH_CONNECTION ?? '').trim().split(/\s+/)[0];
  return `src=${ssh && /^[0-9a-fA-F:.]+$/.test(ssh) ? ssh : 'local'}`;
}

/** `reason` with the source address appended. */
export function withSource(reason: string | undefined, source = cliSource()): string {
  return (reason ? `${reason} ${source}` : source).slice(0, 2000);
}

/** The operator's sink: record() on its own, or recordIn() inside the caller's transaction. */
export type OperatorSink = AuditSink & { recordIn(trx: Knex.Transaction, e: AuditEvent): Promise<number> };

/**
 * Runs `fn` with a sink appending to the audit log of `db` (migrated first when it has none yet) as the
 * command-line operator, and closes the log after it. The sink adds `src=` to every reason.
 */
export async function withOperatorAudit<T>(db: Knex, fn: (sink: OperatorSink, actor: string) => Promise<T>): Promise<T> {
  await migrateAudit(db); // a no-op on a store whose server has run
  const log = await openAuditLog(db, { checkpointIntervalMs: 0 });
  // The server may write the same SQLite store at the same moment: in WAL mode a transaction that read
  // before the server's commit gets SQLITE_BUSY at once (busy_timeout does not apply), so the operator's
  // entry is tried again, a little later each time; the log re-reads its head on the next try.
  const record: AuditSink['record'] = async (e) => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await log.record({ ...e, operator: true, reason: withSource(e.reason) });
      } catch (err) {
        if ((err as { code?: string }).code !== 'SQLITE_BUSY' || attempt >= 40) throw err;
        await new Promise((r) => setTimeout(r, 25 * attempt));
      }
    }
  };
  // inside the caller's transaction (a revocation and its entry commit together); on SQLITE_BUSY the caller runs its transaction again (retryBusy)
  const recordIn: OperatorSink['recordIn'] = (trx, e) => log.recordIn(trx, { ...e, operator: true, reason: withSource(e.reason) });
  const sink: OperatorSink = { record, recordIn };
  try {
    return await fn(sink, cliActor());
  } finally {
    await log.close();
  }
}

/**
 * One operator action recorded in the audit log of `db` (e.g. `catalog.publish`): actor defaults
 * to the command-line operator, `src=` is added to the reason. Resolves with the entry's seq.
 */
export async function auditOperatorAction(db: Knex, e: Omit<AuditEvent, 'actor'> & { actor?: string }): Promise<number> {
  return withOperatorAudit(db, (sink, actor) => sink.record({ ...e, actor: e.actor ?? actor }));
}

/**
 * Runs `fn` (one transaction of a command beside a running server) again on SQLITE_BUSY, a little
 * later each time, as withOperatorAudit's record() does.
 */
export async function retryBusy<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if ((err as { code?: string }).code !== 'SQLITE_BUSY' || attempt >= 40) throw err;
      await new Promise((r) => setTimeout(r, 25 * attempt));
    }
  }
}
