/**
 * Two connections writing one SQLite store (a server and a CLI command, or two tap jobs sharing a
 * fixture): in WAL mode a deferred transaction that has read and then writes after the other
 * connection committed fails at once with SQLITE_BUSY (busy_timeout does not apply to it). Every
 * transaction of a writing store therefore starts with BEGIN IMMEDIATE (audit/knex-connect.ts):
 * it waits for the write lock up front, under busy_timeout, and then cannot be refused.
 * CI failure this answers: `credit audit evidence` signing a checkpoint beside a running hub.
 */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '../../audit/knex-connect.js';
import { migrateAudit, openAuditLog, GENESIS_HASH, type AuditEvent } from '../../audit/index.js';
import { hashEntry, fromRow, type EntryRow } from '../../audit/entry.js';
import { issue, makeCa } from '../helpers/pki.js';

const dir = mkdtempSync(join(tmpdir(), 'credit-writers-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

t.test('a transaction that read first still writes after another connection committed', async (t) => {
  const file = join(dir, 'one.sqlite');
  const a = await connect(file);
  const b = await connect(file);
  t.teardown(async () => {
    await a.destroy();
    await b.destroy();
  });
  await a.schema.createTable('t', (tb) => tb.integer('v'));
  await b.raw('PRAGMA busy_timeout = 0'); // b must not wait: it either writes at once or is told "busy"

  let readDone!: () => void;
  const hasRead = new Promise<void>((r) => (readDone = r));
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const inA = a.transaction(async (trx) => {
    await trx('t').select();
    readDone();
    await gate;
    await trx('t').insert({ v: 1 });
  });
  await hasRead;
  // Deferred BEGIN: b commits here and a's insert then fails SQLITE_BUSY.
  // BEGIN IMMEDIATE: a holds the write lock, so b is the one told to wait (and retries later).
  const bFirst = await b('t').insert({ v: 2 }).then(() => 'written', (e: { code?: string }) => e.code ?? String(e));
  release();
  await t.resolves(inA, 'the transaction that read first commits');
  if (bFirst !== 'written') {
    t.equal(bFirst, 'SQLITE_BUSY', 'the other writer was asked to wait, not the transaction');
    await b.raw('PRAGMA busy_timeout = 5000');
    await b('t').insert({ v: 2 });
  }
  t.same(((await a('t').select('v').orderBy('v')) as { v: number }[]).map((r) => r.v), [1, 2]);
});

t.test('two audit logs on one SQLite file (two processes) append concurrently: one intact chain', async (t) => {
  const file = join(dir, 'audit.sqlite');
  const ca = makeCa();
  const n = issue(ca, '430000');
  const signer = { nodeId: '430000', keyPem: n.keyPem, certPem: n.certPem };
  const a = await connect(file);
  const b = await connect(file);
  t.teardown(async () => {
    await a.destroy();
    await b.destroy();
  });
  await migrateAudit(a);
  const la = await openAuditLog(a, { signer, checkpointEvery: 7, checkpointIntervalMs: 0 });
  const lb = await openAuditLog(b, { signer, checkpointEvery: 5, checkpointIntervalMs: 0 });
  const ev = (i: number): AuditEvent => ({ actor: `user:u${i}`, actorNode: '430000', action: 'record.read', object: `rec-${i}`, class: 'shared', outcome: 'success', reason: 'purpose' });
  const seqs: number[] = [];
  for (let round = 0; round < 20; round++) {
    seqs.push(...(await Promise.all([la.record(ev(round * 3)), lb.record(ev(round * 3 + 1)), la.checkpoint().then(() => la.record(ev(round * 3 + 2)))])));
  }
  await la.close();
  await lb.close();
  t.equal(new Set(seqs).size, 60, 'every append got its own seq');
  const rows = ((await a('audit_log').orderBy('seq')) as EntryRow[]).map(fromRow);
  t.equal(rows.length, 60);
  let prev = GENESIS_HASH;
  let broken = 0;
  rows.forEach((e, i) => {
    const { leafHash, ...fields } = e;
    if (e.seq !== i + 1 || e.prevHash !== prev || hashEntry(fields) !== leafHash) broken++;
    prev = leafHash;
  });
  t.equal(broken, 0, 'seqs consecutive, every link and hash holds');
});
