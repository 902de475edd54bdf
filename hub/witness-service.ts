/**
 * Checkpoint witnessing (audit/witness.ts + audit/cosign.ts). `latest` reports the largest
 * checkpoint the hub has cosigned for a node (the `from` of the node's next consistency proof).
 * `cosign` opens a 'checkpoint' envelope (unordered: new id, ts in the window), checks the node's
 * signed checkpoint, its certificate (CN = the sender, trusted at the checkpoint time, not revoked
 * in the register) and the consistency proof from the last cosigned head (checkWitness), then
 * countersigns it at hub time with the hub key of the log's algorithm (its SM2 key for a node log on
 * SM, audit/signer.ts witnessKeyFor), stores it in hub_witness and audits
 * 'checkpoint.cosign'. A log that does not extend the cosigned head: 409 ERR_AUDIT_INCONSISTENT,
 * audited as a failure. The same head again gets the stored cosignature back.
 * Mutual witnessing (issue 16): `latest` also shows the node the hub's own latest checkpoint with
 * a consistency proof from the hub head that node last cosigned; the node's cosignature of it comes
 * back in the next 'checkpoint' payload (`hubCosignature`), is verified (CA, witness = the sender,
 * the hub's checkpoint at that size) and stored in the hub's audit_cosignatures, so the hub's
 * bundle carries the nodes' cosignatures; audited as 'checkpoint.witnessed'.
 * Witness reset (issue 17, docs/audit-format.md §10a): a checkpoint with `reset` (a node
 * restored from a backup made at reset.backupCreatedAt) is taken only when the operator armed a
 * reset for that node (`credit hub witness reset-arm`, unused, unexpired, for that backup time when
 * it names one) and its proof runs from the largest head cosigned before the backup time. Under
 * the node's row lock (PostgreSQL: hub_nodes FOR UPDATE, taken first by both paths, so a reset and
 * an ordinary cosign of one node run one after the other) the hub consumes the arm (cancelling any
 * other), moves exactly the heads cosigned after that point out of hub_witness into
 * hub_witness_archive (tagged with the new epoch), signs a reset record (hub_witness_epochs; both
 * append-only, both exported by `credit audit witness-export`), cosigns the restored head and audits
 * 'witness.reset'. Every cosignature states the node's epoch (the number of resets), so a bundle
 * cosigned in epoch N needs the reset records 1..N to verify with `--witness`. Refusals (ERR_AUDIT_RESET_*, ERR_AUDIT_INCONSISTENT …) are audited as a
 * failed 'witness.reset'.
 */
import { checkWitness, ownHeadPayload } from '../audit/witness.js';
import { latestCosignature, storeCosignature } from '../audit/cosign-store.js';
import { auditError } from '../audit/errors.js';
import { cosignCheckpoint, type Cosignature } from '../audit/cosign.js';
import { witnessKeyFor } from '../audit/signer.js';
import { HUB_NODE_ID } from '../certs/issue.js';
import { certInfo } from '../certs/pki-crypto.js';
import { caTrust } from '../protocol/ca-trust.js';
import { isCreditError, protocolError } from '../protocol/errors.js';
import { CHECKPOINT_SCHEMA, type CheckpointPayload, type WitnessState } from '../protocol/exchange.js';
import { checkTimestamp } from '../protocol/freshness.js';
import type { TrustPolicy } from '../protocol/trust.js';
import type { Peer } from './client-check.js';
import type { HubDeps } from './context.js';
import { malformedPayload, openFrom, type Incoming } from './envelope-in.js';
import { envelopesStore } from './envelopes-store.js';
import { keepReceived } from './evidence-log.js';
import { nodesStore } from './nodes-store.js';
import { witnessStore } from './witness-store.js';
import { witnessResetStore } from './witness-reset-store.js';
import { signReset, type WitnessReset } from '../audit/witness-reset.js';
import type { Knex } from 'knex';

export interface WitnessService {
  /**
   * With `before` (ISO): also resetFrom, the largest head cosigned before that time. With `hubFrom`
   * (protocol 1.3): the hub's checkpoint's proof runs from that tree size, not from the head the node
   * last cosigned (a node re-anchoring its witness of the hub's log after a rollback, §10b).
   */
  latest(peer: Peer, q?: { before?: string | undefined; hubFrom?: number | undefined }): Promise<WitnessState>;
  cosign(peer: Peer, raw: string): Promise<Cosignature>;
}

/** Codes whose refusal the witness audits itself (as a failed 'checkpoint.cosign'). */
export const WITNESS_FAILURES: ReadonlySet<string> = new Set([
  'ERR_AUDIT_INCONSISTENT', 'ERR_AUDIT_CHECKPOINT_SIGNATURE', 'ERR_AUDIT_UNTRUSTED_SIGNER', 'ERR_AUDIT_RESET_NOT_ARMED', 'ERR_AUDIT_RESET_EXPIRED', 'ERR_AUDIT_RESET_FROM',
]);

export function witnessService(deps: HubDeps): WitnessService {
  /** The provincial roots: RSA, and SM2 when the CA directory has one (a log on SM is signed by SM2 certificates). */
  const caPems = (): string[] => [deps.ca.certPem, ...(deps.ca.sm2 ? [deps.ca.sm2.certPem] : [])];
  /** The hub key that cosigns (or signs the reset of) the log whose checkpoint `certPem` signed: SM2 for a log on SM. */
  const witnessKey = (certPem: string) => witnessKeyFor(certPem, HUB_NODE_ID, deps.identity);

  /** The CA trust with the register's revocation status of the checkpoint's certificate. */
  async function trustFor(certPem: string): Promise<TrustPolicy> {
    let serial: string | null = null;
    try {
      serial = certInfo(certPem).serial;
    } catch {
      return deps.trust; // unreadable: checkWitness refuses it
    }
    const revoked = (await nodesStore.peer(deps.db, serial, deps.clock()))?.certStatus === 'revoked';
    return caTrust({ caCertPems: caPems(), isRevoked: (s) => revoked && s === serial });
  }

  /** The node's cosignature of one of the hub's own checkpoints (mutual witnessing). */
  async function storeNodeCosignature(nodeId: string, c: NonNullable<CheckpointPayload['hubCosignature']>): Promise<void> {
    const object = `node:${nodeId} hub size=${c.treeSize}`;
    try {
      if (c.witness !== nodeId) throw auditError('ERR_AUDIT_UNTRUSTED_SIGNER', `node ${nodeId} sent a cosignature made by ${c.witness}`);
      if (await storeCosignature(deps.db, c, { caCertPem: caPems() })) {
        await deps.audit.record({ action: 'checkpoint.witnessed', actor: `node:${nodeId}`, actorNode: nodeId, object, outcome: 'success', reason: `root=${c.rootHash}` });
      }
    } catch (e) {
      if (isCreditError(e)) await deps.audit.record({ action: 'checkpoint.witnessed', actor: `node:${nodeId}`, actorNode: nodeId, object, outcome: 'failure', reason: `${e.code}: ${e.message}`.slice(0, 2000) });
      throw e;
    }
  }

  /** Envelope checks shared by both paths: not seen before, in the time window; then kept as evidence. */
  async function takeEnvelope(trx: Knex.Transaction, nodeId: string, inc: Incoming<CheckpointPayload>, at: string, now: Date): Promise<void> {
    const { header, digest } = inc;
    if (await envelopesStore.find(trx, header.id)) throw protocolError('ERR_REPLAY', `checkpoint envelope ${header.id} has been seen before`, { id: header.id });
    checkTimestamp(header.ts, { now, windowMs: deps.config.windowMs });
    if (!(await envelopesStore.insert(trx, { id: header.id, fromNode: nodeId, type: 'checkpoint', seq: header.seq, ts: header.ts, digest, receivedAt: at, outcome: 'answered', code: null, response: null }))) {
      throw protocolError('ERR_REPLAY', `checkpoint envelope ${header.id} has been seen before`, { id: header.id });
    }
    await keepReceived(trx, inc, at);
  }

  /**
   * The armed witness reset of a restored node (see the file comment). Order: envelope, the checkpoint's
   * signature and signer, arm (locked), the node's witness rows (locked), the head to start from, the
   * proof (checkWitness from that head),
   * then the moves; any refusal rolls everything back and leaves the arm armed.
   */
  async function reset(trx: Knex.Transaction, nodeId: string, inc: Incoming<CheckpointPayload>, payload: CheckpointPayload, trust: TrustPolicy): Promise<Cosignature> {
    const now = deps.clock();
    const at = now.toISOString();
    const backupAt = payload.reset!.backupCreatedAt;
    await takeEnvelope(trx, nodeId, inc, at, now);
    checkWitness({ nodeId, prev: null, payload, trust }); // signature and signer first: an unauthenticated checkpoint learns nothing of the arm
if (Number.isNaN(Date.parse(backupAt)) || Date.parse(backupAt) > now.getTime()) throw auditError('ERR_AUDIT_RESET_FROM', `the backup time ${backupAt} is not a time before now (${at})`, { backupCreatedAt: backupAt });
    await witnessResetStore.lockNode(trx, nodeId); // PostgreSQL: serialises with an ordinary cosign of this node; every read below comes after it
    const arm = await witnessResetStore.pending(trx, nodeId, true);
    if (!arm) throw auditError('ERR_AUDIT_RESET_NOT_ARMED', `node ${nodeId} asked for a witness reset, but no reset is armed for it: the hub operator arms one with \`credit hub witness reset-arm --node ${nodeId}\``, { nodeId });
    if (Date.parse(arm.expiresAt) <= now.getTime()) throw auditError('ERR_AUDIT_RESET_EXPIRED', `the witness reset armed for node ${nodeId} at ${arm.armedAt} expired at ${arm.expiresAt}: arm it again`, { nodeId, expiresAt: arm.expiresAt });
    if (arm.backupCreatedAt !== backupAt) {
      throw auditError('ERR_AUDIT_RESET_NOT_ARMED', `the reset armed for node ${nodeId} is for the backup of ${arm.backupCreatedAt}, the node restored the backup of ${backupAt}`, { nodeId, armedFor: arm.backupCreatedAt, backupCreatedAt: backupAt });
    }
    const heads = await witnessResetStore.heads(trx, nodeId, true);
    const from = heads.filter((h) => h.cosignedAt < backupAt).at(-1) ?? null;
    const proof = payload.proof;
    const expected = from ? { treeSize: from.treeSize, rootHash: from.rootHash } : null;
    if ((from === null) !== (proof === undefined) || (from && proof && (proof.from !== from.treeSize || proof.fromRoot !== from.rootHash))) {
      throw auditError('ERR_AUDIT_RESET_FROM', `the reset proof must start at ${from ? `tree size ${from.treeSize}, the largest head cosigned before the backup of ${backupAt}` : 'nothing: no head was cosigned before the backup'}, not at ${proof ? `tree size ${proof.from}` : 'nothing'}`, { expected, got: proof ? { treeSize: proof.from, rootHash: proof.fromRoot } : null });
    }
    const abandoned = heads.filter((h) => h.treeSize > (from?.treeSize ?? 0));
    if (abandoned.length === 0) throw auditError('ERR_AUDIT_RESET_FROM', `nothing to reset: every head the hub cosigned for node ${nodeId} was cosigned before the backup of ${backupAt}`, { expected });
    const head = checkWitness({ nodeId, prev: expected, payload, trust });
    const epoch = (await witnessResetStore.epochs(trx, nodeId)) + 1;
    if (!(await witnessResetStore.consume(trx, arm.id, nodeId, at, epoch))) throw auditError('ERR_AUDIT_RESET_NOT_ARMED', `the reset armed for node ${nodeId} was used meanwhile`, { nodeId });
    const record: WitnessReset = signReset({
      nodeId, epoch, backupCreatedAt: backupAt, from: expected, to: head, abandoned: abandoned.map((h) => ({ treeSize: h.treeSize, rootHash: h.rootHash, cosignedAt: h.cosignedAt })),
      reason: arm.reason, armedBy: arm.armedBy, armedAt: arm.armedAt, resetAt: at,
    }, witnessKey(payload.signerCertPem));
    await witnessResetStore.abandon(trx, nodeId, epoch, abandoned);
    await witnessResetStore.archive(trx, nodeId, epoch, at, JSON.stringify(record));
    const cosignature = cosignCheckpoint(payload.checkpoint, witnessKey(payload.signerCertPem), now, epoch);
    if (!from || head.treeSize !== from.treeSize) {
      await witnessStore.insert(trx, { nodeId, treeSize: head.treeSize, rootHash: head.rootHash, checkpoint: JSON.stringify(payload.checkpoint), cosignature: JSON.stringify(cosignature), cosignedAt: cosignature.cosignedAt });
    }
    await nodesStore.count(trx, nodeId, at, {});
    const range = `${abandoned[0]!.treeSize}..${abandoned.at(-1)!.treeSize}`;
    await deps.audit.recordIn(trx, {
      action: 'witness.reset', actor: `node:${nodeId}`, actorNode: nodeId, object: `node:${nodeId} epoch=${epoch}`, outcome: 'success',
      reason: `arm=${arm.id} armedBy=${arm.armedBy} backupCreatedAt=${backupAt} from=${from?.treeSize ?? 0} abandoned=${abandoned.length} (${range}) to=${head.treeSize} root=${head.rootHash} envelope=${inc.header.id}: ${arm.reason}`.slice(0, 2000),
    });
    return from && head.treeSize === from.treeSize ? (JSON.parse((await witnessStore.latest(trx, nodeId))!.cosignature) as Cosignature) : cosignature;
  }

  return {
    async latest(peer, q = {}) {
      const w = await witnessStore.latest(deps.db, peer.nodeId);
      const from = q.hubFrom ?? (await latestCosignature(deps.db, peer.nodeId))?.treeSize ?? null;
      const hub = await ownHeadPayload(deps.db, from);
      const state: WitnessState = { nodeId: peer.nodeId, treeSize: w?.treeSize ?? 0, rootHash: w?.rootHash ?? null, cosignedAt: w?.cosignedAt ?? null, ...(hub ? { hub } : {}) };
      if (q.before !== undefined) state.resetFrom = await witnessResetStore.lastBefore(deps.db, peer.nodeId, q.before);
      return state;
    },

    async cosign(peer, raw) {
      const inc = await openFrom<CheckpointPayload>(deps, peer, raw, { type: 'checkpoint', schema: CHECKPOINT_SCHEMA });
      const { header, digest, payload, problems } = inc;
      if (problems.length > 0) throw malformedPayload('checkpoint', problems);
      const trust = await trustFor(payload.signerCertPem);
      const actor = `node:${peer.nodeId}`;
      if (payload.hubCosignature) await storeNodeCosignature(peer.nodeId, payload.hubCosignature);
      const object = `node:${peer.nodeId} size=${payload.checkpoint.treeSize}`;
      const action = payload.reset ? 'witness.reset' : 'checkpoint.cosign';
      try {
        if (payload.reset) return await deps.db.transaction((trx) => reset(trx, peer.nodeId, inc, payload, trust));
        return await deps.db.transaction(async (trx) => {
          const now = deps.clock();
          const at = now.toISOString();
          if (await envelopesStore.find(trx, header.id)) throw protocolError('ERR_REPLAY', `checkpoint envelope ${header.id} has been seen before`, { id: header.id });
          checkTimestamp(header.ts, { now, windowMs: deps.config.windowMs });
          await witnessResetStore.lockNode(trx, peer.nodeId); // PostgreSQL: a reset of this node waits for us, or we for it; reads come after
          const prev = await witnessStore.latest(trx, peer.nodeId, true);
          const epoch = await witnessResetStore.epochs(trx, peer.nodeId);
          const head = checkWitness({ nodeId: peer.nodeId, prev: prev ? { treeSize: prev.treeSize, rootHash: prev.rootHash } : null, payload, trust });
          if (!(await envelopesStore.insert(trx, { id: header.id, fromNode: peer.nodeId, type: 'checkpoint', seq: header.seq, ts: header.ts, digest, receivedAt: at, outcome: 'answered', code: null, response: null }))) {
            throw protocolError('ERR_REPLAY', `checkpoint envelope ${header.id} has been seen before`, { id: header.id });
          }
          await keepReceived(trx, inc, at);
          if (prev && prev.treeSize === head.treeSize) return JSON.parse(prev.cosignature) as Cosignature; // the same head again
          const cosignature = cosignCheckpoint(payload.checkpoint, witnessKey(payload.signerCertPem), now, epoch);
          await witnessStore.insert(trx, { nodeId: peer.nodeId, treeSize: head.treeSize, rootHash: head.rootHash, checkpoint: JSON.stringify(payload.checkpoint), cosignature: JSON.stringify(cosignature), cosignedAt: cosignature.cosignedAt });
          await nodesStore.count(trx, peer.nodeId, at, {});
          await deps.audit.recordIn(trx, { action: 'checkpoint.cosign', actor, actorNode: peer.nodeId, object, outcome: 'success', reason: `root=${head.rootHash} from=${prev?.treeSize ?? 0} envelope=${header.id} digest=${digest}` });
          return cosignature;
        });
      } catch (e) {
        if (isCreditError(e) && WITNESS_FAILURES.has(e.code)) {
          await deps.audit.record({ action, actor, actorNode: peer.nodeId, object, outcome: 'failure', reason: `${e.code}: ${e.message}`.slice(0, 2000) });
        }
        throw e;
      }
    },
  };
}
