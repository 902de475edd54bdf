/**
 * Checkpoint witnessing (audit/witness.ts + audit/cosign.ts). `latest` reports the largest
 * checkpoint the hub has cosigned for a node (the `from` of the node's next consistency proof).
 * `cosign` opens a 'checkpoint' envelope (unordered: new id, ts in the window), checks the node's
 * signed checkpoint, its certificate (CN = the sender, trusted at the checkpoint time, not revoked
 * in the register) and the consistency proof from the last cosigned head (checkWitness), then
 * countersigns it with the hub key at hub time, stores it in hub_witness and audits
 * 'checkpoint.cosign'. A log that does not extend the cosigned head: 409 ERR_AUDIT_INCONSISTENT,
 * audited as a failure. The same head again gets the stored cosignature back.
 */
import { checkWitness } from '../audit/witness.js';
import { cosignCheckpoint, type Cosignature } from '../audit/cosign.js';
import { certInfo } from '../certs/pki-crypto.js';
import { caTrust } from '../protocol/ca-trust.js';
import { isCreditError, protocolError } from '../protocol/errors.js';
import { CHECKPOINT_SCHEMA, type CheckpointPayload, type WitnessState } from '../protocol/exchange.js';
import { checkTimestamp } from '../protocol/freshness.js';
import type { TrustPolicy } from '../protocol/trust.js';
import type { Peer } from './client-check.js';
import type { HubDeps } from './context.js';
import { malformedPayload, openFrom } from './envelope-in.js';
import { envelopesStore } from './envelopes-store.js';
import { nodesStore } from './nodes-store.js';
import { witnessStore } from './witness-store.js';

export interface WitnessService {
  latest(peer: Peer): Promise<WitnessState>;
  cosign(peer: Peer, raw: string): Promise<Cosignature>;
}

/** Codes whose refusal the witness audits itself (as a failed 'checkpoint.cosign'). */
export const WITNESS_FAILURES: ReadonlySet<string> = new Set(['ERR_AUDIT_INCONSISTENT', 'ERR_AUDIT_CHECKPOINT_SIGNATURE', 'ERR_AUDIT_UNTRUSTED_SIGNER']);

export function witnessService(deps: HubDeps): WitnessService {
  /** The CA trust with the register's revocation status of the checkpoint's certificate. */
  async function trustFor(certPem: string): Promise<TrustPolicy> {
    let serial: string | null = null;
    try {
      serial = certInfo(certPem).serial;
    } catch {
      return deps.trust; // unreadable: checkWitness refuses it
    }
    const revoked = (await nodesStore.peer(deps.db, serial, deps.clock()))?.certStatus === 'revoked';
    return caTrust({ caCertPems: [deps.ca.certPem], isRevoked: (s) => revoked && s === serial });
  }

  return {
    async latest(peer) {
      const w = await witnessStore.latest(deps.db, peer.nodeId);
      return { nodeId: peer.nodeId, treeSize: w?.treeSize ?? 0, rootHash: w?.rootHash ?? null, cosignedAt: w?.cosignedAt ?? null };
    },

    async cosign(peer, raw) {
      const { header, digest, payload, problems } = await openFrom<CheckpointPayload>(deps, peer, raw, { type: 'checkpoint', schema: CHECKPOINT_SCHEMA });
      if (problems.length > 0) throw malformedPayload('checkpoint', problems);
      const trust = await trustFor(payload.signerCertPem);
      const actor = `node:${peer.nodeId}`;
      const object = `node:${peer.nodeId} size=${payload.checkpoint.treeSize}`;
      try {
        return await deps.db.transaction(async (trx) => {
          const now = deps.clock();
          const at = now.toISOString();
          if (await envelopesStore.find(trx, header.id)) throw protocolError('ERR_REPLAY', `checkpoint envelope ${header.id} has been seen before`, { id: header.id });
          checkTimestamp(header.ts, { now, windowMs: deps.config.windowMs });
          const prev = await witnessStore.latest(trx, peer.nodeId);
          const head = checkWitness({ nodeId: peer.nodeId, prev: prev ? { treeSize: prev.treeSize, rootHash: prev.rootHash } : null, payload, trust });
          if (!(await envelopesStore.insert(trx, { id: header.id, fromNode: peer.nodeId, type: 'checkpoint', seq: header.seq, ts: header.ts, digest, receivedAt: at, outcome: 'answered', code: null, response: null }))) {
            throw protocolError('ERR_REPLAY', `checkpoint envelope ${header.id} has been seen before`, { id: header.id });
          }
          if (prev && prev.treeSize === head.treeSize) return JSON.parse(prev.cosignature) as Cosignature; // the same head again
          const cosignature = cosignCheckpoint(payload.checkpoint, deps.identity, now);
          await witnessStore.insert(trx, { nodeId: peer.nodeId, treeSize: head.treeSize, rootHash: head.rootHash, checkpoint: JSON.stringify(payload.checkpoint), cosignature: JSON.stringify(cosignature), cosignedAt: cosignature.cosignedAt });
          await nodesStore.count(trx, peer.nodeId, at, {});
          await deps.audit.recordIn(trx, { action: 'checkpoint.cosign', actor, actorNode: peer.nodeId, object, outcome: 'success', reason: `root=${head.rootHash} from=${prev?.treeSize ?? 0}` });
          return cosignature;
        });
      } catch (e) {
        if (isCreditError(e) && WITNESS_FAILURES.has(e.code)) {
          await deps.audit.record({ action: 'checkpoint.cosign', actor, actorNode: peer.nodeId, object, outcome: 'failure', reason: `${e.code}: ${e.message}`.slice(0, 2000) });
        }
        throw e;
      }
    },
  };
}
