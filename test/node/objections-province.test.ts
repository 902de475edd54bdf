/**
 * Objections and credit repair across the province, in process, against the real hub over real
 * mutual TLS, on each engine (hub and nodes on SQLite, then on PostgreSQL): an objection filed at
 * 常德 (430700) about a 长沙 (430100) record reaches 长沙 through the hub, the 异议中 mark is shown
 * at both, 长沙 decides it (never the filer; only the owner) and the result comes back to 常德;
 * a repair application at 长沙, its acceptance, and the record withdrawn (reason repair) at 常德.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { exampleRecord } from '../../protocol/catalog.js';
import { initCaDir } from '../../certs/ca-dir.js';
import { buildHubConfig, makeToken, startHub } from '../../hub/index.js';
import { buildApp } from '../../node/app.js';
import { enrollNode } from '../../node/exchange/enroll.js';
import { mintServiceToken } from '../../node/tokens.js';
import { engines, type Engine } from '../helpers/db.js';
import { eventually, nodeConfig } from './exchange-fixture.js';

const FAST = { pollIntervalMs: 100, batchMaxAgeMs: 20, checkpointIntervalMs: 60_000 };

async function province(t: { teardown(fn: () => unknown): void }, engine: Engine) {
  const dir = mkdtempSync(join(tmpdir(), 'objections-it-'));
  const caDir = join(dir, 'ca');
  const { certPem: caCertPem } = await initCaDir(caDir, { cn: 'Test Provincial Credit CA (objections)' });
  writeFileSync(join(dir, 'ca.pem'), caCertPem);
  const hubStore = await engine.open();
  const config = buildHubConfig({ dataDir: join(dir, 'hub'), caDir, listen: { host: '127.0.0.1', port: 0 }, rateLimit: { enabled: false }, logLevel: 'silent' }, {});
  const hub = await startHub({ config, db: hubStore.db });
  const closers: (() => Promise<void>)[] = [];
  t.teardown(async () => {
    for (const c of closers.reverse()) await c();
    await hub.close();
    await hubStore.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    hub,
    async node(nodeId: string, grade: number) {
      const dataDir = join(dir, `node-${nodeId}`, 'data');
      const token = (await makeToken(hubStore.db, hub.app.hubCtx.ca, { nodeId, grade, ttlMs: 3_600_000 })).token;
      await enrollNode({ dataDir, nodeId, hubUrl: hub.url, token, caCertPem });
      const store = await engine.open();
      const cfg = nodeConfig(dataDir, { url: hub.url, ...FAST }, nodeId);
      const app = await buildApp({ config: cfg, db: store.db });
      await app.ready();
      closers.push(async () => {
        await app.close();
        await store.close();
      });
      const auth = async (role: string, user: string) => ({ authorization: `Bearer ${(await mintServiceToken(store.db, cfg.jwtSecret, nodeId, { user, role: role as 'officer', clearance: 'restricted', ttlSeconds: 3600 })).token}` });
      const call = async (user: string, method: 'GET' | 'POST', url: string, payload?: unknown) => {
        const r = await app.inject({ method, url, headers: await auth(user === 'submitter' ? 'submitter' : 'officer', user), ...(payload === undefined ? {} : { payload: payload as object }) });
        return { status: r.statusCode, body: r.json() };
      };
      return { app, call };
    },
  };
}

for (const engine of await engines()) {
  t.test(`objection at 常德 about a 长沙 record, and a repair withdrawn everywhere (${engine.name})`, async (t) => {
    const p = await province(t, engine);
    const changsha = await p.node('430100', 3);
    const changde = await p.node('430700', 2);
    const cf = (n: number) => ({ type: 'CF', fields: { ...exampleRecord('CF').fields, decisionNo: `长市监处罚〔2026〕${n}号` } });
    const created = await changsha.call('submitter', 'POST', '/v1/records', [cf(101), cf(102)]);
    t.equal(created.status, 201);
    const [objected, repaired] = (created.body.records as { id: string }[]).map((r) => r.id) as [string, string];
    await eventually('both records at 常德', async () => ((await changde.call('bob', 'GET', `/v1/records/${repaired}`)).status === 200 && (await changde.call('bob', 'GET', `/v1/records/${objected}`)).status === 200 ? true : undefined));

    // 常德 files; its copy shows 异议中 at once, and the objection goes to 长沙 with a deadline in working days
    const filed = await changde.call('bob', 'POST', `/v1/records/${objected}/objections`, { grounds: '处罚决定已被复议撤销' });
    t.equal(filed.status, 201);
    t.equal(filed.body.ownerNode, '430100');
    t.equal(filed.body.filedNode, '430700');
    t.match(filed.body.dueDate, /^\d{4}-\d{2}-\d{2}$/);
    t.equal((await changde.call('bob', 'GET', `/v1/records/${objected}`)).body.disputedLabel, '异议中');
    const atOwner = await eventually('the objection at 长沙', async () => {
      const l = await changsha.call('carol', 'GET', '/v1/objections?status=open');
      return l.body.length === 1 ? l.body[0] : undefined;
    });
    t.equal(atOwner.id, filed.body.id, 'the same objection id at both nodes');
    t.equal(atOwner.filedBy, 'node:430700/user:bob');
    t.equal(atOwner.overdue, false);
    t.equal((await changsha.call('carol', 'GET', `/v1/records/${objected}`)).body.disputedLabel, '异议中', '长沙 shows the mark');
    t.same((await changsha.call('carol', 'GET', '/v1/objections?overdue=true')).body, [], 'nothing overdue');
    const subject = exampleRecord('CF').fields.uscc as string;
    await eventually('异议中 in a province-wide answer', async () => {
      const q = await changde.call('bob', 'GET', `/v1/subjects/${subject}?scope=province`);
      return (q.body.records as { id: string; disputedLabel?: string }[]).some((r) => r.id === objected && r.disputedLabel === '异议中') ? true : undefined;
    });
    t.pass('the hub answers the record with the owner\'s mark (shown as 异议中)');

    // only the owner decides
    const atFiler = await changde.call('dave', 'POST', `/v1/objections/${filed.body.id}/resolve`, { outcome: 'rejected', note: 'x' });
    t.equal(atFiler.status, 403);
    t.equal(atFiler.body.code, 'ERR_NOT_RECORD_OWNER');

    // 长沙 rejects; the result and the cleared mark come back to 常德
    const decided = await changsha.call('carol', 'POST', `/v1/objections/${filed.body.id}/resolve`, { outcome: 'rejected', note: '复议决定维持原处罚' });
    t.equal(decided.status, 200);
    t.equal(decided.body.status, 'rejected');
    t.notOk((await changsha.call('carol', 'GET', `/v1/records/${objected}`)).body.disputedLabel);
    const back = await eventually('the result at 常德', async () => {
      const l = (await changde.call('bob', 'GET', `/v1/records/${objected}/objections`)).body as { status: string; resolvedBy: string; resolutionNote: string }[];
      return l[0]?.status === 'rejected' ? l[0] : undefined;
    });
    t.equal(back.resolvedBy, 'node:430100/user:carol');
    t.equal(back.resolutionNote, '复议决定维持原处罚');
    const copy = (await changde.call('bob', 'GET', `/v1/records/${objected}`)).body;
    t.equal(copy.disputed, false, 'the mark is cleared at 常德');
    t.notOk(copy.disputedLabel);

    // a mark filed at the owner itself travels to 常德; the filer may not decide it (four-eyes)
    const own = await changsha.call('carol', 'POST', `/v1/records/${objected}/objections`, { grounds: '金额录入有误' });
    t.equal(own.status, 201);
    await eventually('the owner\'s mark at 常德', async () => ((await changde.call('bob', 'GET', `/v1/records/${objected}`)).body.disputedLabel === '异议中' ? true : undefined));
    const self = await changsha.call('carol', 'POST', `/v1/objections/${own.body.id}/resolve`, { outcome: 'rejected' });
    t.equal(self.status, 403);
    t.equal(self.body.code, 'ERR_OBJECTION_SELF_RESOLVE');

    // upheld at 长沙 (by another officer): the record is withdrawn everywhere and 常德 gets the result
    const second = await changde.call('bob', 'POST', `/v1/records/${objected}/objections`, { grounds: '处罚对象错误' });
    await eventually('the second objection at 长沙', async () => ((await changsha.call('erin', 'GET', `/v1/records/${objected}/objections`)).body.some((o: { id: string }) => o.id === second.body.id) ? true : undefined));
    const upheld = await changsha.call('erin', 'POST', `/v1/objections/${second.body.id}/resolve`, { outcome: 'upheld', note: '核实有误' });
    t.equal(upheld.body.status, 'upheld');
    const upheldThere = await eventually('the upheld result at 常德', async () => {
      const l = (await changde.call('bob', 'GET', `/v1/records/${objected}/objections`)).body as { id: string; status: string; resolvedBy: string }[];
      // the withdrawal may arrive first and close the objection ('closed'); the owner's result, coming after, says 'upheld'
      return l.find((o) => o.id === second.body.id && o.status === 'upheld');
    });
    t.match(upheldThere, { status: 'upheld', resolvedBy: 'node:430100/user:erin' });
    await eventually('the withdrawal at 常德', async () => ((await changde.call('bob', 'GET', `/v1/records/${objected}`)).body.withdrawnReason === 'objection-upheld' ? true : undefined));

    // credit repair: application → refusal needs a reason → acceptance → withdrawn (repair) at every node
    t.equal((await changde.call('bob', 'POST', `/v1/records/${repaired}/repairs`, { evidence: ['缴款书 2026-001'], commitment: '本单位承诺……' })).body.code, 'ERR_NOT_RECORD_OWNER', 'applications are decided at the owner');
    const applied = await changsha.call('carol', 'POST', `/v1/records/${repaired}/repairs`, { evidence: ['缴款书 2026-001', '整改报告 2026-07'], commitment: '本单位承诺已纠正失信行为，今后依法经营。' });
    t.equal(applied.status, 201);
    t.equal(applied.body.status, 'pending');
    t.match(applied.body.dueDate, /^\d{4}-\d{2}-\d{2}$/);
    t.equal((await changsha.call('carol', 'POST', `/v1/repairs/${applied.body.id}/decision`, { outcome: 'refused' })).body.code, 'ERR_REPAIR_REASON_REQUIRED');
    t.equal((await changsha.call('carol', 'POST', '/v1/repairs/0190c0de-0000-7000-8000-000000000000/decision', { outcome: 'accepted' })).body.code, 'ERR_REPAIR_NOT_FOUND');
    const accepted = await changsha.call('erin', 'POST', `/v1/repairs/${applied.body.id}/decision`, { outcome: 'accepted' });
    t.equal(accepted.status, 200);
    t.equal(accepted.body.status, 'accepted');
    t.equal((await changsha.call('erin', 'POST', `/v1/repairs/${applied.body.id}/decision`, { outcome: 'refused', reason: 'x' })).body.code, 'ERR_REPAIR_DECIDED');
    t.same((await changsha.call('carol', 'GET', '/v1/repairs?status=accepted')).body.map((r: { id: string }) => r.id), [applied.body.id], 'the decision is kept');
    const here = (await changsha.call('carol', 'GET', `/v1/records/${repaired}`)).body;
    t.equal(here.withdrawnReason, 'repair');
    const there = await eventually('the repair withdrawal at 常德', async () => {
      const r = (await changde.call('bob', 'GET', `/v1/records/${repaired}`)).body;
      return r.status === 'withdrawn' ? r : undefined;
    });
    t.equal(there.withdrawnReason, 'repair');
  });
}
