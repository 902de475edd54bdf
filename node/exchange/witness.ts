/**
 * Witnessing: after batch rounds and every checkpointIntervalMs, the node signs a checkpoint of
 * its audit log (with the node key), asks the hub which tree head it last cosigned for this node,
 * sends the checkpoint with a consistency proof from there (audit/witness.ts witnessPayload), and
 * stores the hub's cosignature (audit storeCosignature, verified against the CA) so export
 * bundles carry it. Nothing new since the last cosignature → nothing is sent.
 */
import type { Knex } from 'knex';
import type { AuditLog } from '../../audit/log.js';
import type { Cosignature } from '../../audit/cosign.js';
import { latestCosignature, storeCosignature } from '../../audit/cosign-store.js';
import { witnessPayload } from '../../audit/witness.js';
import type { HubConfig } from '../config.js';
import { nodeError } from '../errors.js';
import type { HubClient } from './hub-client.js';
import { sealToHub } from './hub-envelopes.js';
import type { ExchangeIdentity } from './identity.js';
import type { Log } from './loop.js';

export interface WitnessDeps {
  db: Knex;
  log: AuditLog;
  identity: ExchangeIdentity;
  client: () => HubClient;
  clock: () => Date;
  logger: Log;
  hub: Pick<HubConfig, 'checkpointIntervalMs'>;
}

function isCosignature(c: unknown): c is Cosignature {
  const x = c as Cosignature;
  return typeof x === 'object' && x !== null && typeof x.treeSize === 'number' && typeof x.rootHash === 'string' && typeof x.signature === 'string' && typeof x.certPem === 'string';
}

export function createWitness(deps: WitnessDeps) {
  const { db, identity, clock } = deps;
  let seq = 0;

  /** One witnessing round; returns the cosignature stored, or null when there was nothing new. */
  async function witnessOnce(signal?: AbortSignal): Promise<Cosignature | null> {
    const last = await latestCosignature(db);
    const cp = await deps.log.checkpoint(); // signs one when entries were added since the last
    if (!cp || (last && last.treeSize >= cp.treeSize && cp.signerFingerprint === deps.log.signerFingerprint())) return null;
    const state = await deps.client().getWitnessState(signal);
    const payload = await witnessPayload(db, deps.log, { treeSize: state.treeSize, rootHash: state.rootHash });
    if (last && payload.checkpoint.treeSize === last.treeSize) return null;
    const envelope = await sealToHub(identity, { type: 'checkpoint', seq: ++seq, ts: clock(), payload });
    const answer = await deps.client().postCheckpoint(envelope, signal);
    if (!isCosignature(answer)) throw nodeError('ERR_HUB_ANSWER_INVALID', 'the hub did not answer the checkpoint with a cosignature');
    if (answer.treeSize !== payload.checkpoint.treeSize || answer.rootHash !== payload.checkpoint.rootHash) {
      throw nodeError('ERR_HUB_ANSWER_INVALID', `the cosignature is for tree size ${answer.treeSize}, not ${payload.checkpoint.treeSize}`);
    }
    await storeCosignature(db, answer, { caCertPem: identity.current().caCertPem });
    deps.logger.debug({ treeSize: answer.treeSize }, 'hub exchange: audit checkpoint cosigned by the hub');
    return answer;
  }

  async function step(signal?: AbortSignal): Promise<number> {
    await witnessOnce(signal);
    return deps.hub.checkpointIntervalMs > 0 ? deps.hub.checkpointIntervalMs : 3_600_000;
  }

  return { step, witnessOnce };
}

export type Witness = ReturnType<typeof createWitness>;
