/**
 * The node operator's side of a hub rollback (docs/audit-format.md §10b, `credit node witness
 * reset-arm|resets`): arming records a one-shot witness reset of the hub's log in the node's store and
 * audits it first ('witness.reset.arm', object node:430000, actor cli:<user>@<host>); the node's
 * witness loop uses it at its next round (node/exchange/witness.ts). Without an arm the node refuses
 * a rolled-back hub's log for good (a failed 'hub.checkpoint.cosign', ERR_AUDIT_INCONSISTENT).
 */
import { HUB_NODE_ID } from '../certs/issue.js';
import type { NodeConfig } from './config.js';
import { auditError } from '../audit/errors.js';
import { hubWitnessResetStore, splitAt, type HubWitnessArm, type WitnessedHubHead } from './hub-witness-reset-store.js';
import { withNodeStore } from './service-tokens.js';

export interface ArmedHubReset {
  id: number;
  expiresAt: string;
  /** The largest hub head this node cosigned whose checkpoint is older than restoredTo (kept), or null. */
  keeps: WitnessedHubHead | null;
  /** The hub heads cosigned since (abandoned when the reset is used). */
  abandons: WitnessedHubHead[];
}

/**
 * Arms a reset of the node's witness of the hub's log (an earlier unused arm is cancelled); audited
 * before it is stored. ERR_AUDIT_RESET_FROM, audited as a failed arm, when this node cosigned no hub
 * head after `restoredTo` (by the hub's checkpoint time): its witness is not affected, and an arm left
 * waiting would let a later rewrite of the hub's log through.
 */
export async function armHubWitnessReset(config: NodeConfig, a: { restoredTo: string; reason: string; ttlMs: number }, now: Date = new Date()): Promise<ArmedHubReset> {
  return withNodeStore(config, async (db, audit, actor) => {
    const expiresAt = new Date(now.getTime() + a.ttlMs).toISOString();
    const { from: keeps, abandoned: abandons } = splitAt(await hubWitnessResetStore.heads(db), a.restoredTo);
    if (abandons.length === 0) {
      const e = auditError('ERR_AUDIT_RESET_FROM', `nothing to reset: this node cosigned no hub head signed after ${a.restoredTo} (it keeps the hub's log up to tree size ${keeps?.treeSize ?? 0}); its witness of the hub's log is not affected by a rollback to that point`, { restoredTo: a.restoredTo });
      await audit.record({ action: 'witness.reset.arm', actor, actorNode: config.nodeId, object: `node:${HUB_NODE_ID}`, outcome: 'failure', reason: `${e.code}: restoredTo=${a.restoredTo}: ${a.reason}` });
      throw e;
    }
    // audited first: an arm never exists without its audit entry
    await audit.record({ action: 'witness.reset.arm', actor, actorNode: config.nodeId, object: `node:${HUB_NODE_ID}`, outcome: 'success', reason: `expires=${expiresAt} restoredTo=${a.restoredTo} keeps=${keeps?.treeSize ?? 0} abandons=${abandons.length}: ${a.reason}` });
    const id = await hubWitnessResetStore.arm(db, { reason: a.reason, armedBy: actor, armedAt: now.toISOString(), expiresAt, restoredTo: a.restoredTo, abandonTo: abandons.at(-1)!.treeSize });
    return { id, expiresAt, keeps, abandons };
  });
}

export async function hubWitnessArms(config: NodeConfig): Promise<HubWitnessArm[]> {
  return withNodeStore(config, (db) => hubWitnessResetStore.arms(db));
}
