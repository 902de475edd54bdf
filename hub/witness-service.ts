/**
 * Checkpoint witnessing. `latest` reports the largest checkpoint the hub has cosigned for a node.
 * `cosign` needs audit/witness.ts + audit/cosign.ts (checkWitness, cosignCheckpoint), which this
 * build does not have yet: it answers 501 ERR_WITNESS_UNAVAILABLE after checking the envelope.
 */
import { CHECKPOINT_SCHEMA, type CheckpointPayload, type WitnessState } from '../protocol/exchange.js';
import type { Peer } from './client-check.js';
import type { HubDeps } from './context.js';
import { malformedPayload, openFrom } from './envelope-in.js';
import { hubError } from './errors.js';
import { witnessStore } from './witness-store.js';

export interface WitnessService {
  latest(peer: Peer): Promise<WitnessState>;
  cosign(peer: Peer, raw: string): Promise<unknown>;
}

export function witnessService(deps: HubDeps): WitnessService {
  return {
    async latest(peer) {
      const w = await witnessStore.latest(deps.db, peer.nodeId);
      return { nodeId: peer.nodeId, treeSize: w?.treeSize ?? 0, rootHash: w?.rootHash ?? null, cosignedAt: w?.cosignedAt ?? null };
    },
    async cosign(peer, raw) {
      const { problems } = await openFrom<CheckpointPayload>(deps, peer, raw, { type: 'checkpoint', schema: CHECKPOINT_SCHEMA });
      if (problems.length > 0) throw malformedPayload('checkpoint', problems);
      throw hubError('ERR_WITNESS_UNAVAILABLE', 'this hub build cannot cosign checkpoints yet (audit/witness.ts is missing)');
    },
  };
}
