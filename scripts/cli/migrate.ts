/** `credit node migrate` and `credit hub migrate`: show, then apply, the schema migrations a store is missing. */
import { existsSync } from 'node:fs';
import { connect, isPostgresUrl } from '../../audit/knex-connect.js';
import { allPending, assertNotNewer, migrateParts, migrationState, storeLabel, type MigrationState, type SchemaPart } from '../../audit/migration-plan.js';
import { probeStore } from '../../audit/start-checks.js';
import { command, requireString, type Command } from './framework.js';

function describe(state: MigrationState, store: string): string {
  const lines = [`store: ${store}`, `applied: ${state.applied.length}`];
  if (state.pending.length === 0) lines.push('pending: none (the schema is up to date)');
  else lines.push(`pending: ${state.pending.length}`, ...state.pending.map((m) => `  ${m.part} ${m.name}`));
  return lines.join('\n') + '\n';
}

export function migrateCommand(role: 'node' | 'hub', storeOf: (configFile: string) => { target: string; parts: readonly SchemaPart[] }): Command {
  return command({
    name: 'migrate',
    summary: `show and apply the schema migrations this ${role}'s store is missing (start-up applies them too)`,
    usage: '--config FILE [--dry-run]',
    help: [
      `  --config FILE  the ${role} config: its store (databaseUrl / env DATABASE_URL, else DATADIR/${role}.sqlite)`,
      '  --dry-run      list the pending migrations and change nothing',
      `  Stop the ${role} first (or run this before starting the new version). A store migrated by a newer`,
      '  version is refused with ERR_SCHEMA_TOO_NEW (this version never downgrades a store).',
    ].join('\n'),
    options: { config: { type: 'string' }, 'dry-run': { type: 'boolean' } },
    run: async ({ values, io }) => {
      const { target, parts } = storeOf(requireString(values, 'config'));
      const store = storeLabel(target);
      const dryRun = values['dry-run'] === true;
      if (dryRun && !isPostgresUrl(target) && !existsSync(target)) {
        io.stdout(describe(await allPending(parts), `${store} (not created yet)`) + 'dry run: nothing changed\n');
        return 0;
      }
      const db = await connect(target);
      try {
        await probeStore(db, target);
        if (dryRun) {
          const state = await migrationState(db, parts);
          assertNotNewer(state, store);
          io.stdout(describe(state, store) + 'dry run: nothing changed\n');
          return 0;
        }
        const before = await migrateParts(db, parts, store);
        io.stdout(describe(before, store));
        io.stdout(before.pending.length === 0 ? 'nothing to apply\n' : `applied ${before.pending.length} migration${before.pending.length === 1 ? '' : 's'}\n`);
        return 0;
      } finally {
        await db.destroy();
      }
    },
  });
}
