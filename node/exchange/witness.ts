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
import { isCreditError, type CreditError } from '../../protocol/errors.js';
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

function isCosignature(c: unknown): c is Cosignature {
  const x = c as Cosignature;
  return typeof x === 'object' && x !== null && typeof x.treeSize === 'number' && typeof x.rootHash === 'string' && typeof x.signature === 'string' && typeof x.certPem === 'string';
}

export function createWitness(deps: WitnessDeps) {
  const { db, identity, clock } = deps;
  let seq = 0;
  /** Set once the hub's SM checkpoints were skipped for want of an SM2 certificate (warned and audited once). */
  let sm2SkipReported = false;
  /** The hub's checkpoints refused since `since` (null: the last one shown was cosigned, or none yet). */
  let refused: (Omit<HubRefusal, 'since'> & { since: Date; key: string; reportedAt: Date | null }) | null = null;

  /** One witnessing round; returns the cosignature stored, or null when there was nothing new. */
  async function witnessOnce(signal?: AbortSignal): Promise<Cosignature | null> {
    const last = await latestCosignature(db);
    const cp = await deps.log.checkpoint(); // signs one when entries were added since the last
    if (!cp) return null;
    const ownNew = !(last && last.treeSize >= cp.treeSize && cp.signerFingerprint === deps.log.signerFingerprint());
    // Asked even when this log has nothing new: the hub may show a checkpoint of its own to cosign
    // (an idle node still witnesses the hub's log; its own head is then sent again, unchanged).
    const state = await deps.client().getWitnessState(signal);
    const hubCosignature = await cosignHub(state);
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

  /** Checks and cosigns the hub's checkpoint shown in `state` (mutual witnessing); null when there is none or it fails. */
  async function cosignHub(state: WitnessState): Promise<Cosignature | null> {
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
    try {
      checkWitness({ nodeId: HUB_NODE_ID, prev, payload: state.hub, trust: identity.trust() });
      // the key of the hub log's algorithm: SM2 for a hub log on SM
      const c = cosignCheckpoint(state.hub.checkpoint, witnessKeyFor(state.hub.signerCertPem, identity.nodeId, m), clock());
      await storeWitnessed(db, state.hub.checkpoint, c);
      if (refused !== null) {
        // the end of a refusal is audited too: with the hourly reports, the log then says how long it lasted
        const r = refused;
        refused = null;
        deps.logger.info({ code: r.code, since: r.since.toISOString(), rounds: r.rounds }, "hub exchange: the hub's audit checkpoints are cosigned again");
        await deps.log.record({ actor: actorOf(state.hub.checkpoint), actorNode: HUB_NODE_ID, action: 'hub.checkpoint.cosign', object: `node:${HUB_NODE_ID} size=${state.hub.checkpoint.treeSize}`, outcome: 'success', reason: `cosigned again after ${r.rounds} refused round(s) since ${r.since.toISOString()} (${r.key}; last refused tree size ${r.treeSize})` });
      }
      return c;
    } catch (e) {
      if (!isCreditError(e)) throw e;
      await reportRefusal(e, state.hub.checkpoint);
      return null;
    }
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
