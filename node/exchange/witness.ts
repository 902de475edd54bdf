/**
 * Witnessing: after batch rounds and every checkpointIntervalMs, the node signs a checkpoint of
 * its audit log (with the node key), asks the hub which tree head it last cosigned for this node,
 * sends the checkpoint with a consistency proof from there (audit/witness.ts witnessPayload), and
 * stores the hub's cosignature (audit storeCosignature, verified against the CA) so export
 * bundles carry it. Nothing new since the last cosignature → nothing is sent.
 * Mutual witnessing (issue 16): the hub's answer to that GET also carries the hub's own latest
 * checkpoint; the node checks it exactly as the hub checks the node's (audit/witness.ts
 * checkWitness: signature, hub certificate trusted at its time, consistency from the hub head this
 * node last cosigned, kept in audit_witnessed), cosigns it with the node key, remembers it, and
 * sends the cosignature with its own checkpoint — also when the node's own log has nothing new (its
 * unchanged head goes along; the hub answers with the cosignature it already gave). A hub log that does not extend what the node
 * cosigned is not cosigned: audited as a failed 'hub.checkpoint.cosign' and logged as an error at
 * the first refusal, when the kind of refusal changes and then hourly while it lasts, and its end
 * audited as a success (reportRefusal); the exchange status shows it as hubCheckpointRefused.
 * After a restore (node/backup.ts RESTORE_MARKER in the data directory) the log no longer extends
 * the head the hub cosigned; the node then asks the hub for the largest head it cosigned before the
 * backup was made (GET …?before=backupCreatedAt), proves its log consistent with that head and sends
 * the checkpoint with `reset` (docs/audit-format.md §10a). The hub takes it only when
 * its operator armed a reset for this node; until then the loop's lastError is the hub's refusal
 * (ERR_AUDIT_RESET_NOT_ARMED). Once cosigned, the reset is audited here ('audit.witness.reset') and
 * the marker removed.
 * A node without an SM2 certificate cannot witness a hub whose log is on SM (checkpoints signed with
 * the hub's SM2 key): it holds neither the SM2 root to check them nor an SM2 key to cosign them. It
 * skips them — ERR_AUDIT_ALGORITHM_MIXED, warned and audited ('hub.checkpoint.cosign', failure)
 * once per start, not every round — and goes on sending its own checkpoints for the hub to cosign.
 */
import type { Knex } from 'knex';
import type { AuditLog } from '../../audit/log.js';
import type { Cosignature } from '../../audit/cosign.js';
import { latestCosignature, storeCosignature } from '../../audit/cosign-store.js';
import { checkWitness, witnessPayload } from '../../audit/witness.js';
import { cosignCheckpoint } from '../../audit/cosign.js';
import { witnessKeyFor } from '../../audit/signer.js';
import { hashAlgOfCert } from '../../audit/crypto.js';
import { lastWitnessed, storeWitnessed } from '../../audit/witnessed-store.js';
import { isCreditError, protocolError, type CreditError } from '../../protocol/errors.js';
import { parseVersion } from '../../protocol/version.js';
import type { CheckpointPayload, WitnessState } from '../../protocol/exchange.js';
import { HUB_NODE_ID } from '../../certs/issue.js';
import type { HubConfig } from '../config.js';
import { nodeError } from '../errors.js';
import { auditError } from '../../audit/errors.js';
import type { HubClient } from './hub-client.js';
import { sealToHub } from './hub-envelopes.js';
import { evidenceOf } from '../../audit/evidence-record.js';
import { keepEvidence } from './evidence-log.js';
import type { ExchangeIdentity } from './identity.js';
import type { Log } from './loop.js';
import { clearRestoreMarker, readRestoreMarker } from '../backup.js';
import { hubWitnessResetStore, splitAt, type HubWitnessArm } from '../hub-witness-reset-store.js';
import { signReset } from '../../audit/witness-reset.js';

export interface WitnessDeps {
  db: Knex;
  log: AuditLog;
  identity: ExchangeIdentity;
  client: () => HubClient;
  clock: () => Date;
  logger: Log;
  hub: Pick<HubConfig, 'checkpointIntervalMs'>;
  /** The data directory, where a restore leaves its marker (node/backup.ts); no witness reset without it. */
  dataDir?: string;
}

/** The provincial roots the node trusts: RSA, and SM2 with an SM2 identity (the hub cosigns a log on SM with its SM2 key). */
function caPems(m: { caCertPem: string; sm2?: { caCertPem: string } | undefined }): string[] {
  return [m.caCertPem, ...(m.sm2 ? [m.sm2.caCertPem] : [])];
}

/** How often a refusal of the hub's checkpoints that goes on is audited again. */
export const REFUSAL_REPORT_MS = 3_600_000;

/** The hub's checkpoints refused round after round: the code, since when (ISO), how many rounds, the last tree size shown. */
export interface HubRefusal {
  code: string;
  since: string;
  rounds: number;
  treeSize: number;
}

/** A tree size shown by the hub, for the log and the status: -1 when it is not a safe non-negative integer. */
function sizeOf(v: unknown): number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : -1;
}

/** A SHA-256 shown by the hub (a root hash, a fingerprint), lower-case; `otherwise` when it is not 64 hex digits. */
function hexOf(v: unknown, otherwise = '?'): string {
  return typeof v === 'string' && /^[0-9a-f]{64}$/i.test(v) ? v.toLowerCase() : otherwise;
}

/** The audit actor of a hub checkpoint: its signer's fingerprint, else cert:unknown. */
function actorOf(cp: { signerFingerprint: unknown }): string {
  return `cert:${hexOf(cp.signerFingerprint, 'unknown')}`;
}

/** ERR_AUDIT_INCONSISTENT's details.kind, or undefined for anything else. */
function kindOf(e: unknown): string | undefined {
  if (!isCreditError(e) || e.code !== 'ERR_AUDIT_INCONSISTENT') return undefined;
  const k = (e.details as { kind?: unknown } | undefined)?.kind;
  return typeof k === 'string' ? k : undefined;
}

/**
 * A proof that does not start at the head this node last cosigned (the hub does not hold that
 * cosignature: its POST was lost, or the hub's store went back): asked for again from that head.
 */
const RETRY_KINDS: ReadonlySet<string> = new Set(['proof-stale', 'proof-missing']);

/** The refusals of the hub's checkpoint an armed reset answers: the log does not extend the head this node cosigned. */
const ROLLBACK_KINDS: ReadonlySet<string> = new Set(['smaller', 'forked', 'proof-invalid']);

function isCosignature(c: unknown): c is Cosignature {
  const x = c as Cosignature;
  return typeof x === 'object' && x !== null && typeof x.treeSize === 'number' && typeof x.rootHash === 'string' && typeof x.signature === 'string' && typeof x.certPem === 'string';
}

export function createWitness(deps: WitnessDeps) {
  const { db, identity, clock } = deps;
  let seq = 0;
  /** Set once the hub's SM checkpoints were skipped for want of an SM2 certificate (warned and audited once). */
  let sm2SkipReported = false;
  /** Set once the first round has looked for a restore marker (cancelRestoredArms). */
  let restoreChecked = false;
  /** The hub's checkpoints refused since `since` (null: the last one shown was cosigned, or none yet). */
  let refused: (Omit<HubRefusal, 'since'> & { since: Date; key: string; reportedAt: Date | null }) | null = null;

  /** One witnessing round; returns the cosignature stored, or null when there was nothing new. */
  async function witnessOnce(signal?: AbortSignal): Promise<Cosignature | null> {
    if (!restoreChecked) await cancelRestoredArms();
    const last = await latestCosignature(db);
    const cp = await deps.log.checkpoint(); // signs one when entries were added since the last
    if (!cp) return null;
    const ownNew = !(last && last.treeSize >= cp.treeSize && cp.signerFingerprint === deps.log.signerFingerprint());
    // Asked even when this log has nothing new: the hub may show a checkpoint of its own to cosign
    // (an idle node still witnesses the hub's log; its own head is then sent again, unchanged).
    const state = await deps.client().getWitnessState(signal);
    const hubCosignature = await cosignHub(state, signal);
    if (!ownNew && !hubCosignature) return null;
    const own = await ownPayload(state, signal);
    if (!own.reset && last && own.checkpoint.treeSize === last.treeSize && !hubCosignature) return null;
    const payload: CheckpointPayload = hubCosignature ? { ...own, hubCosignature } : own;
    const envelope = await sealToHub(identity, { type: 'checkpoint', seq: ++seq, ts: clock(), payload });
    await keepEvidence(db, evidenceOf(envelope, 'sent', clock().toISOString()));
    const answer = await deps.client().postCheckpoint(envelope, signal);
    if (!isCosignature(answer)) throw nodeError('ERR_HUB_ANSWER_INVALID', 'the hub did not answer the checkpoint with a cosignature');
    if (answer.treeSize !== payload.checkpoint.treeSize || answer.rootHash !== payload.checkpoint.rootHash) {
      throw nodeError('ERR_HUB_ANSWER_INVALID', `the cosignature is for tree size ${answer.treeSize}, not ${payload.checkpoint.treeSize}`);
    }
    await storeCosignature(db, answer, { caCertPem: caPems(identity.current()) });
    if (payload.reset && deps.dataDir) {
      const from = payload.proof?.from ?? 0;
      await deps.log.record({
        actor: `node:${payload.checkpoint.nodeId}`, actorNode: payload.checkpoint.nodeId, action: 'audit.witness.reset', object: `node:${payload.checkpoint.nodeId} size=${answer.treeSize}`, outcome: 'success',
        reason: `the hub cosigned the restored log (backup of ${payload.reset.backupCreatedAt}) from tree size ${from}; the heads it cosigned after that are archived as an abandoned epoch`,
      });
      clearRestoreMarker(deps.dataDir);
      deps.logger.info({ treeSize: answer.treeSize, from }, 'hub exchange: the hub took the witness reset after the restore');
    } else if (deps.dataDir) {
      clearRestoreMarker(deps.dataDir); // the restored log extends what the hub cosigned: no reset needed
    }
    deps.logger.debug({ treeSize: answer.treeSize }, 'hub exchange: audit checkpoint cosigned by the hub');
    return answer;
  }

  /**
   * This node's checkpoint payload: from the head the hub cosigned, or, when that fails because the
   * store was restored from a backup (marker present), a reset payload from the largest head the hub
   * cosigned before the backup was made.
   */
  async function ownPayload(state: WitnessState, signal?: AbortSignal): Promise<CheckpointPayload> {
    try {
      return await witnessPayload(db, deps.log, { treeSize: state.treeSize, rootHash: state.rootHash });
    } catch (e) {
      const marker = deps.dataDir && isCreditError(e) && e.code === 'ERR_AUDIT_INCONSISTENT' ? readRestoreMarker(deps.dataDir) : null;
      if (!marker) throw e;
      const before = await deps.client().getWitnessState(signal, marker.backupCreatedAt);
      const from = before.resetFrom ?? null;
      const p = await witnessPayload(db, deps.log, { treeSize: from?.treeSize ?? 0, rootHash: from?.rootHash ?? null });
      return { ...p, reset: { backupCreatedAt: marker.backupCreatedAt } };
    }
  }

  /**
   * Checks and cosigns the hub's checkpoint shown in `state` (mutual witnessing); null when there is
   * none or it fails. A proof that starts below the head this node last cosigned, or none (`proof-stale`,
   * `proof-missing`: the hub does not hold that cosignature — its POST was lost, or the hub's store went
   * back), is asked for again from that head (`?hubFrom=`, protocol 1.3; a 1.2 hub's 400 leaves the
   * refusal as it was); starting there with another root, it is `forked`.
   * A log that does not extend that head (`smaller`, `forked`, `proof-invalid`) is a rollback or a
   * rewrite: refused, unless the operator armed a reset (resetHub).
   */
  async function cosignHub(state: WitnessState, signal?: AbortSignal): Promise<Cosignature | null> {
    if (!state.hub) return null;
    const prev = await lastWitnessed(db, HUB_NODE_ID);
    if (prev && prev.treeSize === state.hub.checkpoint.treeSize && prev.rootHash === state.hub.checkpoint.rootHash) return null;
    const m = identity.current();
    // The skip is for a hub whose log was on SM from the start. A hub's log algorithm is fixed when
    // its store is made, so a hub whose (sha256) checkpoints this node has cosigned before and that
    // now shows an SM2-signed one is not trusted to switch: that goes through checkWitness and is a
    // refusal (an error, audited: reportRefusal) — the certificate shown is the hub's word, unchecked here.
    if (m.sm2 === undefined && !prev && hashAlgOfCert(state.hub.signerCertPem) === 'sm3') {
      await reportSm2Skip(state.hub.checkpoint);
      return null;
    }
    let shown = state.hub;
    try {
      try {
        checkWitness({ nodeId: HUB_NODE_ID, prev, payload: shown, trust: identity.trust() });
      } catch (e) {
        if (!prev || !RETRY_KINDS.has(kindOf(e) ?? '')) throw e;
        const again = await deps.client().getWitnessState(signal, undefined, prev.treeSize).catch(() => null);
        if (!again?.hub) throw e;
        shown = again.hub;
        if (shown.checkpoint.treeSize === prev.treeSize && shown.checkpoint.rootHash === prev.rootHash) return null; // nothing new (and nothing that ends a refusal)
        try {
          checkWitness({ nodeId: HUB_NODE_ID, prev, payload: shown, trust: identity.trust() });
        } catch (e2) {
          // a proof from exactly that size whose starting root is not the one cosigned: the hub's log
          // holds another history at that size (rolled back and grown again, or rewritten)
          const p = shown.proof;
          if (!RETRY_KINDS.has(kindOf(e2) ?? '') || p?.from !== prev.treeSize) throw e2;
          throw auditError('ERR_AUDIT_INCONSISTENT', `the hub's log has root ${String(p.fromRoot)} at tree size ${prev.treeSize}, not the root this node cosigned: it was rolled back or rewritten`, {
            kind: 'forked', cosigned: { treeSize: prev.treeSize, rootHash: prev.rootHash }, received: { treeSize: shown.checkpoint.treeSize, rootHash: shown.checkpoint.rootHash },
          });
        }
      }
      // the key of the hub log's algorithm: SM2 for a hub log on SM; the epoch: this node's resets of the hub's log (§10b)
      const c = cosignCheckpoint(shown.checkpoint, witnessKeyFor(shown.signerCertPem, identity.nodeId, m), clock(), await hubWitnessResetStore.epoch(db));
      await storeWitnessed(db, shown.checkpoint, c);
      if (!prev || shown.checkpoint.treeSize > prev.treeSize) await cancelArms(shown.checkpoint);
      if (refused !== null) {
        // the end of a refusal is audited too: with the hourly reports, the log then says how long it lasted
        const r = refused;
        refused = null;
        deps.logger.info({ code: r.code, since: r.since.toISOString(), rounds: r.rounds }, "hub exchange: the hub's audit checkpoints are cosigned again");
        await deps.log.record({ actor: actorOf(shown.checkpoint), actorNode: HUB_NODE_ID, action: 'hub.checkpoint.cosign', object: `node:${HUB_NODE_ID} size=${shown.checkpoint.treeSize}`, outcome: 'success', reason: `cosigned again after ${r.rounds} refused round(s) since ${r.since.toISOString()} (${r.key}; last refused tree size ${r.treeSize})` });
      }
      return c;
    } catch (e) {
      if (!isCreditError(e)) throw e;
      const arm = ROLLBACK_KINDS.has(kindOf(e) ?? '') ? await hubWitnessResetStore.pending(db) : undefined;
      if (!arm) {
        await reportRefusal(e, shown.checkpoint);
        return null;
      }
      try {
        return await resetHub(arm, signal);
      } catch (r) {
        if (!isCreditError(r)) throw r;
        await reportRefusal(r, shown.checkpoint);
        return null;
      }
    }
  }

  /**
   * A store restored from a backup (node/backup.ts RESTORE_MARKER) brings back the arms it held: one
   * pending then, and perhaps used since, would be used again without its operator. At the first round
   * after a start, pending arms made before the restore are cancelled (audited). The resets made after
   * the backup are gone from the restored store with their records: keep the witness exports made
   * before a restore (docs/audit-format.md §10b).
   */
  async function cancelRestoredArms(): Promise<void> {
    const marker = deps.dataDir ? readRestoreMarker(deps.dataDir) : null;
    if (marker) {
      const ids = await hubWitnessResetStore.cancelPending(db, clock().toISOString(), marker.restoredAt);
      if (ids.length > 0) {
        deps.logger.warn({ arms: ids }, 'hub exchange: pending witness reset arms of the hub\'s log from before the restore are cancelled');
        await deps.log.record({ actor: `node:${identity.nodeId}`, actorNode: identity.nodeId, action: 'witness.reset.arm', object: `node:${HUB_NODE_ID}`, outcome: 'failure', reason: `cancelled arm(s) ${ids.join(', ')}: armed before the store was restored (${marker.restoredAt}, backup of ${marker.backupCreatedAt}); arm again if a reset is still needed` });
      }
    }
    restoreChecked = true;
  }

  /**
   * The hub's log was cosigned the ordinary way: an arm still pending has nothing to reset, and left
   * waiting it would let a later rewrite through. Cancelled, audited ('witness.reset.arm' failure).
   */
  async function cancelArms(cp: { treeSize: number; signerFingerprint: string }): Promise<void> {
    const at = clock().toISOString();
    const ids = await hubWitnessResetStore.cancelPending(db, at);
    if (ids.length === 0) return;
    deps.logger.warn({ arms: ids, treeSize: cp.treeSize }, "hub exchange: the hub's log extends the heads this node cosigned: the pending witness reset is cancelled (nothing to reset)");
    await deps.log.record({ actor: `node:${identity.nodeId}`, actorNode: identity.nodeId, action: 'witness.reset.arm', object: `node:${HUB_NODE_ID}`, outcome: 'failure', reason: `cancelled arm(s) ${ids.join(', ')} at ${at}: the hub's checkpoint at tree size ${cp.treeSize} extends the heads this node cosigned, nothing to reset` });
  }

  /**
   * The witness reset of the hub's log its operator armed (docs/audit-format.md §10b): the hub's log
   * went back to `arm.restoredTo` (a restore or a failover), so it no longer extends the heads this node
   * cosigned since. Keeps the largest head whose hub checkpoint is older than that (`from`), refuses
   * when the heads to abandon are not those the operator was shown (`abandonTo`), when the hub is not
   * on protocol 1.3, or when the hub proves its log still extends the last head to abandon; asks the hub for its
   * checkpoint with a proof from there (`?hubFrom=`), checks it as every hub checkpoint
   * (checkWitness from `from`), and in one transaction: consumes the arm, moves the heads cosigned
   * after `from` to node_hub_witness_archive, keeps the signed reset record, stores the new head's
   * cosignature (epoch + 1) and audits 'hub.witness.reset'. A hub that went back further than stated,
   * or an expired arm, is refused (ERR_AUDIT_RESET_FROM, ERR_AUDIT_RESET_EXPIRED) and the arm stays.
   * Returns the new cosignature (null when the hub's log is exactly at `from`: nothing new to send).
   */
  /** True when the hub's checkpoint `shown` passes the §9 check from `head` (its log extends that head). */
  function extends_(head: { treeSize: number; rootHash: string }, shown: NonNullable<WitnessState['hub']>): boolean {
    try {
      checkWitness({ nodeId: HUB_NODE_ID, prev: head, payload: shown, trust: identity.trust() });
      return true;
    } catch (e) {
      if (isCreditError(e)) return false;
      throw e;
    }
  }

  /** A reset of the hub's log needs a hub on protocol 1.3 (?hubFrom=, hubCosignature.epoch): ERR_PROTOCOL_VERSION before the arm is used otherwise. */
  async function needsProtocol13(signal?: AbortSignal): Promise<void> {
    const info = await deps.client().getProtocol(signal);
    const ok = (Array.isArray(info.versions) ? info.versions : []).some((v) => {
      const p = parseVersion(v);
      return p !== null && p.major === 1 && p.minor >= 3;
    });
    if (!ok) throw protocolError('ERR_PROTOCOL_VERSION', `the hub speaks ${JSON.stringify(info.versions)}: a witness reset of its log needs protocol 1.3 (upgrade the hub first); the arm is kept`, { supported: info.versions });
  }

  async function resetHub(arm: HubWitnessArm, signal?: AbortSignal): Promise<Cosignature | null> {
    const now = clock();
    const at = now.toISOString();
    if (Date.parse(arm.expiresAt) <= now.getTime()) {
      throw auditError('ERR_AUDIT_RESET_EXPIRED', `the witness reset of the hub's log armed at ${arm.armedAt} expired at ${arm.expiresAt}: arm it again with \`credit node witness reset-arm\``, { expiresAt: arm.expiresAt });
    }
    const { from, abandoned } = splitAt(await hubWitnessResetStore.heads(db), arm.restoredTo);
    const kept = from ? `the head at tree size ${from.treeSize} (hub checkpoint of ${from.checkpointTime}) this node cosigned` : 'nothing';
    if (abandoned.length === 0) {
      throw auditError('ERR_AUDIT_RESET_FROM', `every hub head this node cosigned was signed by the hub before ${arm.restoredTo}, yet the hub's log does not extend them: it went back further than that; arm again with the time the province states (credit node witness reset-arm --hub-restored-to)`, { restoredTo: arm.restoredTo });
    }
    const top = abandoned.at(-1)!;
    if (top.treeSize !== arm.abandonTo) {
      throw auditError('ERR_AUDIT_RESET_FROM', `the reset would abandon the hub's heads up to tree size ${top.treeSize}, the operator was shown up to ${arm.abandonTo} when arming (${arm.armedAt}): the arm does not cover them; arm again`, { restoredTo: arm.restoredTo, treeSize: top.treeSize, abandonTo: arm.abandonTo });
    }
    await needsProtocol13(signal);
    // the hub's log must not extend the last head to abandon: else nothing went back, whatever it showed first
    const still = await deps.client().getWitnessState(signal, undefined, top.treeSize);
    if (still.hub && extends_(top, still.hub)) {
      throw auditError('ERR_AUDIT_RESET_FROM', `the hub proves its log extends the head at tree size ${top.treeSize} this node cosigned: it did not go back to ${arm.restoredTo}; nothing to reset`, { restoredTo: arm.restoredTo, treeSize: top.treeSize });
    }
    const state = await deps.client().getWitnessState(signal, undefined, from?.treeSize);
    if (!state.hub) throw auditError('ERR_AUDIT_RESET_FROM', 'the hub showed no checkpoint of its log to take the witness from', { restoredTo: arm.restoredTo });
    let head: { treeSize: number; rootHash: string };
    try {
      head = checkWitness({ nodeId: HUB_NODE_ID, prev: from, payload: state.hub, trust: identity.trust() });
    } catch (e) {
      if (!isCreditError(e) || e.code !== 'ERR_AUDIT_INCONSISTENT') throw e;
      throw auditError('ERR_AUDIT_RESET_FROM', `the hub's log does not extend ${kept}, before ${arm.restoredTo}: it went back further than the province stated, or was rewritten (${e.message})`, { restoredTo: arm.restoredTo, ...(e.details as object) });
    }
    if (abandoned.some((h) => h.treeSize === head.treeSize && h.rootHash === head.rootHash)) {
      throw auditError('ERR_AUDIT_RESET_FROM', `the hub shows the head at tree size ${head.treeSize} this node cosigned after ${arm.restoredTo}: its log did not go back to that point`, { restoredTo: arm.restoredTo, treeSize: head.treeSize });
    }
    const epoch = (await hubWitnessResetStore.epoch(db)) + 1;
    const key = witnessKeyFor(state.hub.signerCertPem, identity.nodeId, identity.current());
    const c = cosignCheckpoint(state.hub.checkpoint, key, now, epoch);
    const record = signReset({
      nodeId: HUB_NODE_ID, epoch, backupCreatedAt: arm.restoredTo, from: from ? { treeSize: from.treeSize, rootHash: from.rootHash } : null, to: head,
      abandoned: abandoned.map((h) => ({ treeSize: h.treeSize, rootHash: h.rootHash, cosignedAt: h.cosignedAt })),
      reason: arm.reason, armedBy: arm.armedBy, armedAt: arm.armedAt, resetAt: at,
    }, key);
    const same = from !== null && head.treeSize === from.treeSize;
    await db.transaction(async (trx) => {
      if (!(await hubWitnessResetStore.consume(trx, arm.id, at, epoch))) throw auditError('ERR_AUDIT_RESET_NOT_ARMED', 'the witness reset of the hub\'s log was used or cancelled meanwhile', { arm: arm.id });
      await hubWitnessResetStore.abandon(trx, epoch, abandoned);
      await hubWitnessResetStore.archive(trx, epoch, at, JSON.stringify(record));
      if (!same) await storeWitnessed(trx, state.hub!.checkpoint, c);
      await deps.log.recordIn(trx, {
        actor: `node:${identity.nodeId}`, actorNode: identity.nodeId, action: 'hub.witness.reset', object: `node:${HUB_NODE_ID} epoch=${epoch}`, outcome: 'success',
        reason: `arm=${arm.id} armedBy=${arm.armedBy} restoredTo=${arm.restoredTo} from=${from?.treeSize ?? 0} abandoned=${abandoned.length} (${abandoned[0]!.treeSize}..${abandoned.at(-1)!.treeSize}) to=${head.treeSize} root=${head.rootHash}: ${arm.reason}`.slice(0, 2000),
      });
    });
    const was = refused;
    refused = null;
    deps.logger.warn({ epoch, from: from?.treeSize ?? 0, abandoned: abandoned.length, to: head.treeSize, refusedRounds: was?.rounds ?? 0 }, "hub exchange: the witness of the hub's log was reset as armed (its heads cosigned after the stated restore point are archived); cosigning the hub's checkpoints again");
    return same ? null : c;
  }

  /**
   * A hub checkpoint this node does not cosign: audited and logged as an error at the first round,
   * when the kind of refusal changes (its code and, for ERR_AUDIT_INCONSISTENT, details.kind:
   * smaller, forked, proof-…), and then once an hour while it lasts (with how many rounds refused
   * since) — not every round: a hub whose log no longer extends what the node cosigned (a
   * rollback) is refused for good, and an entry every round (after each batch round and every
   * checkpointIntervalMs) would flood the node's own log. The other rounds log at debug; the end of
   * a refusal is audited as well (a successful 'hub.checkpoint.cosign' saying since when), and
   * `refusal()` (the exchange status) shows it meanwhile. A round whose audit write fails is
   * reported again at the next round. The checkpoint's fields are the hub's word (checkWitness
   * failed): only a safe integer size and a SHA-256 fingerprint are used.
   */
  async function reportRefusal(e: CreditError, cp: { treeSize: unknown; signerFingerprint: unknown }): Promise<void> {
    const now = clock();
    const d = e.details as { kind?: unknown; cosigned?: { treeSize?: unknown; rootHash?: unknown }; received?: { rootHash?: unknown } } | undefined;
    const kind = typeof d?.kind === 'string' && /^[a-z-]{1,20}$/.test(d.kind) ? d.kind : undefined;
    const key = kind ? `${e.code}/${kind}` : e.code;
    const treeSize = sizeOf(cp.treeSize);
    if (refused === null || refused.key !== key) refused = { code: e.code, key, since: now, rounds: 0, reportedAt: null, treeSize };
    refused.rounds++;
    refused.treeSize = treeSize;
    const at = refused.reportedAt;
    // again within the hour: debug only (a clock set back counts as due)
    if (at !== null && now.getTime() >= at.getTime() && now.getTime() - at.getTime() < REFUSAL_REPORT_MS) {
      deps.logger.debug({ code: e.code, kind, treeSize, rounds: refused.rounds }, "hub exchange: the hub's audit checkpoint was not cosigned (again)");
      return;
    }
    const heads = d?.cosigned && d.received ? ` [cosigned ${sizeOf(d.cosigned.treeSize)}:${hexOf(d.cosigned.rootHash)} received ${treeSize}:${hexOf(d.received.rootHash)}]` : '';
    const since = refused.rounds > 1 ? ` (refused since ${refused.since.toISOString()}, ${refused.rounds} rounds)` : '';
    deps.logger.error({ code: e.code, kind, treeSize, since: refused.since.toISOString(), rounds: refused.rounds }, "hub exchange: the hub's audit checkpoint was not cosigned");
    await deps.log.record({ actor: actorOf(cp), actorNode: HUB_NODE_ID, action: 'hub.checkpoint.cosign', object: `node:${HUB_NODE_ID} size=${treeSize}`, outcome: 'failure', reason: `${e.code}: ${e.message}`.slice(0, 1500) + heads + since });
    refused.reportedAt = now; // only once it is in the log: a failed write is reported again at the next round
  }

  /** The hub's log is on SM and this node has no SM2 certificate: a coded skip, reported once per start. */
  async function reportSm2Skip(cp: { treeSize: number; signerFingerprint: string }): Promise<void> {
    if (sm2SkipReported) return;
    const e = auditError('ERR_AUDIT_ALGORITHM_MIXED', `the hub's audit log is on SM (its checkpoints are signed with its SM2 key) and node ${identity.nodeId} holds no SM2 certificate: it cannot check or cosign them, so it does not witness the hub's log (the hub still cosigns this node's own log); to witness it, re-enrol with an SM2 certificate: a new token and \`credit node init --sm2\` (after moving DATADIR/exchange away)`, { alg: 'sm3', signerAlg: 'sha256' });
    await deps.log.record({ actor: `cert:${cp.signerFingerprint}`, actorNode: HUB_NODE_ID, action: 'hub.checkpoint.cosign', object: `node:${HUB_NODE_ID} size=${cp.treeSize}`, outcome: 'failure', reason: `${e.code}: ${e.message}`.slice(0, 2000) });
    deps.logger.warn({ code: e.code, treeSize: cp.treeSize }, "hub exchange: the hub's audit log is on SM and this node has no SM2 certificate: its checkpoints are not cosigned (reported once)");
    sm2SkipReported = true;
  }

  async function step(signal?: AbortSignal): Promise<number> {
    await witnessOnce(signal);
    return deps.hub.checkpointIntervalMs > 0 ? deps.hub.checkpointIntervalMs : 3_600_000;
  }

  /** The refusal of the hub's checkpoints going on now, or null (for the exchange status). */
  function refusal(): HubRefusal | null {
    return refused === null ? null : { code: refused.code, since: refused.since.toISOString(), rounds: refused.rounds, treeSize: refused.treeSize };
  }

  return { step, witnessOnce, refusal };
}

export type Witness = ReturnType<typeof createWitness>;
