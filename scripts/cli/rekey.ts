/** `credit node rekey` and `credit hub rekey`: rotate the data key of encryption at rest (docs/at-rest.md). */
import { connect } from '../../audit/knex-connect.js';
import { migrateParts, storeLabel, type SchemaPart } from '../../audit/migration-plan.js';
import { withOperatorAudit } from '../../audit/operator.js';
import { probeStore } from '../../audit/start-checks.js';
import { lockDataDir } from '../../audit/store-files.js';
import { rekeyStore, type AtRestSide } from '../../server/at-rest-store.js';
import { atRestOptions } from '../../server/config-schema.js';
import { command, requireString, type Command } from './framework.js';

export interface RekeyTarget {
  target: string;
  parts: readonly SchemaPart[];
  side: AtRestSide;
  dataDir: string;
  atRest?: { keyFile?: string; keyWrapper?: string } | undefined;
  actorNode: string;
}

export function rekeyCommand(role: 'node' | 'hub', targetOf: (configFile: string) => RekeyTarget): Command {
  return command({
    name: 'rekey',
    summary: `rotate the data key sealing personal data at rest in this ${role}'s store (stop the ${role} first)`,
    usage: '--config FILE',
    help: [
      `  --config FILE  the ${role} config (its store and data key file, atRest.keyFile, default DATADIR/data.key)`,
      '  Adds a key generation (k2, k3 …) to the key file, then re-seals every record row under it in batches',
      '  of 500, one transaction each, printing progress. Interrupted (a crash, Ctrl-C), run it again or start',
      `  the ${role}: it goes on where it stopped, without making another key. Old keys stay in the key file so`,
      '  backups sealed under them still open: back the key file up again after a rotation. Audited (store.rekey).',
      `  Refused while the ${role} runs (ERR_DATADIR_LOCKED), without its key file (ERR_DATA_KEY_MISSING) or with`,
      '  another store\'s key file (ERR_DATA_KEY_WRONG).',
    ].join('\n'),
    options: { config: { type: 'string' } },
    run: async ({ values, io }) => {
      const t = targetOf(requireString(values, 'config'));
      const lock = lockDataDir(t.dataDir); // ERR_DATADIR_LOCKED while the server runs
      try {
        const db = await connect(t.target);
        try {
          await probeStore(db, t.target);
          await migrateParts(db, t.parts, storeLabel(t.target));
          const r = await rekeyStore(db, t.side, atRestOptions(t), {
            onProgress: (p) => io.stderr(`${p.table}: ${p.done}/${p.total}\n`),
            audit: (phase, r) => withOperatorAudit(db, (audit, actor) => audit.record({ action: 'store.rekey', actor, actorNode: t.actorNode, object: `key:${r.to}`, outcome: 'success', reason: `${phase} from=${r.from} to=${r.to}${r.resumed ? ' resumed' : ''}${phase === 'done' ? ` rows=${Object.values(r.rows).reduce((a, b) => a + b, 0)}` : ''}` })),
          });
          io.stdout(`${r.resumed ? 'resumed the rotation to' : 'rotated to'} key ${r.to}: ${Object.entries(r.rows).map(([k, n]) => `${k} ${n}`).join(', ')} row(s) re-sealed\n`);
          return 0;
        } finally {
          await db.destroy();
        }
      } finally {
        lock.release();
      }
    },
  });
}
