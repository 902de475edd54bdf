/**
 * Starts a server (the node or the hub): every check that can fail first (port free, store
 * reachable and not newer than this code), then the data directory and its lock, then the app,
 * then listen; and shuts down gracefully on SIGTERM/SIGINT (stops accepting, lets in-flight
 * requests and their transactions finish, the app's onClose hooks write what they write and close
 * the store), bounded by shutdownTimeoutMs. Nothing is changed on disk before a failing start
 * fails: what prepareDataDir made is undone.
 */
import type { FastifyInstance } from 'fastify';
import type { Knex } from 'knex';
import { isPostgresUrl } from '../audit/knex-connect.js';
import { prepareDataDir, type NewFile } from '../audit/store-files.js';
import { assertPortFree, listenFailure, preflightStore } from '../audit/start-checks.js';
import { loggableError } from './logger.js';

export interface RunningServer {
  app: FastifyInstance;
  /** e.g. https://127.0.0.1:8443 */
  url: string;
  /** The web console's URL, when the server has one. */
  consoleUrl?: string;
  close(): Promise<void>;
}

export interface StartOptions {
  listen: { host: string; port: number };
  scheme: 'http' | 'https';
  /** The database URL or SQLite file; checked read-only before anything is written. */
  databaseTarget: string;
  /** The migrations this code knows (preflightStore refuses a newer schema: ERR_SCHEMA_TOO_NEW). */
  schema: Parameters<typeof preflightStore>[1];
  /** A store handed in (tests): no preflight, no SQLite file to undo. */
  db?: Knex | undefined;
  dataDir: string;
  /** Secrets the config lacks, written with the data directory and removed again if the start fails. */
  newFiles?: readonly NewFile[] | undefined;
  shutdownTimeoutMs: number;
  build(): Promise<FastifyInstance>;
  /** The "listening" log line: its fields (besides url) and message. */
  listening: { fields: Record<string, unknown>; message: string };
  /** A web console on its own listener (server/console/), started after the app listens and closed before it; its URL is `consoleUrl` in the listening line. */
  console?: { listen: { host: string; port: number }; scheme: 'http' | 'https'; build(app: FastifyInstance): Promise<FastifyInstance> } | undefined;
}

export async function startServer(o: StartOptions): Promise<RunningServer> {
  const { host, port } = o.listen;
  await assertPortFree(host, port); // ERR_PORT_IN_USE
  if (o.console) await assertPortFree(o.console.listen.host, o.console.listen.port);
  if (!o.db) await preflightStore(o.databaseTarget, o.schema); // ERR_DATABASE_UNREACHABLE, ERR_SCHEMA_TOO_NEW (reading only)
  // The data directory, its lock (ERR_DATADIR_LOCKED while another process runs on it) and new secrets; undone if the start fails.
  const dir = prepareDataDir(o.dataDir, o.newFiles ?? [], o.db || isPostgresUrl(o.databaseTarget) ? [] : [o.databaseTarget]);
  const lock = dir.lock;
  let app: FastifyInstance;
  try {
    app = await o.build();
  } catch (e) {
    dir.undo();
    throw e;
  }
  try {
    await app.listen({ host, port });
  } catch (e) {
    await app.close();
    dir.undo();
    throw listenFailure(e, host, port);
  }
  const url = urlOf(app, o.scheme, host, port);
  let consoleApp: FastifyInstance | undefined;
  let consoleUrl: string | undefined;
  if (o.console) {
    const c = o.console;
    try {
      consoleApp = await c.build(app);
      await consoleApp.listen({ host: c.listen.host, port: c.listen.port });
    } catch (e) {
      await consoleApp?.close();
      await app.close();
      dir.undo();
      throw consoleApp ? listenFailure(e, c.listen.host, c.listen.port) : e;
    }
    consoleUrl = urlOf(consoleApp, c.scheme, c.listen.host, c.listen.port);
  }
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      const timer = setTimeout(() => {
        app.log.error({ timeoutMs: o.shutdownTimeoutMs }, 'graceful shutdown timed out; exiting');
        process.exit(1);
      }, o.shutdownTimeoutMs);
      timer.unref();
      await consoleApp?.close();
      await app.close();
      lock.release();
      clearTimeout(timer);
    })();
    return closing;
  };
  app.log.info({ url, ...(consoleUrl ? { consoleUrl } : {}), ...o.listening.fields }, o.listening.message);
  return { app, url, ...(consoleUrl ? { consoleUrl } : {}), close };
}

function urlOf(app: FastifyInstance, scheme: 'http' | 'https', host: string, port: number): string {
  const addr = app.server.address();
  const actualPort = typeof addr === 'object' && addr ? addr.port : port;
  return `${scheme}://${host.includes(':') ? `[${host}]` : host}:${actualPort}`;
}

/** Resolves when the server has shut down after SIGTERM or SIGINT. */
export function closeOnSignals(server: RunningServer): Promise<void> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      server.app.log.info({ signal }, 'shutting down');
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      server.close().then(resolve, (e: unknown) => {
        server.app.log.error({ error: loggableError(e) }, 'shutdown failed');
        resolve();
      });
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}
