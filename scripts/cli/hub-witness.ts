/**
 * `credit hub witness reset-arm|resets`: the hub operator's side of a node restore (README "Backup and restore",
 * docs/audit-format.md §10a). Arming opens the hub's existing store, records a one-shot
 * reset for one node and audits it ('witness.reset.arm', actor cli:<user>@<host>, src=); the node
 * uses it on its next checkpoint (hub/witness-service.ts). Without an arm the hub refuses a restored
 * node's log for ever (ERR_AUDIT_RESET_NOT_ARMED / ERR_AUDIT_INCONSISTENT).
 */
import { loadHubConfig } from '../../hub/config.js';
import { openExistingHubStore } from '../../hub/admin-store.js';
import { nodesStore } from '../../hub/nodes-store.js';
import { witnessResetStore } from '../../hub/witness-reset-store.js';
import { withOperatorAudit } from '../../audit/operator.js';
import { cliError } from '../errors.js';
import { command, group, optionalString, requireString } from './framework.js';
import { armReason, armState, armTtl, pastTime } from './witness-arm-options.js';

const arm = command({
  name: 'reset-arm',
  summary: "allow one witness reset for a node restored from a backup (one-shot, audited, expires)",
  usage: '--config FILE --node ID --backup-created-at ISO --reason TEXT [--ttl 24h]',
  help: [
    '  --config FILE             hub config',
    '  --node ID                 the restored node',
    '  --reason TEXT             why (ticket, who asked): goes into the hub audit log, the signed reset record and',
    '                            what `credit audit verify --witness` shows the auditor',
    '  --ttl DURATION            how long the arm waits for the node: 30m, 24h, 7d (default 24h, at most 7d)',
    '  --backup-created-at ISO   the backup the node was restored from (its manifest createdAt, printed by',
    '                            `credit node restore`): the node cannot claim an older backup to drop more history',
    '  The node, on its next checkpoint, proves its log consistent with the largest head the hub cosigned',
    '  before the backup was made; the heads cosigned after that are archived as an abandoned epoch.',
  ].join('\n'),
  options: { config: { type: 'string' }, node: { type: 'string' }, reason: { type: 'string' }, ttl: { type: 'string' }, 'backup-created-at': { type: 'string' } },
  run: async ({ values, io }) => {
    const config = loadHubConfig(requireString(values, 'config'));
    const nodeId = requireString(values, 'node');
    const reason = armReason(values);
    const ttl = armTtl(values);
    const backupCreatedAt = pastTime(values, 'backup-created-at', "the backup's createdAt as printed", new Date());
    const db = await openExistingHubStore(config);
    try {
      if (!(await nodesStore.get(db, nodeId))) throw cliError('ERR_USAGE', `--node ${nodeId}: no such node in the hub's register`);
      const now = new Date();
      const expiresAt = new Date(now.getTime() + ttl).toISOString();
      // audited first: an arm never exists without its audit entry
      const armedBy = await withOperatorAudit(db, async (audit, actor) => {
        await audit.record({ action: 'witness.reset.arm', actor, actorNode: '430000', object: `node:${nodeId}`, outcome: 'success', reason: `expires=${expiresAt} backupCreatedAt=${backupCreatedAt}: ${reason}` });
        return actor;
      });
      const id = await witnessResetStore.arm(db, { nodeId, reason, armedBy, armedAt: now.toISOString(), expiresAt, backupCreatedAt });
      io.stdout(`witness reset ${id} armed for node ${nodeId} until ${expiresAt} (backup of ${backupCreatedAt})\n`);
      // what it will do: the operator sees the scope before the node uses it
      const from = await witnessResetStore.lastBefore(db, nodeId, backupCreatedAt);
      const abandoned = (await witnessResetStore.heads(db, nodeId)).filter((h) => h.treeSize > (from?.treeSize ?? 0));
      io.stdout(`it keeps node ${nodeId}'s log up to tree size ${from?.treeSize ?? 0}${from ? ` (cosigned ${from.cosignedAt})` : ''} and abandons ${abandoned.length} head(s) cosigned after the backup${abandoned.length ? ` (tree sizes ${abandoned[0]!.treeSize}..${abandoned.at(-1)!.treeSize}, the last cosigned ${abandoned.at(-1)!.cosignedAt})` : ''}\n`);
      io.stderr(`check that kept tree size (${from?.treeSize ?? 0}) against what the backup held (the restored store's newest checkpoint) rather than trusting the backup time alone; an earlier unused arm of node ${nodeId} is cancelled\n`);
      io.stderr('the node uses it on its next checkpoint (it retries by itself); `credit hub witness resets` shows when it was used\n');
      return 0;
    } finally {
      await db.destroy();
    }
  },
});

const list = command({
  name: 'resets',
  summary: 'list witness reset arms: armed, used (with the epoch it opened), cancelled or expired',
  usage: '--config FILE [--node ID] [--json]',
  help: '  --config FILE   hub config\n  --node ID       one node only\n  --json          print the arms as JSON',
  options: { config: { type: 'string' }, node: { type: 'string' }, json: { type: 'boolean' } },
  run: async ({ values, io }) => {
    const config = loadHubConfig(requireString(values, 'config'));
    const db = await openExistingHubStore(config);
    try {
      const arms = await witnessResetStore.arms(db, optionalString(values, 'node'));
      if (values.json === true) {
        io.stdout(JSON.stringify(arms, null, 2) + '\n');
        return 0;
      }
      const now = Date.now();
      for (const a of arms) {
        io.stdout(`${a.id}\t${a.nodeId}\t${armState(a, now)}\t${a.armedBy} ${a.armedAt}\t${a.reason}\n`);
      }
      return 0;
    } finally {
      await db.destroy();
    }
  },
});

export const hubWitnessGroup = group('witness', "the hub's witness of node audit logs: reset after a node restore", [arm, list]);
