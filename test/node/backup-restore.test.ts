/**
 * `credit node backup` / `credit node restore` against the real hub, in process, over mutual TLS on
 * loopback (SQLite): a backup taken while the node runs and a batch waits for the hub, more exchange
 * after it, then the node stopped, restored and started again. The restored node's batch seqs are
 * behind the hub's; it resynchronises by itself (node/exchange/resync.ts): every record it holds is
 * at the hub, each once, and the hub's stream goes on without gaps. Records written after the
 * backup stay at the hub but are not back at the node (the documented limit).
 * The audit witness after the restore: refused (ERR_AUDIT_RESET_NOT_ARMED) until the hub operator
 * runs `credit hub witness reset-arm`; then the node's reset is taken by itself, and the auditor's
 * `credit audit verify --witness` on the hub's witness export reports the break.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import type { Knex } from 'knex';
import { exampleRecord } from '../../protocol/catalog.js';
import { initCaDir } from '../../certs/ca-dir.js';
import { buildHubConfig, makeToken, startHub, type RunningHub } from '../../hub/index.js';
import { enrollNode } from '../../node/exchange/enroll.js';
import { backupNode, restoreNode } from '../../node/backup.js';
import { loadConfig } from '../../node/config.js';
import { lockDataDir } from '../../audit/store-files.js';
import { lastSeq } from '../../audit/store.js';
import { main } from '../../scripts/cli.js';
import { connect } from '../../audit/knex-connect.js';
import { codeOf, eventually, nodeApp, type NodeApp } from './exchange-fixture.js';

const FAST = { pollIntervalMs: 100, batchMaxAgeMs: 20, checkpointIntervalMs: 500 };

function rec(n: number) {
  const e = exampleRecord('CF');
  return { type: 'CF', fields: { ...e.fields, decisionNo: `省测〔2026〕${n}号` } };
}

async function status(n: NodeApp) {
  const r = await n.app.inject({ method: 'GET', url: '/v1/exchange/status', headers: await n.auth('auditor', 'public') });
  return r.json();
}

const drained = (n: NodeApp) =>
  eventually('the outbox to drain', async () => {
    const s = await status(n);
    return s.outbox.pending === 0 && s.batches.pending === 0 && s.batches.accepted >= 1 ? s : undefined;
  });

async function post(n: NodeApp, ...nums: number[]): Promise<string[]> {
  const r = await n.app.inject({ method: 'POST', url: '/v1/records', headers: await n.auth('submitter', 'public'), payload: nums.map(rec) });
  if (r.statusCode !== 201) throw new Error(`POST /v1/records: ${r.statusCode} ${r.body}`);
  return (r.json().records as { id: string }[]).map((x) => x.id);
}

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(args, { stdout: (s) => void (out += s), stderr: (s) => void (err += s) });
  return { code, out, err };
}

t.test('backup while running, more exchange, restore: the node catches up, nothing lost at the hub, nothing doubled', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'node-backup-'));
  const caDir = join(dir, 'ca');
  const { certPem: caCertPem } = await initCaDir(caDir, { cn: 'Test Provincial Credit CA (backup)' });
  mkdirSync(join(dir, 'hub'), { recursive: true });
  const hubDb: Knex = await connect(join(dir, 'hub', 'hub.sqlite')); // where `credit hub …` admin commands find it
  const hubConfigFile = join(dir, 'hub.json');
  writeFileSync(hubConfigFile, JSON.stringify({ dataDir: join(dir, 'hub'), caDir }));
  const hubConfig = (port: number) => buildHubConfig({ dataDir: join(dir, 'hub'), caDir, listen: { host: '127.0.0.1', port }, rateLimit: { enabled: false }, logLevel: 'silent' }, {});
  let hub: RunningHub = await startHub({ config: hubConfig(0), db: hubDb });
  const port = Number(new URL(hub.url).port);
  let node: NodeApp | undefined;
  let other: NodeApp | undefined;
  t.teardown(async () => {
    await node?.close();
    await other?.close();
    await hub.close();
    await hubDb.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  const nodeDir = join(dir, 'node-430100');
  const dataDir = join(nodeDir, 'data');
  mkdirSync(nodeDir, { recursive: true });
  const token = (await makeToken(hubDb, hub.app.hubCtx.ca, { nodeId: '430100', grade: 3, ttlMs: 3_600_000 })).token;
  await enrollNode({ dataDir, nodeId: '430100', hubUrl: hub.url, token, caCertPem });
  const configFile = join(nodeDir, 'node.json');
  writeFileSync(configFile, JSON.stringify({ nodeId: '430100', dataDir: 'data', hub: { url: hub.url, ...FAST } }));
  node = await nodeApp(dataDir, { url: hub.url, ...FAST });

  const a = await post(node, 1, 2);
  await drained(node);
  // a head the hub cosigned before the backup: the reset later keeps the log up to it
  await eventually('a head cosigned before the backup', async () => (await hubDb('hub_witness').where({ node_id: '430100' }).first()) ?? undefined);

  // the hub goes away; a record waits in a batch without a receipt; the backup is taken now, the node running
  await hub.close();
  const b = await post(node, 3);
  await eventually('a batch waiting for the hub', async () => {
    const s = await status(node!);
    return s.lastError?.loop === 'sender' && s.batches.pending >= 1 ? s : undefined;
  });
  const backupDir = join(dir, 'backup');
  const made = await cli(['node', 'backup', '--config', configFile, '--out', backupDir]);
  t.equal(made.code, 0, made.err);
  t.match(made.out, /backed up to/);
  // the log's size (its last seq) once the backup is made: an upper bound of what the backup holds
  const sizeAtBackup = await lastSeq(node.app.nodeCtx.db);
  const lock = lockDataDir(dataDir); // as `credit node start` holds it (node/server.ts); the in-process app does not
  t.equal(await codeOf(restoreNode(loadConfig(configFile), backupDir)), 'ERR_DATADIR_LOCKED', 'restore refuses a running node');
  lock.release();
  t.equal(await codeOf(backupNode(loadConfig(configFile), backupDir)), 'ERR_BACKUP_INVALID', 'backup refuses a directory that is not empty');
  t.equal(await codeOf(backupNode(loadConfig(configFile), join(dataDir, 'backup'))), 'ERR_BACKUP_INVALID', 'backup refuses a directory inside the data directory');

  // the hub comes back; the node sends what waited and goes on after the backup
  hub = await startHub({ config: hubConfig(port), db: hubDb });
  await drained(node);
  const c = await post(node, 4, 5);
  await drained(node);
  // another city publishes after the backup; the node received it before its store was lost
  const otherDir = join(dir, 'node-430700', 'data');
  await enrollNode({ dataDir: otherDir, nodeId: '430700', hubUrl: hub.url, token: (await makeToken(hubDb, hub.app.hubCtx.ca, { nodeId: '430700', grade: 3, ttlMs: 3_600_000 })).token, caCertPem });
  other = await nodeApp(otherDir, { url: hub.url, ...FAST }, '430700');
  const fromOther = await post(other, 7);
  await drained(other);
  const received = (id: string) => eventually(`record ${id} at 430100`, async () => (await node!.app.nodeCtx.db('node_records').where({ id }).first()) ?? undefined);
  await received(fromOther[0]!);
  const hubSeqBefore = Number((await hubDb('hub_streams').where({ node_id: '430100', stream: 'batch' }).first()).last_seq);
  // a head the hub cosigned beyond the backup, or the restored log may extend every head the hub
  // witnessed (no reset then): the witness may still be backing off from the hub's absence
  await eventually('a head cosigned beyond the backup', async () => ((await hubDb('hub_witness').where({ node_id: '430100' }).andWhere('tree_size', '>', sizeAtBackup).first()) ? true : undefined), 90_000);

  // the node's store is lost: stop it, restore the backup, start it again
  await node.close();
  const restored = await cli(['node', 'restore', '--config', configFile, '--from', backupDir]);
  t.equal(restored.code, 0, restored.err);
  t.match(restored.out, /restored from/);
  node = await nodeApp(dataDir, { url: hub.url, ...FAST });
  const d = await post(node, 6);
  const after = await drained(node);
  t.not(after.lastError?.loop, 'sender', 'the sender is in step with the hub');
  t.not(after.lastError?.loop, 'puller', 'the puller is in step with the hub');
  t.ok(existsSync(join(dataDir, 'restored.json')), 'restore leaves its marker for the witness');
  // the witness is not in step: the restored audit log is shorter than the head the hub cosigned,
  // which is what a rolled-back log looks like; the node asks for a reset, nothing is armed
  // the hub's own audit entry of the refusal: the node's status keeps one lastError for all its
  // loops, so another loop's transient error can hide the witness's; the ceilings allow two witness
  // retries at the loop's 30 s backoff cap
  await eventually('the witness refused without an arm', async () =>
    (await hubDb('audit_log').where({ actor_node: '430100', outcome: 'failure' }).andWhere('reason', 'like', 'ERR_AUDIT_RESET_NOT_ARMED%').first()) ?? undefined, 90_000);
  const manifest = JSON.parse(readFileSync(join(backupDir, 'manifest.json'), 'utf8')) as { createdAt: string };
  const armed = await cli(['hub', 'witness', 'reset-arm', '--config', hubConfigFile, '--node', '430100', '--reason', 'store lost, restored from the backup (ticket OPS-17)', '--backup-created-at', manifest.createdAt]);
  t.equal(armed.code, 0, armed.err);
  t.match(armed.out, /witness reset 1 armed for node 430100/);
  t.match(armed.out, /it keeps node 430100's log up to tree size \d+ \(cosigned .*\) and abandons [1-9]\d* head\(s\) cosigned after the backup/, 'the operator sees the scope');
  for (const [args, why] of [
    [['--node', '430100', '--reason', 'restored'], 'no backup time'],
    [['--node', '439999', '--reason', 'restored', '--backup-created-at', manifest.createdAt], 'a node not in the register'],
    [['--node', '430100', '--reason', 'restored', '--backup-created-at', manifest.createdAt, '--ttl', '30d'], 'an arm longer than 7 days'],
  ] as const) {
    const bad = await cli(['hub', 'witness', 'reset-arm', '--config', hubConfigFile, ...args]);
    t.not(bad.code, 0, why);
    t.match(bad.err, /ERR_USAGE/, why);
  }
  await eventually('the witness reset taken', async () => (existsSync(join(dataDir, 'restored.json')) ? undefined : true), 90_000);
  const listed = await cli(['hub', 'witness', 'resets', '--config', hubConfigFile, '--json']);
  t.match(JSON.parse(listed.out), [{ nodeId: '430100', epoch: 1, armedBy: /^cli:/ }], 'the arm is used');
  t.equal((await hubDb('audit_log').where({ action: 'witness.reset.arm' })).length, 1, 'arming is audited on the hub');
  t.equal((await hubDb('audit_log').where({ action: 'witness.reset', outcome: 'success' })).length, 1, 'the reset is audited on the hub');
  t.equal((await node.app.nodeCtx.db('audit_log').where({ action: 'audit.witness.reset' })).length, 1, 'and on the node');
  const cosigs = async () => Number(((await node!.app.nodeCtx.db('audit_cosignatures').count({ n: '*' })) as { n: number | string }[])[0]!.n);
  const afterReset = await cosigs();
  const e = await post(node, 8);
  await drained(node);
  await eventually('the witness in step again (an ordinary cosignature after the reset)', async () => ((await cosigs()) > afterReset ? true : undefined));
  // the auditor: the hub's witness export carries the reset; verify reports the break
  writeFileSync(join(dir, 'ca.pem'), caCertPem);
  const wexp = await cli(['audit', 'witness-export', '--db', join(dir, 'hub', 'hub.sqlite'), '--node', '430100', '--out', join(dir, 'witness.ndjson')]);
  t.equal(wexp.code, 0, wexp.err);
  t.match(wexp.out, /, 1 witness resets and \d+ archived \(abandoned\) cosignatures of node 430100/);
  const bexp = await cli(['audit', 'export', '--db', join(dataDir, 'node.sqlite'), '--witnessed', '--out', join(dir, 'bundle.ndjson')]);
  t.equal(bexp.code, 0, bexp.err);
  const verified = await cli(['audit', 'verify', join(dir, 'bundle.ndjson'), '--ca', join(dir, 'ca.pem'), '--node', '430100', '--witness', join(dir, 'witness.ndjson')]);
  t.equal(verified.code, 0, verified.err);
  t.match(verified.out, /WITNESS BREAK node 430100 epoch 1: .*backup of .* reason: "store lost, restored from the backup \(ticket OPS-17\)"/);
  // the same export with the reset record left out: the epoch in the hub's cosignatures gives it away
  writeFileSync(join(dir, 'witness-dropped.ndjson'), readFileSync(join(dir, 'witness.ndjson'), 'utf8').split('\n').filter((l) => !l.includes('"type":"witness-reset"')).join('\n'));
  const hidden = await cli(['audit', 'verify', join(dir, 'bundle.ndjson'), '--ca', join(dir, 'ca.pem'), '--node', '430100', '--witness', join(dir, 'witness-dropped.ndjson')]);
  t.not(hidden.code, 0, 'a dropped reset record fails verify');
  t.match(`${hidden.out}${hidden.err}`, /ERR_AUDIT_RESET_MISSING/);

  const hubIds = (await hubDb('hub_records').where({ source_node: '430100' }).select('id')).map((r: { id: string }) => r.id).sort();
  t.same(hubIds, [...a, ...b, ...c, ...d, ...e].sort(), 'every record at the hub, each once');
  const batches = await node.app.nodeCtx.db('node_batches').orderBy('seq');
  t.ok(batches.every((x: { status: string }) => x.status === 'accepted'), 'every batch of the restored node has its receipt');
  const stream = Number((await hubDb('hub_streams').where({ node_id: '430100', stream: 'batch' }).first()).last_seq);
  t.equal(Number(batches[batches.length - 1].seq), stream, "the node's last seq is the hub's");
  t.ok(stream > hubSeqBefore, 'the new batch followed the hub\'s last seq');
  const envelopes = await hubDb('hub_envelopes').where({ from_node: '430100', type: 'batch' }).orderBy('seq');
  t.same(envelopes.map((e: { seq: number | string }) => Number(e.seq)), envelopes.map((_: unknown, i: number) => i + 1), 'the hub took seqs 1..n, no gap, none twice');
  const resync = await node.app.nodeCtx.db('audit_log').where({ action: 'batch.resync' });
  t.equal(resync.length, 1, 'the renumbering is audited');
  const local = (await node.app.nodeCtx.db('node_records').where({ source_node: '430100' }).select('id')).map((r: { id: string }) => r.id).sort();
  t.same(local, [...a, ...b, ...d, ...e].sort(), 'records written after the backup are not back at the node (documented)');
  t.ok(await received(fromOther[0]!), 'a record of another node received after the backup is pulled again');
});

t.test('restore refuses what is not a backup of this node', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'node-backup-bad-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const configFile = join(dir, 'node.json');
  writeFileSync(configFile, JSON.stringify({ nodeId: '430100', dataDir: 'data' }));
  const empty = join(dir, 'empty');
  mkdirSync(empty);
  const r = await cli(['node', 'restore', '--config', configFile, '--from', empty]);
  t.equal(r.code, 1);
  t.match(r.err, /ERR_BACKUP_INVALID/);
  const other = join(dir, 'other');
  mkdirSync(join(other, 'data'), { recursive: true });
  writeFileSync(join(other, 'manifest.json'), JSON.stringify({ format: 'credit-node-backup/1', nodeId: '430700', engine: 'sqlite', createdAt: new Date().toISOString(), store: 'node.sqlite', files: [] }));
  t.equal(await codeOf(restoreNode(loadConfig(configFile), other)), 'ERR_BACKUP_INVALID', 'a backup of another node');
});

t.test('PostgreSQL: the data directory is copied and the pg_dump / pg_restore commands are printed', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'node-backup-pg-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const configFile = join(dir, 'node.json');
  const url = 'postgres://credit@db.example:5432/node430100';
  writeFileSync(configFile, JSON.stringify({ nodeId: '430100', dataDir: 'data', databaseUrl: url }));
  const out = join(dir, 'backup');
  const b = await cli(['node', 'backup', '--config', configFile, '--out', out]);
  t.equal(b.code, 0, b.err);
  t.match(b.out, `pg_dump --format=custom --no-owner --file='${join(out, 'node.pgdump')}' '${url}'`);
  const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'));
  t.match(manifest, { format: 'credit-node-backup/1', nodeId: '430100', engine: 'pg', store: 'node.pgdump' });
  t.ok(manifest.files.includes('subject.key') && manifest.files.includes('jwt.secret'), 'the node secrets are in the backup');
  t.notOk(existsSync(join(out, 'node.sqlite')));
  const r = await cli(['node', 'restore', '--config', configFile, '--from', out]);
  t.equal(r.code, 0, r.err);
  t.match(r.out, `pg_restore --clean --if-exists --no-owner --dbname='${url}' '${join(out, 'node.pgdump')}'`);
  const sqliteConfig = join(dir, 'sqlite.json');
  writeFileSync(sqliteConfig, JSON.stringify({ nodeId: '430100', dataDir: 'data' }));
  t.equal(await codeOf(restoreNode(loadConfig(sqliteConfig), out)), 'ERR_BACKUP_INVALID', 'a PostgreSQL backup is not restored onto a SQLite node');
});
