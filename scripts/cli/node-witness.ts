/**
 * `credit node witness reset-arm|resets`: the city operator's side of a hub rollback (README "When the
 * hub's store goes back in time", docs/audit-format.md §10b). node/hub-witness-arm.ts does the work.
 */
import { loadConfig } from '../../node/config.js';
import { armHubWitnessReset, hubWitnessArms } from '../../node/hub-witness-arm.js';
import { command, group, requireString } from './framework.js';
import { armReason, armState, armTtl, pastTime } from './witness-arm-options.js';

const arm = command({
  name: 'reset-arm',
  summary: "allow one witness reset of the hub's log after the province restored the hub (one-shot, audited, expires)",
  usage: '--config FILE --hub-restored-to ISO --reason TEXT [--ttl 24h]',
  help: [
    '  --config FILE            node config',
    '  --hub-restored-to ISO    the point the hub\'s store went back to, as the province states it (the hub',
    '                           backup\'s createdAt, or the failover\'s time), e.g. 2026-12-03T19:56:50.123Z',
    '  --reason TEXT            why (the province\'s notice, ticket): goes into the node audit log, the signed',
    '                           reset record and what `credit audit verify --witness` shows the auditor',
    '  --ttl DURATION           how long the arm waits: 30m, 24h, 7d (default 24h, at most 7d)',
    '  The node, at its next witness round, keeps the hub heads it cosigned before that time, checks the',
    '  hub\'s log extends the last of them (else ERR_AUDIT_RESET_FROM: the hub went back further than stated),',
    '  archives the heads cosigned after it as an abandoned epoch and cosigns the hub\'s log again.',
  ].join('\n'),
  options: { config: { type: 'string' }, reason: { type: 'string' }, ttl: { type: 'string' }, 'hub-restored-to': { type: 'string' } },
  run: async ({ values, io }) => {
    const config = loadConfig(requireString(values, 'config'));
    const reason = armReason(values);
    const ttl = armTtl(values);
    const now = new Date();
    const restoredTo = pastTime(values, 'hub-restored-to', "the point the hub's store went back to", now);
    const r = await armHubWitnessReset(config, { restoredTo, reason, ttlMs: ttl }, now);
    io.stdout(`witness reset ${r.id} of the hub's log armed until ${r.expiresAt} (hub restored to ${restoredTo})\n`);
    const last = r.abandons.at(-1);
    io.stdout(`it keeps the hub's log up to tree size ${r.keeps?.treeSize ?? 0}${r.keeps ? ` (cosigned ${r.keeps.cosignedAt})` : ''} and abandons ${r.abandons.length} head(s) this node cosigned after that${last ? ` (tree sizes ${r.abandons[0]!.treeSize}..${last.treeSize}, the last cosigned ${last.cosignedAt})` : ''}\n`);
    io.stderr('an earlier unused arm is cancelled; the node uses this one at its next witness round (a running node retries by itself); `credit node witness resets` shows when it was used\n');
    return 0;
  },
});

const list = command({
  name: 'resets',
  summary: "list the witness reset arms of the hub's log: armed, used (with the epoch it opened), cancelled or expired",
  usage: '--config FILE [--json]',
  help: '  --config FILE   node config\n  --json          print the arms as JSON',
  options: { config: { type: 'string' }, json: { type: 'boolean' } },
  run: async ({ values, io }) => {
    const arms = await hubWitnessArms(loadConfig(requireString(values, 'config')));
    if (values.json === true) {
      io.stdout(JSON.stringify(arms, null, 2) + '\n');
      return 0;
    }
    const now = Date.now();
    for (const a of arms) {
      io.stdout(`${a.id}\t${armState(a, now)}\trestoredTo=${a.restoredTo}\t${a.armedBy} ${a.armedAt}\t${a.reason}\n`);
    }
    return 0;
  },
});

export const nodeWitnessGroup = group('witness', "the node's witness of the hub's audit log: reset after a hub rollback", [arm, list]);
