/**
 * Starts a city node: builds the app, listens, and shuts down gracefully on SIGTERM/SIGINT
 * (stops accepting, lets in-flight requests and writes finish, stops the disclosure job, closes
 * the store), bounded by shutdownTimeoutMs. Holds the data-directory lock from before the store
 * opens until it is closed (a second process: ERR_DATADIR_LOCKED).
 */
import type { FastifyInstance } from 'fastify';
import { lockDataDir } from '../audit/store-files.js';
import { buildApp, type BuildOptions } from './app.js';
import { loggableError } from './logger.js';

export interface RunningNode {
  app: FastifyInstance;
  /** e.g. http://127.0.0.1:8480 */
  url: string;
  close(): Promise<void>;
}

export async function startNode(opts: BuildOptions): Promise<RunningNode> {
  const lock = lockDataDir(opts.config.dataDir); // ERR_DATADIR_LOCKED while another process runs on it
  let app: FastifyInstance;
  try {
    app = await buildApp(opts);
  } catch (e) {
    lock.release();
    throw e;
  }
  const { host, port } = opts.config.listen;
  try {
    await app.listen({ host, port });
  } catch (e) {
    await app.close();
    lock.release();
    throw e;
  }
  const addr = app.server.address();
  const actualPort = typeof addr === 'object' && addr ? addr.port : port;
  const url = `${opts.config.listen.tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${actualPort}`;
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      const timer = setTimeout(() => {
        app.log.error({ timeoutMs: opts.config.shutdownTimeoutMs }, 'graceful shutdown timed out; exiting');
        process.exit(1);
      }, opts.config.shutdownTimeoutMs);
      timer.unref();
      await app.close();
      lock.release();
      clearTimeout(timer);
    })();
    return closing;
  };
  app.log.info({ url, nodeId: opts.config.nodeId, store: opts.config.databaseUrl ? 'postgresql' : 'sqlite' }, 'city node listening');
  return { app, url, close };
}

/** Resolves when the node has shut down after SIGTERM or SIGINT. */
export function closeOnSignals(node: RunningNode): Promise<void> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      node.app.log.info({ signal }, 'shutting down');
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      node.close().then(resolve, (e: unknown) => {
        node.app.log.error({ error: loggableError(e) }, 'shutdown failed');
        resolve();
      });
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}
