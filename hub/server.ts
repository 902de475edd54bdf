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
import { buildHubConsole } from './console/app.js';

export type RunningHub = RunningServer;

/**
 * The operator console (config `console.listen`, hub/console/) runs in the hub's process on its own
 * listener, is closed before the hub, and its URL is `consoleUrl` in the "listening" line. HTTPS with
 * `console.listen.tls`, else the hub's own certificate; plain HTTP only with `allowPlaintext`.
 */
export async function startHub(opts: BuildHubOptions): Promise<RunningHub> {
  const consoleListen = opts.config.console?.listen;
  const plaintext = consoleListen !== undefined && consoleListen.tls === undefined && consoleListen.allowPlaintext;
  const running = await startServer({
    listen: opts.config.listen,
    scheme: 'https',
    databaseTarget: opts.config.databaseTarget,
    schema: HUB_SCHEMA,
    db: opts.db,
    dataDir: opts.config.dataDir,
    shutdownTimeoutMs: opts.config.shutdownTimeoutMs,
    build: () => buildHub(opts),
    console: consoleListen ? { listen: consoleListen, scheme: plaintext ? 'http' : 'https', build: (app) => buildHubConsole(app, { plaintext }) } : undefined,
    listening: { fields: { nodeId: '430000', store: opts.config.databaseUrl ? 'postgresql' : 'sqlite' }, message: 'provincial hub listening' },
  });
  if (plaintext) running.app.log.warn({ host: consoleListen.host, key: 'console.listen.allowPlaintext' }, 'the operator console serves plain HTTP (console.listen.allowPlaintext): put a TLS gateway in front, passwords and TOTP codes cross the network in clear');
  return running;
}

/** Resolves when the hub has shut down after SIGTERM or SIGINT. */
export function closeHubOnSignals(hub: RunningHub): Promise<void> {
  return closeOnSignals(hub);
}
