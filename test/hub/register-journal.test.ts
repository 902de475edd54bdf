/**
 * The register journal (hub/register-journal.ts), on both engines: a store that went back in time
 * (restored from a backup, a lossy failover) lost a revocation, a node's revocation, a used token,
 * cancelled tokens and a certificate issued since; the hub applies them again from
 * caDir/register-journal.ndjson — at start and while running — with `register.replay` audit
 * entries, and never undoes what the store holds. Before, a revoked node was valid again at the
 * restored hub and a redeemed token could be redeemed again (docs/scale.md, hostile review).
 * The rollback is made by putting the rows back as they were before the changes.
 */
import { createHash, createPublicKey } from 'node:crypto';
import { appendFileSync, chmodSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { Knex } from 'knex';
import t from 'tap';
import { createNodeKeys } from '../../certs/node-keys.js';
import { normaliseSerial } from '../../certs/pki-crypto.js';
import { cancelTokens, makeToken, revokeNode } from '../../hub/enrolment-service.js';
import { startHub } from '../../hub/index.js';
import { caTag, JOURNAL_FILE, reconcileRegister, registerJournal, TOKEN_SKEW_MS } from '../../hub/register-journal.js';
import { createCaMaterial } from '../../certs/ca-dir.js';
import { createCaCertificate } from '../../certs/pki-crypto.js';
import { engines } from '../helpers/db.js';
import { makeCa } from '../helpers/pki.js';
import { hubFixture } from './fixture.js';

/** The register as it is now (what a backup taken now holds); restore() puts it back, as a restore or a lossy failover would. */
async function registerSnapshot(db: Knex) {
  const tables = ['hub_certs', 'hub_nodes', 'hub_tokens'] as const;
  const rows = await Promise.all(tables.map((table) => db(table).select('*')));
  return {
    async restore() {
      for (const [i, table] of tables.entries()) {
        await db(table).del();
        if (rows[i]!.length > 0) await db(table).insert(rows[i]);
      }
    },
  };
}

for (const engine of await engines()) {
  t.test(`register journal (${engine.name})`, async (t) => {
    const f = await hubFixture(t, { engine });
    const ctx = f.hub.app.hubCtx;
    const db = ctx.db;
    const journal = registerJournal(f.caDir, f.caCertPem);
    const replays = async () => (await db('audit_log').where({ action: 'register.replay' }).select('object', 'reason')) as { object: string; reason: string }[];

    const a = await f.enrol('430100', 3);
    const b = await f.enrol('430700', 2);
    const unused = await f.token('430100', 3); // made before the backup, redeemed after it
    const cToken = await f.token('430900', 1); // made before the backup, cancelled after it
    const backup = await registerSnapshot(db); // the store's register before the changes below

    // after the backup: node B revoked, node A renews, the token is redeemed (A re-enrols), C's tokens cancelled
    await revokeNode(db, ctx.ca, { nodeId: '430700', reason: 'keyCompromise', audit: ctx.audit });
    t.equal(await cancelTokens(ctx.ca, { nodeId: '430900', audit: ctx.audit }), 1);
    const again = await f.call(f.anonymous, 'POST', '/v1/enroll', { token: unused, csrPem: createNodeKeys('430100', 'rsa').csrPem });
    t.equal(again.status, 200, 'the token is redeemed after the backup');
    const lines = readFileSync(journal.file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { kind: string });
    t.same([...new Set(lines.map((l) => l.kind))].sort(), ['cert.issued', 'cert.revoked', 'node.enrolled', 'node.revoked', 'token.made', 'token.redeeming', 'token.used', 'tokens.cancelled'], 'committed facts of every kind were journalled');

    // the store goes back to the snapshot (restore / lossy failover)
    const rollback = () => backup.restore();
    await rollback();
    const bStatus = async () => (await db('hub_certs').where({ serial: normaliseSerial(b.serial) }).first('status'))?.status as string;
    t.equal(await bStatus(), 'active', 'rolled back: B valid again');
    t.equal((await f.call(b.agent, 'GET', '/v1/checkpoints/latest')).status, 200, 'and served: the hole this closes');

    // a hub process starting on the rolled-back store applies the journal before its first request
    const logLines: string[] = [];
    const logStream = new Writable({ write: (chunk: Buffer, _e, cb) => void (logLines.push(chunk.toString()), cb()) });
    const second = await startHub({ config: { ...f.config, logLevel: 'warn', dataDir: join(f.dir, 'data-2'), atRest: { ...f.config.atRest, keyFile: join(f.config.dataDir, 'data.key') } }, db, logStream }); // a second hub process on the same store and caDir
    t.teardown(() => second.close());
    t.equal(await bStatus(), 'revoked', "B's certificate revoked again");
    t.ok(logLines.some((l) => /"code":"ERR_REGISTER_REPLAYED"/.test(l) && /the store had lost register changes/.test(l)), 'a warning in the hub log (ERR_REGISTER_REPLAYED)');
    t.equal((await db('hub_nodes').where({ node_id: '430700' }).first('status'))?.status, 'revoked', 'and B itself');
    const refused = await f.call(b.agent, 'GET', '/v1/checkpoints/latest');
    t.equal(refused.status, 403);
    t.equal(refused.json.code, 'ERR_CERT_REVOKED');
    t.equal(Number((await db('hub_tokens').whereNull('used_at').whereNull('cancelled_at').where({ node_id: '430100' }).count({ n: '*' }))[0]!.n), 0, 'the redeemed token is used again');
    const cancelled = await f.call(f.anonymous, 'POST', '/v1/enroll', { token: cToken, csrPem: createNodeKeys('430900', 'rsa').csrPem });
    t.equal(cancelled.json.code, 'ERR_TOKEN_CANCELLED', 'the cancelled token stays cancelled');
    const reuse = await f.call(f.anonymous, 'POST', '/v1/enroll', { token: unused, csrPem: createNodeKeys('430100', 'rsa').csrPem });
    t.equal(reuse.json.code, 'ERR_TOKEN_USED', 'and cannot be redeemed a second time');
    t.ok(await db('hub_certs').where({ serial: normaliseSerial(again.json.serial as string) }).first('serial'), 'the certificate issued after the backup is known again');
    t.equal((await f.call(a.agent, 'GET', '/v1/checkpoints/latest')).json.code, 'ERR_CERT_REVOKED', "A's first certificate, superseded by the re-enrolment, stays revoked");
    const first = await replays();
    t.ok(first.some((r) => r.object === `cert:${normaliseSerial(b.serial)}` && /cert\.revoked .*reason=keyCompromise from register-journal\.ndjson: the store had lost it/.test(r.reason)), 'audited as register.replay');
    t.ok(first.length >= 4, `${first.length} facts replayed`);

    // idempotent, and several processes at once apply each fact once
    const [r1, r2] = await Promise.all([reconcileRegister(db, journal, ctx.audit), reconcileRegister(db, journal, ctx.audit)]);
    t.equal(r1.replayed + r2.replayed, 0, 'nothing left to replay');
    t.equal((await replays()).length, first.length, 'no second audit entry');

    // a running hub notices a rollback too (the job's next run), and never undoes what the store holds
    await rollback();
    await db('hub_nodes').where({ node_id: '430700' }).update({ enrolled_at: new Date(Date.now() + 60_000).toISOString() }); // B re-enrolled after its revocation
    const r = await reconcileRegister(db, journal, ctx.audit);
    t.ok(r.replayed > 0, `replayed ${r.replayed} again`);
    t.equal((await db('hub_nodes').where({ node_id: '430700' }).first('status'))?.status, 'active', 'a node enrolled after its revocation stays active');
    t.equal(await bStatus(), 'revoked', 'its old certificate is revoked all the same');

    // a torn or edited line is skipped and counted, the rest applied
    appendFileSync(journal.file, `{"kind":"cert.revoked","serial":\n{"kind":"nonsense","ca":"${journal.ca}"}\n`);
    const torn = await reconcileRegister(db, journal, ctx.audit);
    t.equal(torn.skipped, 2, 'two lines skipped');
    // a certificate of a node the store does not know is not added
    journal.append([{ kind: 'cert.issued', serial: 'ABCDEF01', nodeId: '431399', notBefore: new Date().toISOString(), notAfter: new Date(Date.now() + 86_400_000).toISOString(), issuedAt: new Date().toISOString() }]);
    const unknown = await reconcileRegister(db, journal, ctx.audit);
    t.equal(unknown.unknown, 1);
    t.notOk(await db('hub_certs').where({ serial: normaliseSerial('ABCDEF01') }).first('serial'), 'not registered');
    t.match(JOURNAL_FILE, /\.ndjson$/);
  });

  t.test(`register journal (${engine.name}): tokens made after the restore point come back — unless used, cancelled or expired`, async (t) => {
    const f = await hubFixture(t, { engine });
    const ctx = f.hub.app.hubCtx;
    const db = ctx.db;
    const journal = registerJournal(f.caDir, f.caCertPem);
    await f.enrol('430100', 3);
    const backup = await registerSnapshot(db);

    // after the backup: tokens for a node the store did not know (with its name), for a known node,
    // one that has expired by the reconciliation, one cancelled and one redeemed
    const fresh = await f.token('431000', 2, { name: '长沙县' });
    const known = (await makeToken(db, ctx.ca, { nodeId: '430100', grade: 3, ttlMs: 3_600_000, now: new Date(Date.now() + 2 * TOKEN_SKEW_MS) })).token; // made well after its node's enrolment
    const brief = await f.token('431100', 1, { ttlMs: 50 });
    const toCancel = await f.token('431200', 1);
    t.equal(await cancelTokens(ctx.ca, { nodeId: '431200', audit: ctx.audit }), 1);
    const redeemed = await f.token('431300', 2);
    t.equal((await f.call(f.anonymous, 'POST', '/v1/enroll', { token: redeemed, csrPem: createNodeKeys('431300', 'rsa').csrPem })).status, 200);
    // hostile review: a revocation in the same millisecond, or by a process whose clock is 5 s behind, still covers the token
    const at = new Date();
    const sameMs = (await makeToken(db, ctx.ca, { nodeId: '431500', grade: 4, ttlMs: 3_600_000, now: at })).token;
    await revokeNode(db, ctx.ca, { nodeId: '431500', reason: 'keyCompromise', audit: ctx.audit, now: at });
    const skewed = (await makeToken(db, ctx.ca, { nodeId: '431600', grade: 4, ttlMs: 3_600_000, now: at })).token;
    await revokeNode(db, ctx.ca, { nodeId: '431600', reason: 'keyCompromise', audit: ctx.audit, now: new Date(at.getTime() - 5000) });
    // a token made within TOKEN_SKEW_MS of its node's revocation (a revocation that took its time, cancelling it after
    // its insert while its line went first; or another process's clock) is not registered again either
    await f.token('431800', 1);
    await revokeNode(db, ctx.ca, { nodeId: '431800', reason: 'keyCompromise', audit: ctx.audit, now: new Date(at.getTime() - TOKEN_SKEW_MS / 2) });
    const close = (await makeToken(db, ctx.ca, { nodeId: '431800', grade: 4, ttlMs: 3_600_000, now: at })).token;
    // and a token whose use was never journalled (a crash between the enrolment's commit and its append loses
    // token.used, cert.issued and node.enrolled together): the token.redeeming line appended before it says it may be spent
    const spent = await f.token('431700', 2);
    const enrolled = await f.call(f.anonymous, 'POST', '/v1/enroll', { token: spent, csrPem: createNodeKeys('431700', 'rsa').csrPem });
    t.equal(enrolled.status, 200);
    const spentHash = createHash('sha256').update(spent).digest('hex');
    const lostAtCrash = (l: string) => (l.includes('"token.used"') && l.includes(spentHash)) || ((l.includes('"node.enrolled"') || l.includes('"cert.issued"')) && l.includes('"431700"'));
    t.equal(readFileSync(journal.file, 'utf8').split('\n').filter(lostAtCrash).length, 3);
    writeFileSync(journal.file, readFileSync(journal.file, 'utf8').split('\n').filter((l) => !lostAtCrash(l)).join('\n'));
    const made = readFileSync(journal.file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { kind: string; nodeId?: string; name?: string; hash?: string }).filter((l) => l.kind === 'token.made').slice(1); // the first: 430100's enrolment token
    t.same(made.map((l) => l.nodeId), ['431000', '430100', '431100', '431200', '431300', '431500', '431600', '431800', '431800', '431700'], 'each token made is journalled');
    t.equal(made[0]!.name, '长沙县', 'with the name it announced');
    t.notOk(JSON.stringify(made).includes(fresh), 'the hash, never the token');

    await backup.restore(); // the store lost all five
    t.notOk(await db('hub_nodes').where({ node_id: '431000' }).first('node_id'), 'rolled back: the announced node is gone too');
    const r = await reconcileRegister(db, journal, ctx.audit, new Date(Date.now() + 1000)); // the brief token has run out by then
    const replayed = (await db('audit_log').where({ action: 'register.replay' }).where('reason', 'like', 'token.made%').select('object', 'reason')) as { object: string; reason: string }[];
    t.equal(replayed.length, 2, `two tokens registered again (${r.replayed} facts in all)`);
    t.ok(replayed.some((x) => /^token\.made node=431000 grade=2 expiresAt=\S+ \(node registered again, pending\) from register-journal\.ndjson/.test(x.reason)), 'audited, saying the node was registered again');
    t.match(await db('hub_nodes').where({ node_id: '431000' }).first('name', 'status', 'grade'), { name: '长沙县', status: 'pending', grade: 2 }, 'the node as its token announced it');

    const enrol = async (token: string, nodeId: string) => (await f.call(f.anonymous, 'POST', '/v1/enroll', { token, csrPem: createNodeKeys(nodeId, 'rsa').csrPem })).json as { code?: string; serial?: string };
    t.ok((await enrol(fresh, '431000')).serial, 'the token made after the restore point enrols its node');
    t.ok((await enrol(known, '430100')).serial, 'as does the one for a known node');
    t.equal((await enrol(brief, '431100')).code, 'ERR_TOKEN_INVALID', 'an expired one is not registered again');
    t.equal((await enrol(toCancel, '431200')).code, 'ERR_TOKEN_INVALID', 'nor a cancelled one');
    t.equal((await enrol(redeemed, '431300')).code, 'ERR_TOKEN_INVALID', 'nor a redeemed one (its certificate is known again)');
    t.equal((await enrol(sameMs, '431500')).code, 'ERR_TOKEN_INVALID', 'nor one whose node was revoked in the same millisecond');
    t.equal((await enrol(skewed, '431600')).code, 'ERR_TOKEN_INVALID', 'nor one whose node was revoked after it by a clock behind (file order)');
    t.equal((await enrol(close, '431800')).code, 'ERR_TOKEN_INVALID', 'nor one made within a minute of its node\'s revocation');
    t.equal((await enrol(spent, '431700')).code, 'ERR_TOKEN_INVALID', 'nor one an enrolment began to redeem, whose facts were lost');
    t.same(await db('hub_nodes').whereIn('node_id', ['431500', '431600']).whereNot({ status: 'revoked' }).select('node_id'), [], 'the revoked nodes are not back (pending or active)');
    t.equal((await reconcileRegister(db, journal, ctx.audit)).replayed, 0, 'idempotent');

    // a malformed token.made (a grade of 9; a life beyond the 30 days a token may have; the hub's own id) is skipped and counted, not applied
    const line = (o: object) => `${JSON.stringify({ kind: 'token.made', ca: journal.ca, hash: 'ab'.repeat(32), nodeId: '431400', grade: 2, createdAt: new Date().toISOString(), expiresAt: new Date(Date.now() + 3_600_000).toISOString(), ...o })}\n`;
    appendFileSync(journal.file, line({ grade: 9 }) + line({ expiresAt: '9999-12-31T00:00:00.000Z' }) + line({ nodeId: '430000' }));
    t.equal((await reconcileRegister(db, journal, ctx.audit)).skipped, 3, 'nor one for the hub itself');
    t.notOk(await db('hub_tokens').where({ hash: 'ab'.repeat(32) }).first('hash'));
  });

  t.test(`register journal, hostile review (${engine.name}): grades, issued-then-revoked, strict lines, foreign CAs, failed appends`, async (t) => {
    const f = await hubFixture(t, { engine });
    const ctx = f.hub.app.hubCtx;
    const db = ctx.db;
    const journal = ctx.ca.journal;
    const peer = async (serial: string) => (await db('hub_certs as c').leftJoin('hub_nodes as n', 'n.node_id', 'c.node_id').where('c.serial', normaliseSerial(serial)).first('c.status', 'n.grade', 'n.status as node_status')) as { status: string; grade: number; node_status: string } | undefined;
    const a = await f.enrol('430100', 3);
    const backup = await registerSnapshot(db);
    // after the backup: A demoted by re-enrolling at grade 1; node D enrolled twice (its first certificate superseded at once)
    const demoted = await f.enrol('430100', 1);
    const d1 = await f.enrol('430200', 2);
    const d2 = await f.enrol('430200', 2);
    t.equal((await peer(d1.serial))?.status, 'revoked', 'D1 superseded by D2');
    const rollback = () => backup.restore();
    await rollback();
    const r = await reconcileRegister(db, journal, ctx.audit);
    t.equal(r.failed, 0);
    t.same(await peer(demoted.serial), { status: 'active', grade: 1, node_status: 'active' }, 'H1: the demotion is replayed (before: the new certificate at the old grade 3)');
    t.equal((await peer(a.serial))?.status, 'revoked', "A's grade-3 certificate stays superseded");
    t.equal((await peer(d1.serial))?.status, 'revoked', 'H2: a certificate issued and revoked after the restore point is registered revoked in the same run');
    t.equal((await peer(d2.serial))?.status, 'active', 'D2 is known and active');
    t.equal((await f.call(d1.agent, 'GET', '/v1/checkpoints/latest')).json.code, 'ERR_CERT_REVOKED', 'D1 refused right after the first run');

    // H3: lines that do not fit the store (an offset time, a long reason, a bad hash) are skipped, never fail the run
    await rollback();
    const now = new Date().toISOString();
    appendFileSync(journal.file, [
      { kind: 'cert.revoked', serial: normaliseSerial(demoted.serial), at: '2026-12-06T21:45:29.123456+08:00', reason: 'keyCompromise' },
      { kind: 'cert.revoked', serial: normaliseSerial(demoted.serial), at: now, reason: 'x'.repeat(37) },
      { kind: 'token.used', hash: 'AB', at: now },
      { kind: 'node.revoked', nodeId: '4301', at: now },
    ].map((l) => `${JSON.stringify({ ...l, ca: journal.ca })}\n`).join(''));
    // M3: a journal line of another CA (copied in from a staging hub) is ignored
    appendFileSync(journal.file, `${JSON.stringify({ kind: 'node.revoked', nodeId: '430100', at: now, ca: '0123456789abcdef' })}\n`);
    const strict = await reconcileRegister(db, journal, ctx.audit);
    t.equal(strict.skipped, 4, 'four malformed lines skipped');
    t.equal(strict.foreign, 1, 'one line of another CA ignored');
    t.equal(strict.failed, 0, 'and the run did not fail');
    t.same(await peer(demoted.serial), { status: 'active', grade: 1, node_status: 'active' }, 'the good facts applied again; A not revoked by the foreign line');

    // M2: a revocation whose fact cannot be journalled fails, and changes nothing
    const file = journal.file;
    const tok = await f.token('430300', 2);
    renameSync(file, `${file}.moved`);
    mkdirSync(file); // appending fails (EISDIR)
    await t.rejects(revokeNode(db, ctx.ca, { nodeId: '430200', reason: 'keyCompromise', audit: ctx.audit }), { code: 'ERR_REGISTER_JOURNAL', message: /cannot append to the register journal .*fix the directory/ });
    t.equal((await peer(d2.serial))?.status, 'active', 'D2 not revoked: the change failed whole');
    // an enrolment's facts are journalled after its commit: it succeeds, and the failed append is reported (ERR_REGISTER_JOURNAL in the hub's log)
    const failuresBefore = journal.failures;
    const enrol = await f.call(f.anonymous, 'POST', '/v1/enroll', { token: tok, csrPem: createNodeKeys('430300', 'rsa').csrPem });
    t.equal(enrol.status, 200, 'the enrolment is committed');
    t.equal(journal.failures, failuresBefore + 2, 'its unjournalled facts are reported (token.redeeming before the transaction, the rest after its commit)');
    // ... and a hub cannot start on a journal it cannot append to
    await t.rejects(startHub({ config: { ...f.config, dataDir: join(f.dir, 'data-3'), atRest: { ...f.config.atRest, keyFile: join(f.config.dataDir, 'data.key') } }, db }), { code: 'ERR_REGISTER_JOURNAL' });
    rmdirSync(file);
    renameSync(`${file}.moved`, file);
    // a journal its group may append to: a line from them (a node.enrolled raising a grade) would be applied — the hub does not start
    chmodSync(file, 0o660);
    await t.rejects(startHub({ config: { ...f.config, dataDir: join(f.dir, 'data-4'), atRest: { ...f.config.atRest, keyFile: join(f.config.dataDir, 'data.key') } }, db }), { code: 'ERR_REGISTER_JOURNAL', message: /writable by its group or others \(mode 660\).*chmod 600/ });
    chmodSync(file, 0o600);
    await revokeNode(db, ctx.ca, { nodeId: '430200', reason: 'keyCompromise', audit: ctx.audit });
    t.equal((await peer(d2.serial))?.status, 'revoked', 'with the journal back, the revocation goes through');
  });
}

for (const engine of await engines()) {
  t.test(`register journal, second hostile read (${engine.name}): rolled-back enrolments, concurrent registrations`, async (t) => {
    const f = await hubFixture(t, { engine });
    const ctx = f.hub.app.hubCtx;
    const db = ctx.db;
    const journal = ctx.ca.journal;
    const e1 = await f.enrol('430500', 2);
    // a re-enrolment whose transaction rolls back (its audit write fails) after it superseded E1 and used its token
    const token = await f.token('430500', 2);
    const orig = ctx.audit.recordIn;
    ctx.audit.recordIn = async () => {
      throw new Error('audit store unavailable (test)');
    };
    const failed = await f.call(f.anonymous, 'POST', '/v1/enroll', { token, csrPem: createNodeKeys('430500', 'rsa').csrPem });
    ctx.audit.recordIn = orig;
    t.equal(failed.status, 500);
    const r = await reconcileRegister(db, journal, ctx.audit);
    t.equal(r.replayed, 0, 'nothing to replay: the store lost nothing');
    t.equal((await f.call(e1.agent, 'GET', '/v1/checkpoints/latest')).status, 200, 'E1 still works (before: revoked by the replayed supersede)');
    const retry = await f.call(f.anonymous, 'POST', '/v1/enroll', { token, csrPem: createNodeKeys('430500', 'rsa').csrPem });
    t.equal(retry.status, 200, 'and the token enrols on the retry (before: ERR_TOKEN_USED)');

    // two hub processes, each with its own journal copy, reconciling the same rolled-back store at once
    const backup = await registerSnapshot(db);
    await f.enrol('430600', 3);
    await backup.restore();
    const [a, b] = await Promise.all([reconcileRegister(db, registerJournal(f.caDir, f.caCertPem), ctx.audit), reconcileRegister(db, registerJournal(f.caDir, f.caCertPem), ctx.audit)]);
    t.same([a.failed, b.failed], [0, 0], 'a registration the other process made a moment ago is no failure (before on PostgreSQL: the whole run aborted)');
    t.ok(a.replayed + b.replayed >= 1, 'the lost certificate is registered again');
    t.ok(await db('hub_nodes').where({ node_id: '430600' }).first('node_id'), 'and its node');
  });
}

t.test('the journal file: a torn last line does not swallow the next fact; lines are read once; the CA is named by its key', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'journal-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const ca = createCaMaterial({ cn: 'Journal CA' });
  const j = registerJournal(dir, ca.certPem);
  const at = new Date().toISOString();
  j.append([{ kind: 'node.revoked', nodeId: '430100', at }]);
  appendFileSync(j.file, '{"kind":"node.revoked","nodeId":"43'); // a crash in the middle of an append
  j.append([{ kind: 'node.revoked', nodeId: '430200', at }]);
  const r = j.read();
  t.same(r.entries.map((e) => (e as { nodeId: string }).nodeId), ['430100', '430200'], 'the fact after the torn line is read (before: glued to it and skipped)');
  t.equal(r.skipped, 1, 'the torn fragment is one skipped line');
  t.ok(readFileSync(j.file, 'utf8').endsWith('\n'));
  t.equal(statSync(j.file).mode & 0o777, 0o600, 'the journal is made 0600: only the hub\'s user appends');
  // read again: only what was appended since is parsed; a half-written last line waits for its newline
  appendFileSync(j.file, `${JSON.stringify({ kind: 'node.revoked', nodeId: '430300', at, ca: j.ca })}\n{"kind":`);
  t.same(j.read().entries.map((e) => (e as { nodeId: string }).nodeId), ['430100', '430200', '430300']);
  t.equal(j.read().skipped, 1, 'the unfinished line is not counted yet');
  // a CA certificate re-issued over the same key keeps the journal; another CA's key does not
  const again = createCaCertificate({ cn: 'Journal CA', keyPair: { privateKeyPem: ca.keyPem, publicKeyPem: createPublicKey(ca.keyPem).export({ type: 'spki', format: 'pem' }).toString() }, notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + 86_400_000) });
  t.not(again, ca.certPem);
  t.equal(caTag(again), caTag(ca.certPem), 'same key, same tag');
  t.equal(registerJournal(dir, again).read().entries.length, 3, 'the re-issued CA reads the same journal');
  t.equal(registerJournal(dir, createCaMaterial().certPem).read().foreign, 3, 'another CA reads none of it');
  t.end();
});

t.test('a committed fact whose append fails is reported (ERR_REGISTER_JOURNAL), never thrown; a restricting one throws', (t) => {
  const caPem = makeCa().certPem;
  const j = registerJournal('/nonexistent-dir-for-the-journal', caPem);
  const seen: string[] = [];
  j.onError = (e, facts) => void seen.push(`${facts.length} ${(e as NodeJS.ErrnoException).code}`);
  j.appendCommitted([{ kind: 'node.enrolled', nodeId: '430100', grade: 2, at: new Date().toISOString() }]);
  t.same(seen, ['1 ENOENT']);
  t.equal(j.failures, 1);
  t.throws(() => j.append([{ kind: 'node.revoked', nodeId: '430100', at: new Date().toISOString() }]), { code: 'ERR_REGISTER_JOURNAL' }, 'a restricting fact is never lost silently');
  t.same(j.read(), { entries: [], skipped: 0, foreign: 0 }, 'a journal that does not exist reads as empty');
  // without a hub logger (the CLI): one JSON line on stderr with the code and the fix
  const plain = registerJournal('/nonexistent-dir-for-the-journal', caPem);
  const write = process.stderr.write;
  let out = '';
  process.stderr.write = ((chunk: string) => ((out += chunk), true)) as typeof process.stderr.write;
  try {
    plain.appendCommitted([{ kind: 'node.enrolled', nodeId: '430100', grade: 2, at: new Date().toISOString() }]);
  } finally {
    process.stderr.write = write;
  }
  t.match(out, /"code":"ERR_REGISTER_JOURNAL".*not protected against a restore of it — fix the directory/);
  t.end();
});
