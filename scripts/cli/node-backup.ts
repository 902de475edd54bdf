/** `credit node backup` and `credit node restore`: a consistent copy of a node, and putting it back. */
import { loadConfig } from '../../node/config.js';
import { isPostgresUrl } from '../../audit/knex-connect.js';
import { command, requireString, type Command } from './framework.js';

const backup = command({
  name: 'backup',
  summary: 'copy the node (store and data directory) into a new backup directory; the node may keep running',
  usage: '--config FILE --out DIR',
  help: [
    '  --config FILE  the node config',
    '  --out DIR      a new (or empty) directory: manifest.json, node.sqlite (SQLite), data/ (exchange keys and',
    '                 certificates, subject.key, jwt.secret, …). Keep it as safe as the node key: it holds it.',
    '  SQLite: the store is copied with VACUUM INTO, consistent while the node writes.',
    '  PostgreSQL: the data directory is copied and the pg_dump command to run is printed.',
    '  The data key file (DATADIR/data.key) is NOT copied: records stay sealed in the backup; back the key up apart.',
  ].join('\n'),
  options: { config: { type: 'string' }, out: { type: 'string' } },
  run: async ({ values, io }) => {
    const config = loadConfig(requireString(values, 'config'));
    const out = requireString(values, 'out');
    const { backupNode, pgCommands } = await import('../../node/backup.js');
    const m = await backupNode(config, out);
    io.stdout(`node ${m.nodeId} backed up to ${out}: ${m.engine === 'sqlite' ? `${m.store} and ` : ''}${m.files.length} data-directory files\n`);
    io.stdout('the data key file (atRest.keyFile, default DATADIR/data.key) is not in the backup: keep its own copy apart (docs/at-rest.md § Key backup)\n');
    if (m.engine === 'pg') {
      const c = pgCommands(config.databaseTarget, out);
      io.stdout(`the store is PostgreSQL: dump it into the backup now with\n  ${c.dump}\n(restore: ${c.restore})\n`);
    }
    return 0;
  },
});

const restore = command({
  name: 'restore',
  summary: 'put a backup back (the node must be stopped); on start it resynchronises with the hub',
  usage: '--config FILE --from DIR',
  help: [
    '  --config FILE  the node config (same nodeId as the backup)',
    '  --from DIR     a directory written by `credit node backup`',
    '  Refused while a node runs on the data directory (ERR_DATADIR_LOCKED) and for a backup of another',
    '  node or engine (ERR_BACKUP_INVALID). Records written after the backup was taken are not in it.',
  ].join('\n'),
  options: { config: { type: 'string' }, from: { type: 'string' } },
  run: async ({ values, io }) => {
    const config = loadConfig(requireString(values, 'config'));
    const from = requireString(values, 'from');
    const { restoreNode, pgCommands } = await import('../../node/backup.js');
    const m = await restoreNode(config, from);
    io.stdout(`node ${m.nodeId} restored from ${from} (backup of ${m.createdAt}): ${m.files.length} data-directory files${m.engine === 'sqlite' ? ` and the store ${config.databaseTarget}` : ''}\n`);
    if (m.engine === 'pg' && isPostgresUrl(config.databaseTarget)) io.stdout(`the store is PostgreSQL: restore it with\n  ${pgCommands(config.databaseTarget, from).restore}\n`);
    io.stdout('start the node: it resynchronises with the hub by itself (README: "Backup and restore")\n');
    io.stdout(`the audit witness: ask the hub operator to run\n  credit hub witness reset-arm --config hub.json --node ${m.nodeId} --backup-created-at ${m.createdAt} --reason "…"\n`);
    return 0;
  },
});

export const nodeBackupCommands: Command[] = [backup, restore];
