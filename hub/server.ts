/**
 * Starts the hub: builds the app, listens (HTTPS), and shuts down gracefully on SIGTERM/SIGINT
 * (stops accepting, lets in-flight requests and their transactions finish, writes a final audit
 * checkpoint, closes the store), bounded by shutdownTimeoutMs. Holds the data-directory lock
 * from before the store opens until it is closed (a second process: ERR_DATADIR_LOCKED). The
 * start and stop themselves are server/start.ts, shared with the node.
 */
import { closeOnSignals, startServer, type RunningServer } from '../server/start.js';
import { HUB_SCHEMA } from './migrations.js';
import { buildHub, type BuildHubOptions } from './app.js';

export type RunningHub = RunningServer;

export function startHub(opts: BuildHubOptions): Promise<RunningHub> {
  return startServer({
    listen: opts.config.listen,
    scheme: 'https',
    databaseTarget: opts.config.databaseTarget,
    schema: HUB_SCHEMA,
    db: opts.db,
    dataDir: opts.config.dataDir,
    shutdownTimeoutMs: opts.config.shutdownTimeoutMs,
    build: () => buildHub(opts),
    listening: { fields: { nodeId: '430000', store: opts.config.databaseUrl ? 'postgresql' : 'sqlite' }, message: 'provincial hub listening' },
  });
}

/** Resolves when the hub has shut down after SIGTERM or SIGINT. */
export function closeHubOnSignals(hub: RunningHub): Promise<void> {
  return closeOnSignals(hub);
}
