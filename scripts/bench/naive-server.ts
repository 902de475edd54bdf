/**
 * The naive exchange's receiving end, run as a child process by bench/naive.ts: what a team would
 * build without this project. A bare Fastify route on mutual TLS (the provincial CA's
 * certificates) takes a JSON array of records and inserts them with knex: no envelope, no
 * signature, no idempotency, no receipt, no audit.
 *
 *   node --import tsx scripts/bench/naive-server.ts CONFIG.json
 *   CONFIG: { store: StoreTarget, caCertPem, certPem, keyPem }; prints {"url": …} once listening.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Fastify from 'fastify';
import { tlsServerOptions } from '../../certs/index.js';
import { openStore, type StoreTarget } from './bench-store.js';

export interface NaiveServerConfig {
  store: StoreTarget;
  caCertPem: string;
  certPem: string;
  keyPem: string;
}

export interface NaiveRecord {
  id: string;
  type: string;
  classification: string;
  fields: Record<string, unknown>;
}

export const NAIVE_TABLE = 'naive_records';

async function main(configFile: string): Promise<void> {
  const config = JSON.parse(readFileSync(configFile, 'utf8')) as NaiveServerConfig;
  const db = await openStore(config.store);
  await db.schema.createTable(NAIVE_TABLE, (t) => {
    t.string('id', 36).primary();
    t.string('type', 16).notNullable();
    t.string('subject', 32).notNullable().index();
    t.text('body').notNullable();
    t.string('received_at', 30).notNullable();
  });
  const app = Fastify({ https: tlsServerOptions(config), bodyLimit: 64 * 1024 * 1024, logger: false });
  app.post<{ Body: { records: NaiveRecord[] } }>('/records', async (request) => {
    const now = new Date().toISOString();
    const rows = request.body.records.map((r) => ({ id: randomUUID(), type: r.type, subject: String(r.fields.uscc ?? ''), body: JSON.stringify(r), received_at: now }));
    await db.batchInsert(NAIVE_TABLE, rows, 250);
    return { accepted: rows.length };
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.server.address();
  process.stdout.write(JSON.stringify({ url: `https://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}` }) + '\n');
  process.once('SIGTERM', () => {
    void app.close().then(() => db.destroy()).then(() => process.exit(0));
  });
}

await main(process.argv[2]!);
