/**
 * The node's API with the exchange wired in (the real app, its loops running against a scripted
 * hub): GET /v1/subjects/:code?scope=province seals the caller's actor, clearance and purpose to
 * the hub and shows the answer under local rules (masked, withheld, audited); 503
 * ERR_HUB_UNAVAILABLE when the hub cannot answer or the node has no hub; GET /v1/exchange/status;
 * a node configured for a hub but not enrolled refuses to start; logs carry no subject codes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import t from 'tap';
import { exampleRecord } from '../../protocol/catalog.js';
import { uuidv7 } from '../../protocol/crypto.js';
import type { WireRecord } from '../../protocol/exchange.js';
import { buildApp } from '../../node/app.js';
import { makeCa } from '../helpers/pki.js';
import { startFakeHub } from './exchange-fake-hub.js';
import { enrolDir, eventually, nodeApp, nodeConfig } from './exchange-fixture.js';
import { nodeFixture } from './app-fixture.js';

const SUBJECT = exampleRecord('CF').fields.uscc as string;

function wire(type: string, n: number, classification: WireRecord['classification']): WireRecord & { sourceNode: string; status: 'active' } {
  const e = exampleRecord(type);
  const at = new Date().toISOString();
  return { id: uuidv7(), type, classification, fields: { ...e.fields, decisionNo: `省〔2026〕${n}号` }, createdAt: at, updatedAt: at, sourceNode: '430700', status: 'active' };
}

async function setup(t: { teardown(fn: () => unknown): void }) {
  const ca = makeCa();
  const hub = await startFakeHub(ca);
  const dir = mkdtempSync(join(tmpdir(), 'node-exchange-api-'));
  enrolDir(dir, { ca, hubCertPem: hub.identity.certPem, hubUrl: hub.url });
  const lines: string[] = [];
  const node = await nodeApp(dir, { url: hub.url, pollIntervalMs: 50, batchMaxAgeMs: 10 });
  t.teardown(async () => {
    await node.close();
    await hub.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { ca, hub, dir, node, lines };
}

t.test('province query: the payload names the caller; the answer is shown under local rules and audited', async (t) => {
  const { hub, node } = await setup(t);
  const pub = wire('CF', 1, 'public');
  const shared = wire('SXBZX', 2, 'shared');
  const restricted = wire('XK', 3, 'restricted');
  hub.answerQuery = () => ({ records: [pub, shared, restricted], withheld: [{ classification: 'restricted', count: 2, code: 'ERR_PURPOSE_REQUIRED' }] });

  const res = await node.app.inject({ method: 'GET', url: `/v1/subjects/${SUBJECT}?scope=province`, headers: await node.auth('query', 'public', 'bob') });
  t.equal(res.statusCode, 200);
  const body = res.json();
  t.same(hub.queries.at(-1), { from: '430100', payload: { subject: SUBJECT, actor: 'user:bob', clearance: 'public' } }, 'actor and clearance travel; no purpose given');
  t.equal(body.scope, 'province');
  t.same(body.records.map((r: { id: string }) => r.id).sort(), [pub.id, shared.id].sort(), 'public and shared shown');
  t.ok(body.records.every((r: { masked: boolean; sourceNode: string }) => r.masked && r.sourceNode === '430700'), 'the masked view for a public clearance, with the owning node');
  t.same(body.withheld.sort((a: { code: string }, b: { code: string }) => a.code.localeCompare(b.code)), [
    { classification: 'restricted', code: 'ERR_CLASSIFICATION_DENIED', count: 1 },
    { classification: 'restricted', code: 'ERR_PURPOSE_REQUIRED', count: 2 },
  ], 'what the hub withheld and what local rules held back, with counts');
  t.ok(body.answeredAt);

  const full = await node.app.inject({ method: 'GET', url: `/v1/subjects/${SUBJECT}?scope=province&purpose=${encodeURIComponent('行政审批 2026-1')}`, headers: await node.auth('query', 'restricted', 'carol') });
  t.equal(full.statusCode, 200);
  t.equal(full.json().records.length, 3, 'restricted released with clearance and purpose');
  t.ok(full.json().records.every((r: { masked: boolean }) => !r.masked));
  t.same(hub.queries.at(-1)!.payload, { subject: SUBJECT, actor: 'user:carol', clearance: 'restricted', purpose: '行政审批 2026-1' });
  const db = node.app.nodeCtx.db;
  const reads = await db('audit_log').where({ action: 'record.read', object: restricted.id });
  t.equal(reads.length, 1, 'the restricted release audited with its purpose');
  t.match(reads[0].reason, /^行政审批 2026-1 src=127\.0\.0\.1 sid=[0-9a-f]{16}$/, 'with the source address and session');
  const q = await db('audit_log').where({ action: 'query.province' }).orderBy('seq');
  t.equal(q.length, 2);
  t.match(q[1].object, /^hmac-sha256:[0-9a-f]{64}$/, 'the subject as a keyed handle, never the code');

  const bad = await node.app.inject({ method: 'GET', url: '/v1/subjects/9143010200000A1B4X?scope=province', headers: await node.auth('query', 'public') });
  t.equal(bad.statusCode, 422);
  t.equal(hub.queries.length, 2, 'an invalid code never reaches the hub');
  const denied = await node.app.inject({ method: 'GET', url: `/v1/subjects/${SUBJECT}?scope=province`, headers: await node.auth('submitter', 'public') });
  t.equal(denied.json().code, 'ERR_ROLE_DENIED');
});

t.test('hub unreachable → 503 ERR_HUB_UNAVAILABLE (audited); no hub configured → 503 too', async (t) => {
  const { hub, node } = await setup(t);
  hub.unavailable = 1_000_000; // the loops poll too
  const res = await node.app.inject({ method: 'GET', url: `/v1/subjects/${SUBJECT}?scope=province`, headers: await node.auth('query', 'public') });
  t.equal(res.statusCode, 503);
  t.match(res.json(), { code: 'ERR_HUB_UNAVAILABLE', details: { hubCode: 'ERR_NOT_READY', status: 503 } });
  hub.unavailable = 0;
  await hub.close();
  const down = await node.app.inject({ method: 'GET', url: `/v1/subjects/${SUBJECT}?scope=province`, headers: await node.auth('query', 'public') });
  t.match(down.json(), { code: 'ERR_HUB_UNAVAILABLE', details: { hubCode: 'ERR_HUB_UNAVAILABLE' } });
  const failures = await node.app.nodeCtx.db('audit_log').where({ action: 'query.province', outcome: 'failure' });
  t.equal(failures.length, 2);

  const standalone = await nodeFixture(t);
  const s = await standalone.app.inject({ method: 'GET', url: `/v1/subjects/${SUBJECT}?scope=province`, headers: await standalone.auth('query', 'public') });
  t.equal(s.statusCode, 503);
  t.match(s.json(), { code: 'ERR_HUB_UNAVAILABLE', details: { reason: 'not-configured' } });
  const local = await standalone.app.inject({ method: 'GET', url: `/v1/subjects/${SUBJECT}?scope=local`, headers: await standalone.auth('query', 'public') });
  t.equal(local.statusCode, 200, 'scope=local is the store, as without scope');
  const st = await standalone.app.inject({ method: 'GET', url: '/v1/exchange/status', headers: await standalone.auth('auditor', 'public') });
  t.equal(st.json().code, 'ERR_HUB_UNAVAILABLE');
});

t.test('a query whose connection is cut under it (a hub process killed behind the balancer) is asked once more as a new envelope; twice cut → 503', async (t) => {
  const { hub, node } = await setup(t);
  const pub = wire('CF', 1, 'public');
  hub.answerQuery = () => ({ records: [pub], withheld: [] });
  hub.loseQueries = 1;
  const res = await node.app.inject({ method: 'GET', url: `/v1/subjects/${SUBJECT}?scope=province`, headers: await node.auth('query', 'public') });
  t.equal(res.statusCode, 200, 'the user sees the answer, not the lost connection');
  t.same(res.json().records.map((r: { id: string }) => r.id), [pub.id]);
  t.equal(hub.queries.length, 2, 'the hub was asked twice');
  const db = node.app.nodeCtx.db;
  const q = await db('audit_log').where({ action: 'query.province' }).orderBy('seq');
  t.equal(q.length, 1, 'one audited query');
  t.equal(q[0].outcome, 'success');
  t.match(q[0].reason, /query=\S+ retried=\S+ /, 'naming both envelopes');
  const sent = await db('node_exchange_evidence').where({ type: 'query', direction: 'sent' });
  t.equal(sent.length, 2, 'both envelopes kept as evidence');
  t.not(sent[0].envelope_id, sent[1].envelope_id, 'a new envelope id for the second attempt');

  hub.loseQueries = 2;
  const twice = await node.app.inject({ method: 'GET', url: `/v1/subjects/${SUBJECT}?scope=province`, headers: await node.auth('query', 'public') });
  t.equal(twice.statusCode, 503, 'retried once only');
  t.match(twice.json(), { code: 'ERR_HUB_UNAVAILABLE', details: { hubCode: 'ERR_HUB_UNAVAILABLE', cause: 'UND_ERR_SOCKET' } });
  const failed = await db('audit_log').where({ action: 'query.province', outcome: 'failure' });
  t.equal(failed.length, 1);
  t.match(failed[0].reason, /^ERR_HUB_UNAVAILABLE ERR_HUB_UNAVAILABLE cause=UND_ERR_SOCKET query=\S+ retried=\S+ /, 'the transport\'s cause and both envelopes audited');
  t.equal(hub.queries.length, 4);
  t.equal(hub.loseQueries, 0);

  hub.busyQueries = 1; // only the query: the node's background loops (sender, puller, witness) may call the hub meanwhile
  const busy = await node.app.inject({ method: 'GET', url: `/v1/subjects/${SUBJECT}?scope=province`, headers: await node.auth('query', 'public') });
  t.equal(busy.statusCode, 503, 'an answer (503 from the hub) is not retried');
  t.equal(hub.queries.length, 4, 'the refused request never reached the query route');
});

t.test('status: records posted reach the hub by themselves; the status says so', async (t) => {
  const { hub, node } = await setup(t);
  const e = exampleRecord('CF');
  const post = await node.app.inject({ method: 'POST', url: '/v1/records', headers: await node.auth('submitter', 'public'), payload: [1, 2, 3].map((n) => ({ type: 'CF', fields: { ...e.fields, decisionNo: `态〔2026〕${n}号` } })) });
  t.equal(post.statusCode, 201);
  const status = await eventually('the batch to be acknowledged', async () => {
    const r = await node.app.inject({ method: 'GET', url: '/v1/exchange/status', headers: await node.auth('auditor', 'public') });
    const s = r.json();
    return s.batches?.accepted >= 1 && s.outbox.pending === 0 && s.batches.pending === 0 ? s : undefined;
  });
  t.match(status, { nodeId: '430100', hubUrl: hub.url, grade: 3, outbox: { pending: 0 }, batches: { pending: 0, refused: 0 }, lastError: null });
  t.ok(Date.parse(status.certificate.renewFrom) < Date.parse(status.certificate.notAfter));
  t.equal([...hub.batches.values()].reduce((n, b) => n + b.payload.records.length, 0), 3, 'each record sent once');
  const officer = await node.app.inject({ method: 'GET', url: '/v1/exchange/status', headers: await node.auth('officer', 'internal') });
  t.equal(officer.statusCode, 200, 'the officer reads the status too (operational, no record content): the monitor of demo and fault cluster');
  const denied = await node.app.inject({ method: 'GET', url: '/v1/exchange/status', headers: await node.auth('query', 'public') });
  t.equal(denied.json().code, 'ERR_ROLE_DENIED', 'auditor and officer only');
});

t.test('a node configured for a hub but not enrolled refuses to start, naming the key', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'node-unenrolled-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const config = nodeConfig(dir, { url: 'https://127.0.0.1:1' });
  await t.rejects(buildApp({ config }), { code: 'ERR_CONFIG_INVALID', details: { key: 'hub' } });
});

t.test('exchange logs carry no subject codes or names', async (t) => {
  const ca = makeCa();
  const hub = await startFakeHub(ca);
  const dir = mkdtempSync(join(tmpdir(), 'node-exchange-log-'));
  enrolDir(dir, { ca, hubCertPem: hub.identity.certPem, hubUrl: hub.url });
  const lines: string[] = [];
  const sink = new Writable({ write: (c, _e, cb) => (lines.push(String(c)), cb()) });
  const config = nodeConfig(dir, { url: hub.url, pollIntervalMs: 50, batchMaxAgeMs: 10 }, '430100', { logLevel: 'debug' });
  const app = await buildApp({ config, logStream: sink });
  await app.ready();
  t.teardown(async () => {
    await app.close();
    await hub.close();
    rmSync(dir, { recursive: true, force: true });
  });
  hub.distributions.push({ cursor: 1, kind: 'record', sourceNode: '430700', record: wire('CF', 9, 'public') });
  hub.answerQuery = () => ({ records: [wire('CF', 10, 'public')], withheld: [] });
  const { mintServiceToken } = await import('../../node/tokens.js');
  const auth = { authorization: `Bearer ${(await mintServiceToken(app.nodeCtx.db, config.jwtSecret, '430100', { user: 'dan', role: 'officer', clearance: 'restricted', ttlSeconds: 600 })).token}` };
  const e = exampleRecord('CF');
  await app.inject({ method: 'POST', url: '/v1/records', headers: auth, payload: { type: 'CF', fields: { ...e.fields, decisionNo: '志〔2026〕1号' } } });
  await app.inject({ method: 'GET', url: `/v1/subjects/${SUBJECT}?scope=province`, headers: auth });
  await eventually('a batch and a distribution', async () => (hub.batches.size > 0 && (await app.nodeCtx.db('node_records').where({ source_node: '430700' })).length > 0 ? true : undefined));
  hub.unavailable = 1_000_000;
  await eventually('a logged failure', async () => (lines.some((l) => /failed; retrying/.test(l)) ? true : undefined));
  const log = lines.join('');
  t.match(log, /hub exchange: batch accepted/);
  t.match(log, /distribution applied/);
  t.notOk(log.includes(SUBJECT), 'no USCC');
  t.notOk(log.includes(e.fields.subjectName as string) || log.includes(e.fields.legalRep as string), 'no names');
});
