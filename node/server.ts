/**
 * Starts a city node: builds the app, listens, and shuts down gracefully on SIGTERM/SIGINT
 * (stops accepting, lets in-flight requests and writes finish, stops the disclosure job, closes
 * the store), bounded by shutdownTimeoutMs. Holds the data-directory lock from before the store
 * opens until it is closed (a second process: ERR_DATADIR_LOCKED). The start and stop themselves
 * are server/start.ts, shared with the hub. Once listening it sweeps the XLSX spool directories a
 * crashed node left (import-spool.ts).
 */
import { closeOnSignals as closeServerOnSignals, startServer, type RunningServer } from '../server/start.js';
import { NODE_SCHEMA } from './migrations.js';
import { buildApp, type BuildOptions } from './app.js';
import { buildNodeConsole } from './console/app.js';
import { nodeError } from './errors.js';
import { sweepSpools } from './import-spool.js';

export type RunningNode = RunningServer;

/** 127.0.0.0/8, ::1 and localhost: the addresses plain HTTP may serve without listen.allowPlaintext. */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || /^::ffff:127\./.test(h);
}

export async function startNode(opts: BuildOptions): Promise<RunningNode> {
  const { host } = opts.config.listen;
  // Checked before anything is written (nothing changes on disk before a failing start fails).
  // Passwords and tokens never cross a network in clear (issue 18 item 6): beyond loopback, TLS or an explicit allowPlaintext.
  const plaintext = !opts.config.listen.tls && !isLoopback(host);
  if (plaintext && !opts.config.listen.allowPlaintext) {
    throw nodeError('ERR_PLAINTEXT_LISTEN', `节点监听 ${host} 但未配置 TLS：口令和令牌会以明文传输。请配置 listen.tls，或明确设置 listen.allowPlaintext: true（如前置的 TLS 网关）[ERR_PLAINTEXT_LISTEN]`, { key: 'listen', host });
  }
  const consoleListen = opts.config.console?.listen;
  if (consoleListen && !consoleListen.tls && !isLoopback(consoleListen.host) && !consoleListen.allowPlaintext) {
    throw nodeError('ERR_PLAINTEXT_LISTEN', `控制台监听 ${consoleListen.host} 但未配置 TLS：口令会以明文传输。请配置 console.listen.tls（或 listen.tls），或明确设置 console.listen.allowPlaintext: true [ERR_PLAINTEXT_LISTEN]`, { key: 'console.listen', host: consoleListen.host });
  }
  const running = await startServer({
    listen: opts.config.listen,
    scheme: opts.config.listen.tls ? 'https' : 'http',
    databaseTarget: opts.config.databaseTarget,
    schema: NODE_SCHEMA,
    db: opts.db,
    dataDir: opts.config.dataDir,
    newFiles: opts.config.newFiles,
    shutdownTimeoutMs: opts.config.shutdownTimeoutMs,
    build: () => buildApp(opts),
    console: consoleListen ? { listen: consoleListen, scheme: consoleListen.tls ? 'https' : 'http', build: (app) => buildNodeConsole(app) } : undefined,
    listening: { fields: { nodeId: opts.config.nodeId, store: opts.config.databaseUrl ? 'postgresql' : 'sqlite' }, message: 'city node listening' },
  });
  // what a node that crashed mid-import left in $TMPDIR (ciphertext under keys that died with it)
  const swept = await sweepSpools();
  if (swept.removed) running.app.log.info({ removed: swept.removed }, 'removed the XLSX spool directories of import processes that no longer run');
  if (swept.failed.length) running.app.log.warn({ failed: swept.failed }, 'could not remove the XLSX spool directories of import processes that no longer run');
  if (plaintext) running.app.log.warn({ host, key: 'listen.allowPlaintext' }, 'serving plain HTTP beyond loopback: passwords and tokens cross the network in clear (listen.allowPlaintext is set); put TLS in front or set listen.tls');
  return running;
}

/** Resolves when the node has shut down after SIGTERM or SIGINT. */
export function closeOnSignals(node: RunningNode): Promise<void> {
  return closeServerOnSignals(node);
}
