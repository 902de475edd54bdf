/**
 * The naive exchange's receiving end, run as a child process by bench/naive.ts and bench/exchange.ts:
 * what a team would build without this project. Bare Fastify routes on mutual TLS (the provincial
 * CA's certificates), no envelope, no signature, no idempotency, no receipt:
 *
 *   POST /records            (naive_rps) takes a JSON array of records and inserts them with knex.
 *   GET  /subjects/:subject  (naive_query, only with `query` in the config) the same indexed
 *                            subject lookup as the hub's (hub/records-store.ts bySubject: blind
 *                            index, rows opened) on the hub's own store, then one audit row
 *                            committed (a plain INSERT into naive_audit, its own transaction), and
 *                            the records as plain JSON.
 *
 *   node --import tsx scripts/bench/naive-server.ts CONFIG.json
 *   CONFIG: { store: StoreTarget, caCertPem, certPem, keyPem, query?: { keyFile } }; prints {"url": …} once listening.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Fastify from 'fastify';
import { tlsServerOptions } from '../../certs/index.js';
import { recordsStore as hubRecords } from '../../hub/records-store.js';
import { fileKeyWrapper, readKeyring } from '../../server/at-rest-keys.js';
import { attachKeyring } from '../../server/at-rest-store.js';
import { openStore, type StoreTarget } from './bench-store.js';

export interface NaiveServerConfig {
  store: StoreTarget;
  caCertPem: string;
  certPem: string;
  keyPem: string;
  /** Serve GET /subjects/:subject from `store`, a hub store whose data key (the `file` wrapper) is `keyFile`. */
  query?: { keyFile: string };
}

export interface NaiveRecord {
  id: string;
  type: string;
  classification: string;
  fields: Record<string, unknown>;
}

export const NAIVE_TABLE = 'naive_records';
export const NAIVE_AUDIT_TABLE = 'naive_audit';

async function main(configFile: string): Promise<void> {
  const config = JSON.parse(readFileSync(configFile, 'utf8')) as NaiveServerConfig;
  const db = await openStore(config.store);
  const app = Fastify({ https: tlsServerOptions(config), bodyLimit: 64 * 1024 * 1024, logger: false });
  if (config.query) {
    attachKeyring(db, await readKeyring(config.query.keyFile, fileKeyWrapper));
    await db.schema.createTable(NAIVE_AUDIT_TABLE, (t) => {
      t.increments('seq');
      t.string('at', 30).notNullable();
      t.string('actor', 64).notNullable();
      t.string('subject', 32).notNullable();
      t.integer('records').notNullable();
    });
    app.get<{ Params: { subject: string } }>('/subjects/:subject', async (request) => {
      const records = await hubRecords.bySubject(db, request.params.subject);
      await db(NAIVE_AUDIT_TABLE).insert({ at: new Date().toISOString(), actor: 'node:430100', subject: request.params.subject, records: records.length });
      return { records };
    });
  } else {
    await db.schema.createTable(NAIVE_TABLE, (t) => {
      t.string('id', 36).primary();
      t.string('type', 16).notNullable();
      t.string('subject', 32).notNullable().index();
      t.text('body').notNullable();
      t.string('received_at', 30).notNullable();
    });
    app.post<{ Body: { records: NaiveRecord[] } }>('/records', async (request) => {
      const now = new Date().toISOString();
      const rows = request.body.records.map((r) => ({ id: randomUUID(), type: r.type, subject: String(r.fields.uscc ?? ''), body: JSON.stringify(r), received_at: now }));
      await db.batchInsert(NAIVE_TABLE, rows, 250);
      return { accepted: rows.length };
    });
  }
  await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.server.address();
  process.stdout.write(JSON.stringify({ url: `https://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}` }) + '\n');
  process.once('SIGTERM', () => {
    void app.close().then(() => db.destroy()).then(() => process.exit(0));
  });
}

await main(process.argv[2]!);
