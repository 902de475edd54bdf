import { NODE_AT_REST } from '../../node/at-rest.js';
import { nodeWitnessGroup } from './node-witness.js';
import { rekeyCommand } from './rekey.js';
import { nodeQualityCommand } from './node-quality.js';
import { loadConfig } from '../../node/config.js';
import { group } from './framework.js';
import { installServiceCommand } from './install-service.js';
import { migrateCommand } from './migrate.js';
import { nodeCheckCommand } from './check-commands.js';
import { NODE_SCHEMA } from '../../node/migrations.js';
import { nodeKeyCommands } from './node-keys.js';
import { nodeServerCommands } from './node-server.js';
import { nodeBackupCommands } from './node-backup.js';
import { tokensGroup, userGroup } from './node-users.js';
import { nodeReportCommand } from './node-report.js';

const installService = installServiceCommand('node', async (configFile) => {
  const c = loadConfig(configFile);
  return { nodeId: c.nodeId, dataDir: c.dataDir, writableDirs: [], shutdownTimeoutMs: c.shutdownTimeoutMs };
});

const migrate = migrateCommand('node', (configFile) => ({ target: loadConfig(configFile).databaseTarget, parts: NODE_SCHEMA }));
const rekey = rekeyCommand('node', (configFile) => {
  const c = loadConfig(configFile);
  return { target: c.databaseTarget, parts: NODE_SCHEMA, side: NODE_AT_REST, dataDir: c.dataDir, atRest: c.atRest, actorNode: c.nodeId };
});

export const nodeGroup = group('node', 'a city or county node: keys, tokens, running it', [...nodeKeyCommands, ...nodeServerCommands, installService, migrate, rekey, ...nodeBackupCommands, nodeCheckCommand, nodeQualityCommand, nodeReportCommand, nodeWitnessGroup, userGroup, tokensGroup]);
