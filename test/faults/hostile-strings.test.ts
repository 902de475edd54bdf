/**
 * SQL injection, path traversal, NUL, lone surrogates and markup in every string a client controls,
 * on both engines: record fields (JSON and NDJSON), path parameters, query parameters, objection
 * and withdrawal texts at the node; record fields, timestamps, query actor/purpose/subject at the
 * hub. Each is stored and read back verbatim (after the validator's documented trim) or refused
 * with its code — never executed, never a 500 — and the tables and audit chains are intact after.
 */
import t, { type Test } from 'tap';
import { hubFields } from '../helpers/at-rest.js';
import type { Knex } from 'knex';
import { GENESIS_HASH } from '../../audit/index.js';
import { fromRow, hashEntry, type EntryRow } from '../../audit/entry.js';
import { hasLoneSurrogate } from '../../protocol/canonical-json.js';
import type { DistributionPayload, ReceiptPayload } from '../../protocol/exchange.js';
import { engines } from '../helpers/db.js';
import { hubFixture, wire } from '../hub/fixture.js';
import { nodeFixture, record } from '../node/app-fixture.js';
import { HOSTILE_STRINGS, sealRaw, tableNames } from './hostile-support.js';

// CF free-text columns (处罚类别 is a value set since catalog 2027.1; 违法事实 is free text).
const TEXT_FIELDS = ['subjectName', 'legalRep', 'violationFacts', 'content', 'authority', 'sourceName'] as const;
const hasNul = (s: string) => s.includes('\u0000');
/** Percent-encodes as a browser would; a lone surrogate goes as its WTF-8 bytes (not UTF-8: the router refuses them). */
const enc = (s: string) => (hasLoneSurrogate(s) ? Buffer.from(s.replace(/[\ud800-\udfff]/g, '\u0001')).toString('hex').replace(/(..)/g, '%$1').replace(/%01/g, '%ED%A0%80') : encodeURIComponent(s));

/** Every audit entry links to the one before and matches its hash; returns how many there are. */
async function auditIntact(t: Test, db: Knex): Promise<number> {
  const rows = ((await db('audit_log').orderBy('seq')) as EntryRow[]).map(fromRow);
  let prev = GENESIS_HASH;
  let ok = true;
  rows.forEach((e, i) => {
    const { leafHash, ...fields } = e;
    if (e.seq !== i + 1 || hashEntry(fields) !== leafHash || e.prevHash !== prev) ok = false;
    prev = leafHash;
  });
  t.ok(ok && rows.length > 0, `audit chain of ${rows.length} entries intact`);
  return rows.length;
}

for (const engine of await engines()) {
  t.test(`node local API (${engine.name})`, async (t) => {
    const f = await nodeFixture(t, { engine });
    const tables = await tableNames(f.db);
    const h = await f.auth('officer', 'internal');
    // another officer decides objections: the one who filed may not (four-eyes, issue 15)
    const h2 = { authorization: `Bearer ${await f.token('officer', 'internal', { user: 'second-officer' })}` };
    const ids: string[] = [];
    let accepted = 0;
    for (const [i, s] of HOSTILE_STRINGS.entries()) {
      const over = Object.fromEntries(TEXT_FIELDS.map((k) => [k, s]));
      const res = await f.app.inject({ method: 'POST', url: '/v1/records', headers: h, payload: record('CF', { ...over, decisionNo: `H-${i}-${s}` }) });
      if (hasLoneSurrogate(s)) {
        t.equal(res.statusCode, 422, `record with ${JSON.stringify(s)}: refused`);
        t.same(new Set(res.json().details.map((d: { code: string }) => d.code)), new Set(['ERR_FIELD_TYPE']), 'as ERR_FIELD_TYPE, field by field');
        continue;
      }
      t.equal(res.statusCode, 201, `record with ${JSON.stringify(s)}: stored`);
      const id = res.json().records[0].id as string;
      ids.push(id);
      accepted++;
      const back = await f.app.inject({ url: `/v1/records/${id}`, headers: h });
      t.equal(back.statusCode, 200);
      t.same(TEXT_FIELDS.map((k) => back.json().fields[k]), TEXT_FIELDS.map(() => s.trim()), 'read back verbatim (trimmed, as documented)');
      t.equal(back.json().fields.decisionNo, `H-${i}-${s}`.trim());
    }
    const id = ids[0]!;
    const seen = new Map<string, number>();
    const note = (status: number, code: string | undefined) => void seen.set(`${status} ${code}`, (seen.get(`${status} ${code}`) ?? 0) + 1);
    for (const s of HOSTILE_STRINGS) {
      const bad = hasNul(s) || hasLoneSurrogate(s);
      const byId = await f.app.inject({ url: `/v1/records/${enc(s)}`, headers: h });
      note(byId.statusCode, byId.json().code);
      t.ok(byId.statusCode === 404 || (bad && byId.statusCode === 400), `GET /v1/records/${JSON.stringify(s)}: ${byId.statusCode} ${byId.json().code}`);
      t.equal(byId.json().code, byId.statusCode === 404 ? 'ERR_RECORD_NOT_FOUND' : 'ERR_REQUEST_INVALID');
      const subject = await f.app.inject({ url: `/v1/subjects/${enc(s)}?includeWithdrawn=true`, headers: h });
      note(subject.statusCode, subject.json().code);
      t.ok(['ERR_UNKNOWN_IDENTIFIER', 'ERR_INVALID_USCC', 'ERR_INVALID_RESIDENT_ID', 'ERR_REQUEST_INVALID', 'ERR_ROUTE_NOT_FOUND'].includes(subject.json().code) && subject.statusCode >= 400 && subject.statusCode < 500, `GET /v1/subjects/${JSON.stringify(s)}: ${subject.statusCode} ${subject.json().code}`);
      const withPurpose = await f.app.inject({ url: `/v1/records/${id}?purpose=${enc(s)}`, headers: h });
      note(withPurpose.statusCode, withPurpose.json().code);
      // A lone surrogate cannot travel in a URL: its bytes arrive as text the purpose may hold.
      t.equal(withPurpose.statusCode, hasNul(s) ? 400 : 200, `?purpose=${JSON.stringify(s)}`);
      const obj = await f.app.inject({ method: 'POST', url: `/v1/records/${id}/objections`, headers: h, payload: { grounds: s } });
      note(obj.statusCode, obj.json().code);
      t.equal(obj.statusCode, bad ? 400 : 201, `objection grounds ${JSON.stringify(s)}`);
      if (!bad) {
        t.equal(obj.json().grounds, s, 'grounds stored verbatim');
        const resolved = await f.app.inject({ method: 'POST', url: `/v1/objections/${obj.json().id}/resolve`, headers: h2, payload: { outcome: 'rejected', note: s } });
        t.equal(resolved.statusCode, 200);
        t.equal(resolved.json().resolutionNote, s, 'note stored verbatim');
      } else t.equal(obj.json().code, 'ERR_REQUEST_INVALID');
    }
    for (const [i, s] of HOSTILE_STRINGS.entries()) {
      const w = await f.app.inject({ method: 'POST', url: `/v1/records/${ids[i % ids.length]}/withdraw`, headers: h, payload: { reason: 'correction', note: s } });
      note(w.statusCode, w.json().code);
      const bad = hasNul(s) || hasLoneSurrogate(s);
      t.ok(bad ? w.statusCode === 400 && w.json().code === 'ERR_REQUEST_INVALID' : w.statusCode === 200 || w.json().code === 'ERR_RECORD_NOT_ACTIVE', `withdraw note ${JSON.stringify(s)}: ${w.statusCode}`);
    }
    const lines = HOSTILE_STRINGS.map((s, i) => JSON.stringify(record('CF', { ...Object.fromEntries(TEXT_FIELDS.map((k) => [k, s])), decisionNo: `N-${i}` })));
    const imp = await f.app.inject({ method: 'POST', url: '/v1/records/import?type=CF', headers: { ...h, 'content-type': 'application/x-ndjson' }, payload: lines.join('\n') });
    t.equal(imp.statusCode, 200);
    const lone = HOSTILE_STRINGS.filter(hasLoneSurrogate).length;
    t.match(imp.json(), { lines: HOSTILE_STRINGS.length, accepted: HOSTILE_STRINGS.length - lone, rejected: lone }, 'NDJSON: the lone-surrogate lines rejected, the rest stored');
    accepted += HOSTILE_STRINGS.length - lone;
    t.pass(`statuses seen: ${[...seen].map(([k, n]) => `${k} ×${n}`).join(', ')}`);
    t.same(await tableNames(f.db), tables, 'no table dropped or added');
    t.equal(Number((await f.db('node_records').count({ n: '*' }).first())?.n), accepted, 'every stored record is there, nothing deleted');
    await auditIntact(t, f.db);
    t.equal((await f.app.inject({ url: '/healthz' })).statusCode, 200);
  });

  t.test(`hub: records, timestamps and queries from an enrolled node (${engine.name})`, async (t) => {
    const f = await hubFixture(t, { engine });
    const db = f.hub.app.hubCtx.db;
    const tables = await tableNames(db);
    const cs = await f.enrol('430100', 3);
    const reader = await f.enrol('430700', 1);
    const post = async (type: 'batch' | 'query', payload: unknown) => {
      const env = await sealRaw({ type, from: cs, recipientCertPem: f.hubCertPem, seq: type === 'batch' ? cs.seq : 1, plaintext: JSON.stringify(payload) });
      const r = await f.call(cs.agent, 'POST', type === 'batch' ? '/v1/batches' : '/v1/queries', env);
      if (type === 'batch' && (r.status === 200 || r.json.details?.receipt)) cs.seq++;
      return r;
    };
    const stored: { id: string; s: string; withdrawn?: boolean }[] = [];
    for (const s of HOSTILE_STRINGS) {
      const rec = wire('CF', { fields: Object.fromEntries(TEXT_FIELDS.map((k) => [k, s])) });
      const r = await post('batch', { records: [rec], withdrawals: [] });
      if (hasLoneSurrogate(s)) {
        t.equal(r.status, 400, `batch with ${JSON.stringify(s)}: refused`);
        t.equal(r.json.code, 'ERR_ENVELOPE_MALFORMED');
        t.equal((await f.openAs<ReceiptPayload>(cs, r.json.details.receipt)).payload.outcome, 'refused', 'with a refusal receipt (seq used)');
        continue;
      }
      t.equal(r.status, 200, `batch with ${JSON.stringify(s)}: ${r.json.code ?? 'receipt'}`);
      t.same((await f.openAs<ReceiptPayload>(cs, r.json)).payload.accepted, [rec.id]);
      const row = await db('hub_records').where({ id: rec.id }).first();
      t.same(TEXT_FIELDS.map((k) => hubFields(db, row)[k]), TEXT_FIELDS.map(() => s.trim()), 'stored verbatim (trimmed)');
      stored.push({ id: rec.id, s });
      const ts = `2026-11-28T08:00:00.000Z${s}`.slice(0, 40);
      const odd = await post('batch', { records: [{ ...wire('XK'), createdAt: ts }], withdrawals: [{ id: rec.id, reason: 'repair', at: ts }] });
      const bad = hasNul(ts) || ts.length > 30;
      t.equal(odd.status, bad ? 400 : 200, `createdAt/at ${JSON.stringify(ts)}: ${odd.json.code ?? 'receipt'}`);
      if (bad) t.equal(odd.json.code, 'ERR_ENVELOPE_MALFORMED');
      else stored.at(-1)!.withdrawn = true;
      const q = await post('query', { subject: String(rec.fields.uscc), actor: `user:${s}`, purpose: s, clearance: 'restricted' });
      t.equal(q.status, hasNul(s) ? 400 : 200, `query actor/purpose ${JSON.stringify(s)}: ${q.json.code ?? 'answered'}`);
      const subj = await post('query', { subject: `${s}${'X'.repeat(18)}`.slice(0, 18), actor: 'user:a', clearance: 'public' });
      t.equal(subj.status, 400, `query subject ${JSON.stringify(s)}`);
      t.equal(subj.json.code, 'ERR_ENVELOPE_MALFORMED');
    }
    const feed = await f.call(reader.agent, 'GET', '/v1/distributions?after=0&limit=2000');
    t.equal(feed.status, 200, 'the feed carries them to another node');
    const items = (await f.openAs<DistributionPayload>(reader, feed.json)).payload.items;
    for (const { id, s, withdrawn } of stored) {
      const rec = items.find((i) => i.kind === 'record' && i.record.id === id);
      if (withdrawn) t.equal(rec, undefined, `withdrawn, so only a tombstone: ${JSON.stringify(s)}`);
      else t.equal(rec?.kind === 'record' ? rec.record.fields.content : undefined, s.trim(), `distributed verbatim: ${JSON.stringify(s)}`);
    }
    t.same(await tableNames(db), tables, 'no table dropped or added');
    await auditIntact(t, db);
    t.equal((await f.call(f.anonymous, 'GET', '/healthz')).status, 200);
  });
}
