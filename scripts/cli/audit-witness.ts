/**
 * `credit audit witness-export`: the witness's own records of the heads it cosigned, for
 * `credit audit verify --witness FILE` (audit/witness-records.ts format: one cosignature per
 * line, with the witness certificate). On the hub's store: the hub's cosignatures of the nodes'
 * checkpoints (hub_witness). On a node's store: the node's cosignatures of the hub's checkpoints
 * (audit_witnessed, mutual witnessing). Read-only. Each also carries its signed witness reset
 * records and the cosignatures they abandoned — the hub's (hub_witness_epochs, hub_witness_archive:
 * node restores, §10a), a node's (node_hub_witness_epochs, node_hub_witness_archive: hub rollbacks,
 * §10b) — which `verify --witness` reports as breaks.
 */
import type { WitnessReset } from '../../audit/witness-reset.js';
import { witnessResetStore } from '../../hub/witness-reset-store.js';
import { hubWitnessResetStore } from '../../node/hub-witness-reset-store.js';
import { HUB_NODE_ID } from '../../certs/issue.js';
import { existsSync, writeFileSync } from 'node:fs';
import type { Cosignature } from '../../audit/cosign.js';
import { connect } from '../../audit/knex-connect.js';
import { witnessRecordsNdjson, type ArchivedCosignature } from '../../audit/witness-records.js';
import { witnessedByThisStore } from '../../audit/witnessed-store.js';
import { witnessStore } from '../../hub/witness-store.js';
import { cliError } from '../errors.js';
import { command, optionalString, requireString } from './framework.js';

export const witnessExportCmd = command({
  name: 'witness-export',
  summary: "write the witness records of a store (the heads it cosigned for others) for `audit verify --witness`",
  usage: '--db URL_OR_FILE --out FILE [--node ID] [--schema NAME]',
  help: [
    '  --db URL_OR_FILE  the hub store (records of the nodes\' logs) or a node store (records of the hub\'s log)',
    '  --schema NAME     PostgreSQL schema',
    '  --node ID         only the records of this node\'s log',
    '  --out FILE        NDJSON, one cosignature per line (with the witness certificate)',
    'Export the records first, then the bundle: a record newer than the bundle fails verify as ERR_AUDIT_TRUNCATED.',
  ].join('\n'),
  options: { db: { type: 'string' }, schema: { type: 'string' }, node: { type: 'string' }, out: { type: 'string' } },
  run: async ({ values, io }) => {
    const target = requireString(values, 'db');
    const out = requireString(values, 'out');
    const node = optionalString(values, 'node');
    if (!/^postgres(ql)?:\/\//.test(target) && !existsSync(target)) throw cliError('ERR_USAGE', `--db ${target}: no such file`);
    const schema = optionalString(values, 'schema');
    const db = await connect(target, schema ? { schema } : {});
    let records: Cosignature[] = [];
    let resets: WitnessReset[] = [];
    let archived: ArchivedCosignature[] = [];
    try {
      if (await db.schema.hasTable('hub_witness')) records.push(...(await witnessStore.cosignatures(db, node)).map((j) => JSON.parse(j) as Cosignature));
      resets = (await witnessResetStore.records(db, node)).map((j) => JSON.parse(j) as WitnessReset);
      archived = (await witnessResetStore.archived(db, node)).map((a) => ({ type: 'witness-archived', epoch: a.epoch, cosignature: JSON.parse(a.cosignature) as Cosignature }));
      records.push(...(await witnessedByThisStore(db)));
      if (!node || node === HUB_NODE_ID) {
        resets.push(...(await hubWitnessResetStore.records(db)).map((j) => JSON.parse(j) as WitnessReset));
        archived.push(...(await hubWitnessResetStore.archived(db)).map((a): ArchivedCosignature => ({ type: 'witness-archived', epoch: a.epoch, cosignature: JSON.parse(a.cosignature) as Cosignature })));
      }
      if (node) records = records.filter((c) => c.nodeId === node);
    } finally {
      await db.destroy();
    }
    writeFileSync(out, witnessRecordsNdjson(records, resets, archived));
    io.stdout(`wrote ${out}: ${records.length} witness records${resets.length ? `, ${resets.length} witness resets and ${archived.length} archived (abandoned) cosignatures` : ''}${node ? ` of node ${node}` : ''}\n`);
    return 0;
  },
});
